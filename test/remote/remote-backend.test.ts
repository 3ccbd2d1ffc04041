/**
 * The remote backend (native-models/remote) against the strict stand-in (test/support/openai-stand-in.ts) over real
 * HTTP on loopback: what is sent (asserted from the stand-in's records), what comes back, and every failure.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { connectServer, listServerModels, prepareServerImage as prepareImage, ServerError, type AnswerEvent, type ServerAnswerStats } from '../../native-models/index.js';
import { resizeLikePillow } from '../../native-models/image/resize.js';
import { startStandIn, type StandIn } from '../support/openai-stand-in.js';
import { screenshot } from '../support/synthetic-images.js';

let vllm: StandIn;
let ollama: StandIn;
const capture = screenshot(1920, 1080);

beforeAll(async () => {
  vllm = await startStandIn({ mode: 'vllm' });
  ollama = await startStandIn({ mode: 'ollama' });
});

afterAll(async () => {
  await vllm?.close();
  await ollama?.close();
});

afterEach(() => {
  vllm.set({ behaviour: 'answer', rejectFields: [], apiKey: undefined, models: undefined, answer: undefined });
  ollama.set({ behaviour: 'answer', rejectFields: [], apiKey: undefined });
  vllm.requests.length = 0;
  ollama.requests.length = 0;
});

async function drain(events: AsyncIterable<AnswerEvent<ServerAnswerStats>>) {
  let streamed = '';
  const warnings: string[] = [];
  for await (const event of events) {
    if (event.type === 'text' || event.type === 'token') streamed += event.text;
    if (event.type === 'warning') warnings.push(event.message);
    if (event.type === 'done') return { ...event.answer, streamed, streamedWarnings: warnings };
  }
  throw new Error('no done event');
}

const chats = (server: StandIn) => server.requests.filter((r) => r.path === '/v1/chat/completions');

/** The one-line ServerError an operation fails with. */
async function failure(operation: () => Promise<unknown>): Promise<ServerError> {
  const error = await operation().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ServerError);
  expect((error as Error).message).not.toContain('\n');
  return error as ServerError;
}

