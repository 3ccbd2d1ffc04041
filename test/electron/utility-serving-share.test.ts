/**
 * The app's answers and the served requests share one model in the model process (engine-host.ts + model-serving.ts),
 * in process so that the order of events is exact: a request waits until the app's answer is done; an app answer
 * that starts while a request streams runs alongside it, and neither answer is changed by the other.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngineHost, type EngineHost } from '../../electron/utility/engine-host.js';
import { parseReply, request, type EngineReply, type UnversionedRequest } from '../../electron/shared/engine-protocol.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { writeScreenshotLike } from '../support/images.js';

let root: string;
let png: Uint8Array;
let host: EngineHost;
let client: OpenAI;
const replies: EngineReply[] = [];
/** Every event of interest, in the order it happened in this process. */
const timeline: string[] = [];
/** Called with each reply as the host sends it: lets a test act at an exact moment of an answer. */
let onReply: ((reply: EngineReply) => void) | undefined;
/** What the model process asked to listen on, while it started serving (every TCP server listens through here). */
const listened: unknown[][] = [];
let nextId = 0;
const id = (prefix = 'r') => `${prefix}${++nextId}`;
const send = (message: UnversionedRequest) => host.handle(request(message));
const doneOf = (requestId: string) =>
  replies.find((r): r is Extract<EngineReply, { type: 'done' }> => r.type === 'done' && r.requestId === requestId);

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-serving-share-'));
  await writeSmolVlmModel(path.join(root, 'model'), { seed: 10, precisions: ['fp32'] });
  png = new Uint8Array(await readFile(await writeScreenshotLike(path.join(root, 'screen.png'), 640, 400)));
  host = createEngineHost((message) => {
    const parsed = parseReply(message);
    if (!parsed.ok) throw new Error(`host sent an invalid reply: ${parsed.error}`);
    replies.push(message);
    if (message.type === 'token' || message.type === 'done') timeline.push(`app ${message.type} ${message.requestId}`);
    onReply?.(message);
  });
  await send({ type: 'load', requestId: id(), dir: path.join(root, 'model'), precision: 'fp32', threads: 1 });
  const serveId = id();
  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    listened.push(args.filter((arg) => typeof arg !== 'function'));
    return (listen as (...a: unknown[]) => net.Server).apply(this, args);
  } as typeof listen;
  try {
    await send({ type: 'serve', requestId: serveId, port: 0 });
  } finally {
    net.Server.prototype.listen = listen;
  }
  const serving = replies.find((r) => r.type === 'serving' && r.requestId === serveId) as { url: string } | undefined;
  if (!serving?.url) throw new Error(`not serving: ${JSON.stringify(replies.at(-1))}`);
  client = new OpenAI({ baseURL: serving.url, apiKey: 'unused', maxRetries: 0 });
});

afterAll(async () => {
  await host?.dispose();
  if (root) await rm(root, { recursive: true, force: true });
});

const appQuestion = 'Tell me a long story.';
const serverQuestion = 'What is on this screen?';
const messages = (): ChatCompletionMessageParam[] => [
  { role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${Buffer.from(png).toString('base64')}`, detail: 'low' } }, { type: 'text', text: serverQuestion }] },
];

function appAsk(maxNewTokens: number): Promise<void> & { requestId: string } {
  const requestId = id('ask');
  const sent = send({ type: 'ask', requestId, conversationId: id('c'), start: { image: { kind: 'png', bytes: png }, detail: 'low' }, question: appQuestion, options: { maxNewTokens, temperature: 0 } });
  return Object.assign(sent, { requestId });
}

/** A streamed request; each chunk is put on the timeline as it arrives. `onFirst` runs at the first content chunk. */
async function serverStream(maxTokens: number, onFirst?: () => void): Promise<string> {
  const stream = await client.chat.completions.create({ model: 'model', messages: messages(), max_tokens: maxTokens, temperature: 0, stream: true });
  let text = '';
  for await (const chunk of stream) {
    const delta = chunk.choices[0]?.delta.content ?? '';
    if (!delta) continue;
    timeline.push('server chunk');
    if (text === '') onFirst?.();
    text += delta;
  }
  timeline.push('server end');
  return text;
}

describe('where it listens', () => {
  it('on 127.0.0.1 only, once: no other address, not every interface', () => {
    expect(listened).toEqual([[0, '127.0.0.1']]);
  });
});

describe('the app and served requests share the model', () => {
  let appAlone: string;
  let serverAlone: string;

  beforeAll(async () => {
    const alone = appAsk(24);
    await alone;
    appAlone = doneOf(alone.requestId)!.answer.text;
    serverAlone = await serverStream(24);
    timeline.length = 0;
  });

  it('a request sent while the app answers waits until that answer is done, then gets its own answer', async () => {
    const ask = appAsk(24);
    const served = serverStream(24);
    await ask;
    const text = await served;
    const appDone = timeline.indexOf(`app done ${ask.requestId}`);
    const firstChunk = timeline.indexOf('server chunk');
    expect(appDone).toBeGreaterThanOrEqual(0);
    expect(firstChunk).toBeGreaterThan(appDone);
    expect(doneOf(ask.requestId)!.answer.text).toBe(appAlone);
    expect(text).toBe(serverAlone);
  });

  it('an app answer that starts while a request streams runs alongside it; both answers are their own', async () => {
    timeline.length = 0;
    let ask: (Promise<void> & { requestId: string }) | undefined;
    let serverEndedBeforeAsk: boolean | undefined;
    const served = serverStream(24, () => {
      serverEndedBeforeAsk = timeline.includes('server end');
      ask = appAsk(24);
    });
    const text = await served;
    await ask;
    expect(serverEndedBeforeAsk).toBe(false);
    expect(ask).toBeDefined();
    expect(doneOf(ask!.requestId)!.answer.text).toBe(appAlone);
    expect(text).toBe(serverAlone);
  });

  it('switched off while a request waits for the app, the request is cut and the app answers in full', async () => {
    const long = appAsk(300);
    await long;
    const full = doneOf(long.requestId)!.answer.text;
    let served: Promise<string> | undefined;
    let stopping: Promise<void> | undefined;
    const stopId = id();
    let tokens = 0;
    // At the app's first token a program sends a request (it waits for the app); a few tokens on, serving is switched
    // off. Whether the request had reached the server by then (it is cut) or not (it is refused), it gets no answer.
    onReply = (reply) => {
      if (reply.type !== 'token' || reply.requestId !== ask.requestId) return;
      tokens++;
      if (tokens === 1) {
        served = serverStream(24).then(
          () => 'answered',
          (error: unknown) => (error instanceof OpenAI.APIConnectionError ? 'cut' : `other: ${String(error)}`),
        );
      }
      if (tokens === 20) stopping = send({ type: 'stop-serving', requestId: stopId });
    };
    const ask = appAsk(300);
    await ask;
    onReply = undefined;
    await stopping;
    expect(await served).toBe('cut');
    expect(doneOf(ask.requestId)!.answer.text).toBe(full);
    expect(doneOf(ask.requestId)!.answer.stats.generatedTokens).toBeGreaterThan(20);
    expect(replies.find((r) => 'requestId' in r && r.requestId === stopId)).toMatchObject({ type: 'serving', url: null });
  });
});
