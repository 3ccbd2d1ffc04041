/** The engine host in-process: protocol validation, load/ask/stream/done, conversations, cancelling, the MessagePort path. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngineHost, type EngineHost, type ReplyPort } from '../../electron/utility/engine-host.js';
import { PROTOCOL_VERSION, parseReply, request, type EngineReply, type UnversionedRequest } from '../../electron/shared/engine-protocol.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { writeScreenshotLike } from '../support/images.js';

let root: string;
let modelDir: string;
let image: string;
let host: EngineHost;
const replies: EngineReply[] = [];
let nextId = 0;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-utility-host-'));
  modelDir = path.join(root, 'model');
  await writeSmolVlmModel(modelDir, { seed: 8, precisions: ['fp32'] });
  image = await writeScreenshotLike(path.join(root, 'screen.png'), 640, 360);
  // Every reply must itself be valid protocol: the parent validates what it receives.
  host = createEngineHost((message) => {
    const parsed = parseReply(message);
    if (!parsed.ok) throw new Error(`host sent an invalid reply: ${parsed.error}`);
    replies.push(message);
  });
});

afterAll(async () => {
  await host?.dispose();
  if (root) await rm(root, { recursive: true, force: true });
});

function id(): string {
  return `t${++nextId}`;
}
const repliesOf = (requestId: string) => replies.filter((r) => 'requestId' in r && r.requestId === requestId);

/** Sends a request and returns every reply it produced once the host has finished it. */
async function send(message: UnversionedRequest, ports?: ReplyPort[]): Promise<EngineReply[]> {
  await host.handle(request(message), ports);
  return repliesOf(message.requestId);
}

async function loadTinyModel() {
  const requestId = id();
  const out = await send({ type: 'load', requestId, dir: modelDir, precision: 'fp32', threads: 1 });
  const loaded = out.find((r) => r.type === 'loaded');
  if (!loaded) throw new Error(`load failed: ${JSON.stringify(out)}`);
  return loaded;
}

describe('malformed messages', () => {
  it.each([
    ['not an object', 42, null],
    ['no type', { v: PROTOCOL_VERSION, requestId: 'm1' }, 'm1'],
    ['unknown type', { v: PROTOCOL_VERSION, type: 'format-disk', requestId: 'm2' }, 'm2'],
    ['another protocol version', { v: 99, type: 'ping', requestId: 'm3' }, 'm3'],
    // Structured clone carries BigInts, which JSON.stringify (used to name the version) throws on: found by fuzzing.
    ['a BigInt version', { v: 1n, type: 'ping', requestId: 'm8' }, 'm8'],
    ['a version holding a BigInt', { v: { n: 0n }, type: 'ping', requestId: 'm9' }, 'm9'],
    ['a wrong field type', { v: PROTOCOL_VERSION, type: 'load', requestId: 'm4', dir: 7 }, 'm4'],
    ['an out-of-range setting', { v: PROTOCOL_VERSION, type: 'ask', requestId: 'm5', conversationId: 'c', question: 'q', options: { temperature: 99 } }, 'm5'],
    ['an unknown setting', { v: PROTOCOL_VERSION, type: 'ask', requestId: 'm6', conversationId: 'c', question: 'q', options: { bogus: 1 } }, 'm6'],
    ['bytes that are not PNG', { v: PROTOCOL_VERSION, type: 'ask', requestId: 'm7', conversationId: 'c', question: 'q', start: { image: { kind: 'png', bytes: new Uint8Array([1, 2, 3]) } } }, 'm7'],
  ])('are rejected with an error reply: %s', async (_name, message, requestId) => {
    const before = replies.length;
    await host.handle(message);
    const out = replies.slice(before);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ type: 'error', requestId, userError: false });
    const text = (out[0] as { message: string }).message;
    expect(text).toMatch(/^The model process rejected a malformed /);
    expect(text).not.toContain('\n');
  });

  it('names the protocol version mismatch and the offending field', async () => {
    const before = replies.length;
    await host.handle({ v: 99, type: 'ping', requestId: 'v1' });
    await host.handle({ v: PROTOCOL_VERSION, type: 'load', requestId: 'v2', dir: 7 });
    const [version, field] = replies.slice(before) as { message: string }[];
    expect(version!.message).toContain('protocol version 99');
    expect(field!.message).toContain('load message: dir:');
  });
});

