/**
 * "Serve this model to other apps", in the real utility entry started as a Node child process (the supervisor's Node
 * launcher): the openai client gets the app's own greedy answer from it, it reports its URL on 127.0.0.1, a reload
 * serves the new model at the same address, switching it off refuses connections, and a port in use is one line.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError, EngineSupervisor, type AskEvent } from '../../electron/main/engine-supervisor.js';
import { createNodeLauncher } from '../../electron/main/process-launcher.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { writeScreenshotLike } from '../support/images.js';

let root: string;
let png: Uint8Array;
let supervisor: EngineSupervisor;
const dirA = () => path.join(root, 'model-a');
const dirB = () => path.join(root, 'model-b');

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-utility-serving-'));
  await writeSmolVlmModel(dirA(), { seed: 8, precisions: ['fp32'] });
  await writeSmolVlmModel(dirB(), { seed: 11, precisions: ['fp32'] });
  png = new Uint8Array(await readFile(await writeScreenshotLike(path.join(root, 'screen.png'), 640, 360)));
  supervisor = new EngineSupervisor({ launcher: createNodeLauncher() });
});

afterAll(async () => {
  await supervisor?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

const greedy = { maxNewTokens: 8, temperature: 0 } as const;
let conversations = 0;

/** The app's answer: a new conversation on the capture, as the ask window sends it. */
async function appAnswer(question: string): Promise<string> {
  const stream = supervisor.ask({
    conversationId: `app-${++conversations}`,
    start: { image: { kind: 'png', bytes: png }, detail: 'low' },
    question,
    options: greedy,
  });
  let done: AskEvent | undefined;
  for await (const event of stream) if (event.type === 'done') done = event;
  if (done?.type !== 'done') throw new Error('the app ask ended without done');
  return done.answer.text;
}

const client = (baseURL: string) => new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0 });
const dataUrl = () => `data:image/png;base64,${Buffer.from(png).toString('base64')}`;

async function serverAnswer(baseURL: string, question: string, model: string): Promise<string> {
  const completion = await client(baseURL).chat.completions.create({
    model,
    messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: dataUrl(), detail: 'low' } }, { type: 'text', text: question }] }],
    max_tokens: greedy.maxNewTokens,
    temperature: 0,
  });
  return completion.choices[0]!.message.content ?? '';
}

describe('serving the model from the model process', () => {
  let url: string;

  it('switched on before a model is loaded, it starts with the load and reports its URL on 127.0.0.1', async () => {
    await expect(supervisor.serve(0)).resolves.toBeNull();
    await supervisor.load({ dir: dirA(), precision: 'fp32', threads: 1 });
    url = (await supervisor.serve(0))!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(Number(new URL(url).port)).toBeGreaterThan(0);
    // Asking again for the same port keeps the running server.
    await expect(supervisor.serve(0)).resolves.toBe(url);
    const models = await client(url).models.list();
    expect(models.data.map((m) => m.id)).toEqual(['model-a']);
  });

  it('answers an openai-client request with the same greedy text as an app ask', async () => {
    const app = await appAnswer('What is on this screen?');
    const served = await serverAnswer(url, 'What is on this screen?', 'model-a');
    expect(app.length).toBeGreaterThan(0);
    expect(served).toBe(app);
    // And the app still answers as before once the server has answered.
    await expect(appAnswer('What is on this screen?')).resolves.toBe(app);
  });

  it('a reload serves the new model at the same address', async () => {
    const before = await serverAnswer(url, 'Describe it.', 'model-a');
    await supervisor.load({ dir: dirB(), precision: 'fp32', threads: 1 });
    const models = await client(url).models.list();
    expect(models.data.map((m) => m.id)).toEqual(['model-b']);
    const app = await appAnswer('Describe it.');
    const after = await serverAnswer(url, 'Describe it.', 'model-b');
    expect(after).toBe(app);
    expect(after).not.toBe(before); // another model (other weights) answers now
    await expect(supervisor.serve(0)).resolves.toBe(url);
  });

  it('switched off, it refuses connections, and the app answers as before', async () => {
    const app = await appAnswer('What is on this screen?');
    await supervisor.stopServing();
    const error = await client(url).models.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIConnectionError);
    const cause = (error as { cause?: { code?: string; cause?: { code?: string } } }).cause;
    expect(cause?.code ?? cause?.cause?.code).toBe('ECONNREFUSED');
    await expect(appAnswer('What is on this screen?')).resolves.toBe(app);
    // Off stays off across a reload.
    await supervisor.load({ dir: dirA(), precision: 'fp32', threads: 1 });
    const again = await client(url).models.list().catch((e: unknown) => e);
    expect(again).toBeInstanceOf(OpenAI.APIConnectionError);
  });

  it('a port in use is one line naming the port and the fix; the process stays up and serves elsewhere', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const error = await supervisor.serve(port).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EngineError);
      expect((error as EngineError).message).toBe(
        `Port ${port} on 127.0.0.1 is in use (another program listens there): choose another port in Settings → Serve this model to other apps, or 0 for any free port.`,
      );
      expect((error as EngineError).userError).toBe(true);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
    const free = (await supervisor.serve(0))!;
    expect((await client(free).models.list()).data.map((m) => m.id)).toEqual(['model-a']);
    await supervisor.stopServing();
  });

  it('refuses a privileged port or one out of range before it reaches the server (the protocol)', async () => {
    for (const port of [80, 1023, 65536, -1, 8080.5]) {
      await expect(supervisor.serve(port)).rejects.toThrow(/malformed serve message: port/);
    }
  });
});
