/**
 * The supervisor against the real utility entry, started as a real Node child process (the Node launcher, with tsx):
 * load, streamed asks, cancel, follow-ups, and recovery after the process is killed mid-answer.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError, EngineSupervisor, type AskEvent, type AskStream, type EngineStatus } from '../../electron/main/engine-supervisor.js';
import { createNodeLauncher } from '../../electron/main/process-launcher.js';
import type { ImageSource } from '../../electron/shared/engine-protocol.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { writeScreenshotLike } from '../support/images.js';

let root: string;
let modelDir: string;
let image: string;
let supervisor: EngineSupervisor;
const statuses: EngineStatus['state'][] = [];

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-supervisor-'));
  modelDir = path.join(root, 'model');
  await writeSmolVlmModel(modelDir, { seed: 8, precisions: ['fp32'] });
  image = await writeScreenshotLike(path.join(root, 'screen.png'), 640, 360);
  supervisor = new EngineSupervisor({ launcher: createNodeLauncher(), restartDelayMs: () => 0 });
  supervisor.onStatus((status) => statuses.push(status.state));
});

afterAll(async () => {
  await supervisor?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

async function drain(stream: AsyncIterable<AskEvent>) {
  const events: AskEvent[] = [];
  for await (const event of stream) events.push(event);
  const done = events.at(-1);
  if (done?.type !== 'done') throw new Error(`the stream ended without done: ${JSON.stringify(done)}`);
  return { events, answer: done.answer, tokens: events.filter((e) => e.type === 'token') };
}

function waitForStatus(state: EngineStatus['state'], timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (supervisor.status.state === state) return resolve();
    const timer = setTimeout(() => reject(new Error(`no ${state} status within ${timeoutMs} ms (now ${supervisor.status.state})`)), timeoutMs);
    const off = supervisor.onStatus((status) => {
      if (status.state !== state) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

/** Reads a stream until its first token, then hands it back still running. */
async function untilFirstToken(stream: AskStream): Promise<AsyncIterator<AskEvent>> {
  const iterator = stream[Symbol.asyncIterator]();
  for (;;) {
    const next = await iterator.next();
    if (next.done) throw new Error('the answer ended before its first token');
    if (next.value.type === 'token') return iterator;
  }
}