describe('model info', () => {
  it('parses without imageTokens (a model process from before them), and refuses counts that are not whole numbers', () => {
    const model = { dir: '/m', family: 'smolvlm', precision: 'fp32', precisions: ['fp32'], provider: 'cpu', warnings: [], decoderRewrites: { applied: [], skipped: [] } };
    const loaded = (extra: object) => ({ v: PROTOCOL_VERSION, type: 'loaded', requestId: 'r1', model: { ...model, ...extra } });
    expect(parseReply(loaded({})).ok).toBe(true);
    expect(parseReply(loaded({ imageTokens: { low: 64, high: 832 } })).ok).toBe(true);
    expect(parseReply(loaded({ imageTokens: { low: 64, high: -1 } })).ok).toBe(false);
    expect(parseReply(loaded({ imageTokens: { low: 6.4, high: 832 } })).ok).toBe(false);
  });
});

describe('before a model is loaded', () => {
  it('answers pings, and refuses asks with a user error', async () => {
    const ping = await send({ type: 'ping', requestId: id() });
    expect(ping).toEqual([expect.objectContaining({ type: 'heartbeat' })]);
    const ask = await send({ type: 'ask', requestId: id(), conversationId: 'c0', start: {}, question: 'hi' });
    expect(ask).toEqual([expect.objectContaining({ type: 'error', userError: true, message: 'No model is loaded: load a model first.' })]);
  });

  it('reports a missing model folder as a one-line user error', async () => {
    const out = await send({ type: 'load', requestId: id(), dir: path.join(root, 'nowhere') });
    const error = out.find((r) => r.type === 'error');
    expect(error).toMatchObject({ userError: true });
    expect((error as { message: string }).message).not.toContain('\n');
  });
});

