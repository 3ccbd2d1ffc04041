// The app's remote engine over the real client (native-models/remote) against the strict OpenAI-compatible stand-in
// on loopback: the same StreamMessages as the local engine, the capture sent at the ask's detail, follow-ups in the
// same conversation, cancel hanging up, and every failure one line that names the server.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EngineAskRequest, EngineLike } from '../../electron/main/app.js';
import { RemoteEngine, type ServerChoice } from '../../electron/main/remote-engine.js';
import type { StreamMessage } from '../../electron/shared/ipc.js';
import { connectServer, listServerModels } from '../../native-models/remote/remote-model.js';
import { prepareServerImage } from '../../native-models/remote/server-image.js';
import { writeScreenshotLike } from '../support/images.js';
import { startStandIn, type StandIn } from '../support/openai-stand-in.js';

let root: string;
let png: Uint8Array;
let standIn: StandIn;
const MODEL = 'Qwen/Qwen2.5-VL-7B-Instruct';

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-remote-engine-'));
  png = new Uint8Array(await readFile(await writeScreenshotLike(path.join(root, 'screen.png'), 1280, 720)));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
afterEach(async () => {
  await standIn?.close();
});

function engineFor(server: ServerChoice | undefined, apiKey?: string) {
  return new RemoteEngine({
    // A short watchdog, so a stalled server fails the test's question quickly.
    client: { listServerModels, connectServer: (options) => connectServer({ ...options, prepareImage: prepareServerImage, stallTimeoutMs: 500 }) },
    server: () => server,
    apiKey: () => apiKey,
  });
}

const request = (overrides: Partial<EngineAskRequest> = {}): EngineAskRequest => ({
  question: 'What does this error mean?',
  image: png,
  detail: 'low',
  conversationId: 'c1',
  followUp: false,
  options: { maxNewTokens: 32 },
  ...overrides,
});

async function collect(stream: AsyncIterable<StreamMessage>): Promise<StreamMessage[]> {
  const out: StreamMessage[] = [];
  for await (const message of stream) out.push(message);
  return out;
}