describe('engine supervisor with a real model process', () => {
  it('starts the process and loads a model', async () => {
    const model = await supervisor.load({ dir: modelDir, precision: 'fp32', threads: 1 });
    expect(model).toMatchObject({ family: 'smolvlm', precision: 'fp32', provider: 'cpu' });
    expect(statuses).toEqual(['starting', 'idle', 'loading', 'ready']);
    expect(supervisor.pid).toEqual(expect.any(Number));
    expect(supervisor.pid).not.toBe(process.pid);
    expect(await supervisor.ping()).toBeGreaterThanOrEqual(0);
  });

  it('streams an answer, and a follow-up reuses the conversation in the process', async () => {
    const first = await drain(
      supervisor.ask({
        conversationId: 'c1',
        start: { image: { kind: 'path', path: image }, detail: 'low' },
        question: 'What is on the screen?',
        options: { maxNewTokens: 10, temperature: 0 },
      }),
    );
    expect(first.tokens.length).toBeGreaterThan(0);
    expect(first.tokens.map((t) => t.text).join('')).toBe(first.answer.text);
    expect(first.answer.stats.imageTokens).toBeGreaterThan(0);
    const followUp = await supervisor.ask({ conversationId: 'c1', question: 'And?', options: { maxNewTokens: 5 } }).result;
    expect(followUp.stats.reusedPromptTokens).toBeGreaterThan(0);
  });

  it('sends PNG bytes across the process boundary intact (structured clone, not JSON)', async () => {
    const bytes = new Uint8Array(await readFile(image));
    const ask = (img: ImageSource) =>
      supervisor.ask({ conversationId: `img-${img.kind}`, start: { image: img, detail: 'low' }, question: 'Hi', options: { maxNewTokens: 4, temperature: 0 } }).result;
    const [fromBytes, fromFile] = [await ask({ kind: 'png', bytes }), await ask({ kind: 'path', path: image })];
    expect(fromBytes.tokenIds).toEqual(fromFile.tokenIds);
  });

  it('reports engine errors as EngineErrors with one line', async () => {
    const error = await supervisor.ask({ conversationId: 'nope', question: 'hi' }).result.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect(error).toMatchObject({ userError: true, message: expect.stringMatching(/^Unknown conversation nope:/) });
    const bad = await supervisor.ask({ conversationId: 'x', start: {}, question: 'hi', options: { temperature: -1 } }).result.catch((e: unknown) => e);
    expect(bad).toMatchObject({ userError: false, message: expect.stringContaining('options.temperature') });
  });

  it('cancels an answer mid-stream', async () => {
    const stream = supervisor.ask({ conversationId: 'c2', start: {}, question: 'Talk', options: { maxNewTokens: 2000, temperature: 1, seed: 1 } });
    const iterator = await untilFirstToken(stream);
    stream.cancel();
    for (let next = await iterator.next(); !next.done; next = await iterator.next());
    const answer = await stream.result;
    expect(answer.stats.stopReason).toBe('cancelled');
    expect(answer.tokenIds.length).toBeLessThan(2000);
  });

  it('recovers after the process is killed mid-answer: the ask fails clearly, the model is reloaded, asks work again', async () => {
    const oldPid = supervisor.pid!;
    statuses.length = 0;
    const stream = supervisor.ask({ conversationId: 'c3', start: {}, question: 'Talk', options: { maxNewTokens: 2000, temperature: 1, seed: 2 } });
    const iterator = await untilFirstToken(stream);
    process.kill(oldPid, 'SIGKILL');
    const error = await (async () => {
      for (let next = await iterator.next(); !next.done; next = await iterator.next());
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect((error as Error).message).toBe('The model process stopped unexpectedly (killed by SIGKILL); restarting it.');
    await expect(stream.result).rejects.toThrow('stopped unexpectedly');

    await waitForStatus('ready');
    expect(statuses).toEqual(['restarting', 'loading', 'ready']);
    expect(supervisor.pid).not.toBe(oldPid);
    // Conversations lived in the dead process: a follow-up says so; a new conversation works.
    await expect(supervisor.ask({ conversationId: 'c1', question: 'Still there?' }).result).rejects.toThrow(/Unknown conversation c1/);
    const again = await drain(supervisor.ask({ conversationId: 'c4', start: { image: { kind: 'path', path: image }, detail: 'low' }, question: 'Hi', options: { maxNewTokens: 4 } }));
    expect(again.tokens.length).toBeGreaterThan(0);
  });

  it('an ask sent while the process restarts waits for the reload and succeeds', async () => {
    process.kill(supervisor.pid!, 'SIGKILL');
    await waitForStatus('restarting');
    const answer = await supervisor.ask({ conversationId: 'c5', start: {}, question: 'Hi', options: { maxNewTokens: 3 } }).result;
    expect(answer.tokenIds.length).toBeGreaterThan(0);
    expect(supervisor.status.state).toBe('ready');
  });
});

describe('repeated crashes', () => {
  it('give up after maxCrashes within the window, with a clear error, until the model is loaded again', async () => {
    const local = new EngineSupervisor({ launcher: createNodeLauncher(), maxCrashes: 2, restartDelayMs: () => 0 });
    const seen: EngineStatus[] = [];
    local.onStatus((s) => seen.push(s));
    try {
      await local.start();
      process.kill(local.pid!, 'SIGKILL');
      await new Promise<void>((resolve) => local.onStatus((s) => s.state === 'idle' && resolve()));
      process.kill(local.pid!, 'SIGKILL');
      await new Promise<void>((resolve) => local.onStatus((s) => s.state === 'error' && resolve()));
      const last = seen.at(-1);
      expect(last).toMatchObject({ state: 'error', message: expect.stringMatching(/^The model process stopped 2 times within 60 s \(last: killed by SIGKILL\); ScreenAsk stopped restarting it\./) });
      await expect(local.ask({ conversationId: 'c', start: {}, question: 'hi' }).result).rejects.toThrow('stopped restarting it');
      expect(local.pid).toBeUndefined();
      // An explicit load is the user's retry: it starts a fresh process.
      await expect(local.load({ dir: modelDir, precision: 'fp32', threads: 1 })).resolves.toMatchObject({ family: 'smolvlm' });
    } finally {
      await local.stop();
    }
  });
});

describe('the decoder cache folder', () => {
  it('goes with every load, including the reload after a crash: the model process keeps its rewritten decoder there, never in the model folder', async () => {
    const cacheDir = path.join(root, 'decoder-cache');
    const local = new EngineSupervisor({ launcher: createNodeLauncher(), restartDelayMs: () => 0, cacheDir });
    const modelFiles = (await readdir(path.join(modelDir, 'onnx'))).sort();
    try {
      await local.load({ dir: modelDir, precision: 'fp32', threads: 1 });
      const kept = (await readdir(cacheDir)).sort();
      expect(kept).toEqual([expect.stringMatching(/^decoder-[0-9a-f]{32}\.json$/), expect.stringMatching(/^decoder-[0-9a-f]{32}\.onnx$/)]);
      // Emptied, then a crash: the supervisor's own reload must send the folder too, or nothing would be kept again.
      await rm(cacheDir, { recursive: true });
      process.kill(local.pid!, 'SIGKILL');
      await new Promise<void>((resolve) => local.onStatus((s) => s.state === 'ready' && resolve()));
      expect((await readdir(cacheDir)).sort()).toEqual(kept);
      expect((await readdir(path.join(modelDir, 'onnx'))).sort()).toEqual(modelFiles);
    } finally {
      await local.stop();
    }
  });
});