describe('with a model', () => {
  beforeAll(loadTinyModel);

  it('reports the loaded model', async () => {
    const loaded = await loadTinyModel();
    expect(loaded.model).toMatchObject({ family: 'smolvlm', precision: 'fp32', provider: 'cpu', precisions: ['fp32'] });
    // What a 1920×1080 screenshot costs: one 512² frame at low detail, 4×3 tiles plus the global frame at high.
    expect(loaded.model.imageTokens).toEqual({ low: 64, high: 13 * 64 });
    expect(loaded.model.decoderRewrites.applied.length).toBeGreaterThan(0);
  });

  it('streams tokens, then done, and a follow-up reuses the conversation cache', async () => {
    const first = id();
    const out = await send({
      type: 'ask',
      requestId: first,
      conversationId: 'streamed',
      start: { image: { kind: 'path', path: image }, detail: 'low' },
      question: 'What is on the screen?',
      options: { maxNewTokens: 12, temperature: 0 },
    });
    expect(out[0]).toMatchObject({ type: 'progress', stage: 'encoding-image' });
    const tokens = out.filter((r) => r.type === 'token');
    const withIds = tokens.filter((t) => t.tokenId !== undefined); // the held-back tail at the end has none
    const done = out.at(-1);
    if (done?.type !== 'done') throw new Error(`no done reply: ${JSON.stringify(done)}`);
    expect(withIds.map((t) => t.tokenId)).toEqual(done.answer.tokenIds);
    expect(tokens.map((t) => t.text).join('')).toBe(done.answer.text);
    expect(done.answer.stats.reusedPromptTokens).toBe(0);

    const followUp = await send({ type: 'ask', requestId: id(), conversationId: 'streamed', question: 'And then?', options: { maxNewTokens: 6, temperature: 0 } });
    const second = followUp.at(-1);
    if (second?.type !== 'done') throw new Error(`no done reply: ${JSON.stringify(second)}`);
    expect(second.answer.stats.reusedPromptTokens).toBeGreaterThan(0);
    expect(second.answer.stats.imageEncodeMs).toBe(0);
  });

  it('takes PNG bytes as the image, with the same answer as the file', async () => {
    const bytes = new Uint8Array(await readFile(image));
    const ask = (conversationId: string, img: { kind: 'path'; path: string } | { kind: 'png'; bytes: Uint8Array }) =>
      send({ type: 'ask', requestId: id(), conversationId, start: { image: img, detail: 'low' }, question: 'Hi', options: { maxNewTokens: 5, temperature: 0 } });
    const fromFile = (await ask('file', { kind: 'path', path: image })).at(-1);
    const fromBytes = (await ask('bytes', { kind: 'png', bytes })).at(-1);
    expect(fromBytes?.type).toBe('done');
    expect(fromBytes).toMatchObject({ answer: { tokenIds: (fromFile as { answer: { tokenIds: number[] } }).answer.tokenIds } });
  });

  it('refuses a follow-up on an unknown conversation, and a second start under the same id', async () => {
    const unknown = await send({ type: 'ask', requestId: id(), conversationId: 'never-started', question: 'hi' });
    expect(unknown).toEqual([expect.objectContaining({ type: 'error', userError: true })]);
    expect((unknown[0] as { message: string }).message).toMatch(/^Unknown conversation never-started: .*start a new conversation/);
    const again = await send({ type: 'ask', requestId: id(), conversationId: 'streamed', start: {}, question: 'hi' });
    expect((again[0] as { message: string }).message).toContain('already exists');
  });

  it('an unreadable image fails the first ask with a user error and frees the conversation id', async () => {
    const failed = await send({ type: 'ask', requestId: id(), conversationId: 'broken', start: { image: { kind: 'path', path: path.join(root, 'missing.png') } }, question: 'hi' });
    expect(failed.at(-1)).toMatchObject({ type: 'error', userError: true });
    const retry = await send({ type: 'ask', requestId: id(), conversationId: 'broken', start: {}, question: 'hi', options: { maxNewTokens: 2 } });
    expect(retry.at(-1)?.type).toBe('done');
  });

  it('cancels mid-answer, keeps the partial answer, and the conversation goes on', async () => {
    const requestId = id();
    const ask = host.handle(request({ type: 'ask', requestId, conversationId: 'cancelled', start: {}, question: 'Talk', options: { maxNewTokens: 2000, temperature: 1, seed: 3 } }));
    // Messages are handled concurrently: cancel as soon as a few tokens have streamed.
    while (repliesOf(requestId).filter((r) => r.type === 'token').length < 3) await new Promise((r) => setImmediate(r));
    // While it answers, the same conversation refuses a second question.
    const busy = await send({ type: 'ask', requestId: id(), conversationId: 'cancelled', question: 'Again' });
    expect((busy[0] as { message: string }).message).toContain('still answering');
    const cancelledAfter = repliesOf(requestId).filter((r) => r.type === 'token').length;
    await host.handle(request({ type: 'cancel', requestId }));
    await ask;
    const done = repliesOf(requestId).at(-1);
    if (done?.type !== 'done') throw new Error(`no done reply: ${JSON.stringify(done)}`);
    expect(done.answer.stats.stopReason).toBe('cancelled');
    expect(done.answer.tokenIds.length).toBeGreaterThanOrEqual(cancelledAfter);
    expect(done.answer.tokenIds.length).toBeLessThan(2000);
    const followUp = await send({ type: 'ask', requestId: id(), conversationId: 'cancelled', question: 'Short', options: { maxNewTokens: 3 } });
    expect(followUp.at(-1)).toMatchObject({ type: 'done', answer: { stats: { stopReason: expect.any(String) } } });
    // A late cancel (the answer already finished) is ignored, not an error.
    const late = await send({ type: 'cancel', requestId });
    expect(late.filter((r) => r.type === 'error')).toEqual([]);
  });

  it('streams an answer to a transferred port, and tells the parent only how it ended', async () => {
    const portMessages: unknown[] = [];
    let closed = false;
    const port: ReplyPort = { postMessage: (m) => portMessages.push(m), close: () => (closed = true) };
    const requestId = id();
    const toParent = await send({ type: 'ask', requestId, conversationId: 'port', start: {}, question: 'Hi', options: { maxNewTokens: 4, temperature: 0 } }, [port]);
    expect(toParent.map((r) => r.type)).toEqual(['done']);
    const types = portMessages.map((m) => (m as EngineReply).type);
    expect(types[0]).toBe('progress');
    expect(types.filter((t) => t === 'token').length).toBeGreaterThan(0);
    expect(types.at(-1)).toBe('done');
    expect(closed).toBe(true);
  });

  it('closes conversations and unloads the model', async () => {
    expect(await send({ type: 'close-conversation', requestId: id(), conversationId: 'streamed' })).toEqual([expect.objectContaining({ type: 'ack' })]);
    const after = await send({ type: 'ask', requestId: id(), conversationId: 'streamed', question: 'hi' });
    expect((after[0] as { message: string }).message).toContain('Unknown conversation');
    expect(await send({ type: 'unload', requestId: id() })).toEqual([expect.objectContaining({ type: 'ack' })]);
    const noModel = await send({ type: 'ask', requestId: id(), conversationId: 'x', start: {}, question: 'hi' });
    expect((noModel[0] as { message: string }).message).toBe('No model is loaded: load a model first.');
  });
});