describe('the remote engine against an OpenAI-compatible server', () => {
  it('streams the answer as StreamMessages, with the server and model in the figures; a follow-up continues', async () => {
    standIn = await startStandIn({ mode: 'vllm', answer: 'A missing semicolon.', apiKey: 'sk-good' });
    const engine = engineFor({ baseUrl: standIn.baseUrl, model: MODEL }, 'sk-good');
    const messages = await collect(engine.ask(request(), new AbortController().signal));
    const text = messages.filter((m) => m.type === 'token').map((m) => (m.type === 'token' ? m.text : '')).join('');
    expect(text).toBe('A missing semicolon.');
    const done = messages.at(-1);
    expect(done?.type).toBe('done');
    expect(done?.type === 'done' && done.stats).toMatchObject({ provider: 'remote', server: { baseUrl: standIn.baseUrl, model: MODEL }, stopReason: 'eos' });
    const chat = standIn.requests.filter((r) => r.path.endsWith('/chat/completions'));
    expect(chat).toHaveLength(1);
    expect(chat[0]!.headers.authorization).toBe('Bearer sk-good');
    expect(chat[0]!.images).toHaveLength(1);

    await collect(engine.ask(request({ question: 'And how do I fix it?', followUp: true, image: undefined }), new AbortController().signal));
    const followUp = standIn.requests.filter((r) => r.path.endsWith('/chat/completions'))[1]!;
    // The server keeps no state: the follow-up carries the image, the first question and its answer.
    expect(followUp.images).toHaveLength(1);
    expect(JSON.stringify(followUp.body)).toContain('A missing semicolon.');
    await engine.stop();
  });

  it('sends the capture at the detail asked: high detail sends more pixels than low', async () => {
    standIn = await startStandIn({ mode: 'ollama' });
    const engine = engineFor({ baseUrl: standIn.baseUrl, model: 'qwen2.5vl:7b' });
    await collect(engine.ask(request({ detail: 'low' }), new AbortController().signal));
    await collect(engine.ask(request({ detail: 'high', conversationId: 'c2' }), new AbortController().signal));
    const [low, high] = standIn.requests.filter((r) => r.path.endsWith('/chat/completions')).map((r) => r.images[0]!);
    expect(high!.width * high!.height).toBeGreaterThan(low!.width * low!.height);
  });

  it('reads nothing ahead and reports no progress', () => {
    const engine: EngineLike = engineFor({ baseUrl: 'http://127.0.0.1:9/v1', model: MODEL });
    const progress: unknown[] = [];
    const handle = engine.readAhead({ image: png, detail: 'low', useCache: true }, (p) => progress.push(p));
    expect(handle.id).toBe('remote-none');
    handle.cancel();
    expect(progress).toEqual([]);
  });

  it('cancel aborts the request: the server sees the client hang up', async () => {
    standIn = await startStandIn({ mode: 'vllm', behaviour: 'stall', answer: 'one two three four' });
    const engine = new RemoteEngine({
      client: { listServerModels, connectServer: (options) => connectServer({ ...options, prepareImage: prepareServerImage, stallTimeoutMs: 60_000 }) },
      server: () => ({ baseUrl: standIn.baseUrl, model: MODEL }),
      apiKey: () => undefined,
    });
    const controller = new AbortController();
    const seen: StreamMessage[] = [];
    const run = (async () => {
      for await (const message of engine.ask(request(), controller.signal)) {
        seen.push(message);
        if (message.type === 'token') controller.abort();
      }
    })();
    await run.catch(() => undefined);
    expect(seen.some((m) => m.type === 'token')).toBe(true);
    const last = seen.at(-1);
    if (last?.type === 'done') expect(last.stats?.stopReason).toBe('cancelled');
    await expect.poll(() => standIn.hangUps()).toBe(1);
  });

  const failures: Array<[string, (s: StandIn) => { server: ServerChoice; apiKey?: string }, RegExp]> = [
    ['a wrong key', (s) => ({ server: { baseUrl: s.baseUrl, model: MODEL }, apiKey: 'sk-wrong' }), /key/i],
    ['a model it does not serve', (s) => ({ server: { baseUrl: s.baseUrl, model: 'llama-3-70b' }, apiKey: 'sk-good' }), /does not serve the model "llama-3-70b"/],
  ];
  it.each(failures)('%s: one line naming the server and the fix', async (_what, choose, pattern) => {
    standIn = await startStandIn({ mode: 'vllm', apiKey: 'sk-good' });
    const { server, apiKey } = choose(standIn);
    const error = await collect(engineFor(server, apiKey).ask(request(), new AbortController().signal)).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toMatch(pattern);
    expect(message).toContain(standIn.address);
    expect(message).not.toContain('\n');
  });

  it.each(['stall', 'malformed'] as const)('a server that sends a %s stream: one line naming the server', async (behaviour) => {
    standIn = await startStandIn({ mode: 'vllm', behaviour, answer: 'one two three' });
    const error = await collect(engineFor({ baseUrl: standIn.baseUrl, model: MODEL }).ask(request(), new AbortController().signal)).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain(standIn.address);
    expect((error as Error).message).not.toContain('\n');
  });

  it('a server that is down: one line naming it', async () => {
    standIn = await startStandIn({ mode: 'vllm' });
    const { baseUrl, address } = standIn;
    await standIn.close();
    const error = await collect(engineFor({ baseUrl, model: MODEL }).ask(request(), new AbortController().signal)).catch((e: unknown) => e as Error);
    expect((error as Error).message).toContain(address);
    expect((error as Error).message).not.toContain('\n');
  });

  it('a follow-up after the server changed is refused, not sent to the new one', async () => {
    standIn = await startStandIn({ mode: 'ollama' });
    let server: ServerChoice = { baseUrl: standIn.baseUrl, model: 'qwen2.5vl:7b' };
    const engine = new RemoteEngine({ client: { listServerModels, connectServer: (options) => connectServer({ ...options, prepareImage: prepareServerImage }) }, server: () => server, apiKey: () => undefined });
    await collect(engine.ask(request(), new AbortController().signal));
    server = { ...server, model: 'llava:13b' };
    await expect(collect(engine.ask(request({ followUp: true, image: undefined }), new AbortController().signal))).rejects.toThrow(/another server, model or key/);
    expect(standIn.requests.filter((r) => r.path.endsWith('/chat/completions'))).toHaveLength(1);
  });

  it('no server confirmed: refuses in one line and sends nothing', async () => {
    await expect(collect(engineFor(undefined).ask(request(), new AbortController().signal))).rejects.toThrow(/^No server chosen yet/);
  });
});