describe('answers from a server', () => {
  it('streams the answer as it comes and assembles it, with the server and its usage in the stats', async () => {
    const model = await connectServer({ prepareImage, baseUrl: vllm.baseUrl });
    expect(model.model).toBe('Qwen/Qwen2.5-VL-7B-Instruct');
    const answer = await drain(model.startConversation().ask('What does the dialog say?'));
    expect(answer.text).toBe('The dialog says the disk is full.');
    expect(answer.streamed).toBe(answer.text);
    expect(answer.stats).toMatchObject({
      provider: 'remote',
      server: { baseUrl: vllm.baseUrl, model: 'Qwen/Qwen2.5-VL-7B-Instruct' },
      generatedTokens: 7,
      generatedTokensFrom: 'server',
      promptTokens: 5,
      stopReason: 'eos',
      image: undefined,
    });
    const [request] = chats(vllm);
    expect(request!.body).toEqual({
      model: 'Qwen/Qwen2.5-VL-7B-Instruct',
      messages: [{ role: 'user', content: 'What does the dialog say?' }],
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('a follow-up sends the whole conversation: the image and first question, the answer, then the new question', async () => {
    const model = await connectServer({ prepareImage, baseUrl: vllm.baseUrl });
    const conversation = model.startConversation({ image: capture, detail: 'low' });
    const first = await drain(conversation.ask('What is this?'));
    vllm.set({ answer: 'Because it is.' });
    const second = await drain(conversation.ask('Why?'));
    expect(second.text).toBe('Because it is.');
    const [one, two] = chats(vllm);
    const imagePart = (one!.body!.messages as { content: unknown[] }[])[0]!.content[0];
    expect(two!.body!.messages).toEqual([
      { role: 'user', content: [imagePart, { type: 'text', text: 'What is this?' }] },
      { role: 'assistant', content: first.text },
      { role: 'user', content: 'Why?' },
    ]);
    expect(two!.images).toEqual([{ width: 840, height: 448 }]);
    expect(second.stats.imagePrepareMs).toBe(0);
  });

  it.each([
    ['high', { width: 1680, height: 924 }],
    ['low', { width: 840, height: 448 }],
  ] as const)('sends the image at %s detail as the local Qwen2-VL engine sizes it (%o), as a PNG data URL', async (detail, size) => {
    const model = await connectServer({ prepareImage, baseUrl: vllm.baseUrl });
    const answer = await drain(model.startConversation({ image: capture, detail }).ask('What is this?'));
    const [request] = chats(vllm);
    expect(request!.images).toEqual([size]);
    expect(answer.stats.image).toEqual(size);
    const url = ((request!.body!.messages as { content: { image_url?: { url: string } }[] }[])[0]!.content[0]!.image_url!.url);
    expect(url).toMatch(/^data:image\/png;base64,/);
    // The same pixels: Pillow's bicubic reduction, as the engine's Qwen2-VL preprocessing does it.
    const sent = await sharp(Buffer.from(url.split(',')[1]!, 'base64')).raw().toBuffer();
    const local = await resizeLikePillow(capture, size.width, size.height, 'bicubic', { exact: true });
    expect(Buffer.compare(sent, Buffer.from(local.data))).toBe(0);
  });

  it('vLLM: every generation setting is sent, top_k and repetition_penalty as its extra fields', async () => {
    const model = await connectServer({ prepareImage, baseUrl: vllm.baseUrl });
    const answer = await drain(
      model.startConversation().ask('Hi', { maxNewTokens: 3, temperature: 0.7, topP: 0.9, topK: 40, repetitionPenalty: 1.1, seed: 5 }),
    );
    expect(chats(vllm)[0]!.body).toMatchObject({ max_tokens: 3, temperature: 0.7, top_p: 0.9, top_k: 40, repetition_penalty: 1.1, seed: 5 });
    expect(answer.text).toBe('The dialog says ');
    expect(answer.stats).toMatchObject({ generatedTokens: 3, stopReason: 'max-new-tokens' });
    expect(answer.streamedWarnings).toEqual([]);
  });

  it("Ollama: its model ids, the first one when none is named, and its chunks (role in each) read the same", async () => {
    expect(await listServerModels({ baseUrl: ollama.baseUrl })).toEqual(['qwen2.5vl:7b', 'llava:13b']);
    const model = await connectServer({ prepareImage, baseUrl: ollama.baseUrl });
    expect(model.model).toBe('qwen2.5vl:7b');
    expect(model.warnings).toEqual([`The server at ${ollama.baseUrl} serves 2 models; asking "qwen2.5vl:7b" (name another to choose).`]);
    const named = await connectServer({ prepareImage, baseUrl: ollama.baseUrl, model: 'llava:13b' });
    const answer = await drain(named.startConversation({ image: capture, detail: 'low' }).ask('Hi', { topK: 40, seed: 1 }));
    expect(answer.text).toBe('The dialog says the disk is full.');
    expect(answer.stats.server.model).toBe('llava:13b');
    expect(chats(ollama)[0]!.body).toMatchObject({ model: 'llava:13b', top_k: 40, seed: 1 });
  });

  it('a server that refuses top_k gets one retry without the optional fields, and the answer says so', async () => {
    vllm.set({ rejectFields: ['top_k'] });
    const model = await connectServer({ prepareImage, baseUrl: vllm.baseUrl });
    const answer = await drain(model.startConversation().ask('Hi', { topK: 40, repetitionPenalty: 1.2, temperature: 0 }));
    expect(answer.text).toBe('The dialog says the disk is full.');
    const [refused, retried] = chats(vllm);
    expect(chats(vllm)).toHaveLength(2);
    expect(refused!.body).toMatchObject({ top_k: 40, repetition_penalty: 1.2 });
    expect(retried!.body).toEqual({ model: model.model, messages: refused!.body!.messages, stream: true, temperature: 0 });
    const warning =
      `The server at ${vllm.baseUrl} refused a field it does not support (Unrecognized request argument supplied: top_k): ` +
      'asked again without top_k, repetition_penalty, stream_options, so top_k and repetition_penalty had no effect.';
    expect(answer.streamedWarnings).toEqual([warning]);
    expect(answer.warnings).toEqual([warning]);
    // Without stream_options the server sends no usage: the count is the stream's, and says so.
    expect(answer.stats).toMatchObject({ generatedTokens: 7, generatedTokensFrom: 'chunks', promptTokens: undefined });
  });

  it('a 400 about something else is not retried', async () => {
    vllm.set({ rejectFields: ['seed'] });
    const model = await connectServer({ prepareImage, baseUrl: vllm.baseUrl });
    const error = await failure(() => drain(model.startConversation().ask('Hi', { seed: 3, topK: 4 })));
    expect(error.message).toBe(`The server at ${vllm.baseUrl} refused the question (400: Unrecognized request argument supplied: seed).`);
    expect(chats(vllm)).toHaveLength(1);
  });
});

describe('failures: one line naming the server and the fix', () => {
  it('a server that is down', async () => {
    const closed = http.createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const error = await failure(() => connectServer({ prepareImage, baseUrl: `http://127.0.0.1:${port}` }));
    expect(error.message).toBe(`Cannot reach the server at http://127.0.0.1:${port}/v1 (connection refused: is the server running, on that port?).`);
  });

  it.each(['vllm', 'ollama'] as const)('a key the server refuses (%s, or a proxy in front of it)', async (mode) => {
    const server = mode === 'vllm' ? vllm : ollama;
    server.set({ apiKey: 'right' });
    const error = await failure(() => connectServer({ prepareImage, baseUrl: server.baseUrl, apiKey: 'wrong' }));
    expect(error.message).toBe(
      `The server at ${server.baseUrl} refused the API key (401: Unauthorized): give the key it expects (--api-key, or the server's settings).`,
    );
    expect(server.requests.at(-1)!.headers.authorization).toBe('Bearer wrong');
    expect((await connectServer({ prepareImage, baseUrl: server.baseUrl, apiKey: 'right' })).model).toBeTruthy();
  });

  it('a model the server lacks: named at connect, and gone by the time of the question', async () => {
    const error = await failure(() => connectServer({ prepareImage, baseUrl: ollama.baseUrl, model: 'qwen2.5vl:72b' }));
    expect(error.message).toBe(`The server at ${ollama.baseUrl} does not serve the model "qwen2.5vl:72b": pick one it serves (qwen2.5vl:7b, llava:13b).`);
    const model = await connectServer({ prepareImage, baseUrl: vllm.baseUrl });
    vllm.set({ models: ['another/model'] });
    const gone = await failure(() => drain(model.startConversation().ask('Hi')));
    expect(gone.message).toBe(
      `The server at ${vllm.baseUrl} does not serve the model "Qwen/Qwen2.5-VL-7B-Instruct" (404: The model \`Qwen/Qwen2.5-VL-7B-Instruct\` does not exist.): pick one it lists (--server-model), or load it there.`,
    );
  });

  it('garbage instead of a model list (a web server at that address)', async () => {
    vllm.set({ behaviour: 'html-models' });
    const error = await failure(() => listServerModels({ baseUrl: vllm.baseUrl }));
    expect(error.message).toMatch(new RegExp(`^The server at ${vllm.baseUrl} answered the model list \\(GET /models\\) with something an OpenAI-compatible API does not send \\(not JSON: <!doctype html>`));
  });

  it('a stream that stalls', async () => {
    const model = await connectServer({ prepareImage, baseUrl: vllm.baseUrl, stallTimeoutMs: 500 });
    vllm.set({ behaviour: 'stall' });
    const hangUps = vllm.hangUps();
    const error = await failure(() => drain(model.startConversation().ask('Hi')));
    expect(error.message).toBe(
      `The server at ${vllm.baseUrl} sent nothing for 0.5 s in the middle of the answer: it may be overloaded or stuck; try again, or allow it longer (--server-timeout).`,
    );
    await vi.waitUntil(() => vllm.hangUps() === hangUps + 1, { timeout: 10_000 });
  });

  it('a malformed stream', async () => {
    const model = await connectServer({ prepareImage, baseUrl: vllm.baseUrl });
    vllm.set({ behaviour: 'malformed' });
    const error = await failure(() => drain(model.startConversation().ask('Hi')));
    expect(error.message).toMatch(new RegExp(`^The server at ${vllm.baseUrl} sent a malformed answer stream \\(an event that is not JSON: .*\\): check that it is an OpenAI-compatible API and see its log\\.$`));
  });

  it('a connection closed mid-answer', async () => {
    const model = await connectServer({ prepareImage, baseUrl: vllm.baseUrl });
    vllm.set({ behaviour: 'close-mid-stream' });
    const error = await failure(() => drain(model.startConversation().ask('Hi')));
    expect(error.message).toBe(`The server at ${vllm.baseUrl} closed the connection before the answer was complete: try again; if it persists, see the server's log.`);
  });

  it.each([
    ['ftp://host/v1', 'it must start with http:// or https://'],
    ['http://user:secret@host/v1', 'Invalid server URL: it must not contain a user name or password: pass the key as the API key instead.'],
    ['not a url', 'Invalid server URL "not a url": it is not a web address: write it as http://host:port/v1.'],
  ])('a URL that is no server address (%s) is refused before anything is sent', async (baseUrl, words) => {
    const fetch = vi.fn<typeof globalThis.fetch>();
    await expect(connectServer({ prepareImage, baseUrl, fetch })).rejects.toThrow(words);
    expect(fetch).not.toHaveBeenCalled();
  });
});

describe('cancel', () => {
  it('aborts the request: the server sees the client hang up, and the answer ends cancelled with the text so far', async () => {
    const model = await connectServer({ prepareImage, baseUrl: vllm.baseUrl });
    vllm.set({ behaviour: 'stall' });
    const hangUps = vllm.hangUps();
    const controller = new AbortController();
    const conversation = model.startConversation();
    const events: AnswerEvent<ServerAnswerStats>[] = [];
    for await (const event of conversation.ask('Hi', { signal: controller.signal })) {
      events.push(event);
      if (event.type === 'text') controller.abort();
    }
    const done = events.at(-1)!;
    expect(done.type).toBe('done');
    if (done.type !== 'done') return;
    expect(done.answer.text).toBe('The ');
    expect(done.answer.stats.stopReason).toBe('cancelled');
    await vi.waitUntil(() => vllm.hangUps() === hangUps + 1, { timeout: 10_000 });
    // The partial answer stays in the conversation, as a local cancelled answer does.
    expect(conversation.history).toEqual([
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'The ' },
    ]);
  });
});
