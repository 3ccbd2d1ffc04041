/**
 * Read-ahead in the engine host: a capture read while the user types, taken over by the first ask; never in the way
 * of an answer streaming in another conversation; cancelled, it leaves nothing behind.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngineHost, type EngineHost } from '../../electron/utility/engine-host.js';
import { parseReply, request, type EngineReply, type UnversionedRequest } from '../../electron/shared/engine-protocol.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { writeScreenshotLike } from '../support/images.js';

let root: string;
let png: Uint8Array;
let host: EngineHost;
const replies: EngineReply[] = [];
/** Called with each reply as the host sends it (inside the host's own call): lets a test act at an exact moment. */
let onReply: ((reply: EngineReply) => void) | undefined;
let nextId = 0;
const id = (prefix = 'r') => `${prefix}${++nextId}`;
const of = (requestId: string) => replies.filter((r) => 'requestId' in r && r.requestId === requestId);
const send = (message: UnversionedRequest) => host.handle(request(message));
const options = { maxNewTokens: 6, temperature: 0 } as const;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-host-read-ahead-'));
  await writeSmolVlmModel(path.join(root, 'model'), { seed: 9, precisions: ['fp32'] });
  png = new Uint8Array(await readFile(await writeScreenshotLike(path.join(root, 'screen.png'), 1280, 720)));
  host = createEngineHost((message) => {
    const parsed = parseReply(message);
    if (!parsed.ok) throw new Error(`host sent an invalid reply: ${parsed.error}`);
    replies.push(message);
    onReply?.(message);
  });
  await send({ type: 'load', requestId: id(), dir: path.join(root, 'model'), precision: 'fp32', threads: 1 });
});

afterAll(async () => {
  await host?.dispose();
  if (root) await rm(root, { recursive: true, force: true });
});

const image = () => ({ kind: 'png' as const, bytes: png });
const doneOf = (requestId: string) => of(requestId).find((r): r is Extract<EngineReply, { type: 'done' }> => r.type === 'done');

describe('read-ahead in the model process', () => {
  it('reads the capture with progress; the first ask takes it over and answers as without it', async () => {
    const plain = id('ask');
    await send({ type: 'ask', requestId: plain, conversationId: id('c'), start: { image: image(), detail: 'high' }, question: 'What is this?', options });
    const ahead = id('ahead');
    await send({ type: 'read-ahead', requestId: ahead, image: image(), detail: 'high' });
    const progress = of(ahead).filter((r) => r.type === 'read-ahead-progress').map((r) => (r as { progress: { stage: string } }).progress.stage);
    // The image was encoded by the first ask: the image-feature cache answers at once, then the prefill.
    expect(progress).toEqual(['encoding', 'prefill', 'ready']);
    const done = of(ahead).find((r) => r.type === 'read-ahead-done') as { tokens: number; stopped: boolean };
    expect(done).toMatchObject({ stopped: false });
    const asked = id('ask');
    await send({ type: 'ask', requestId: asked, conversationId: id('c'), start: { image: image(), detail: 'high', readAhead: ahead }, question: 'What is this?', options });
    expect(doneOf(asked)!.answer.tokenIds).toEqual(doneOf(plain)!.answer.tokenIds);
    expect(doneOf(asked)!.answer.stats.readAhead?.tokens).toBe(done.tokens);
    expect(doneOf(asked)!.answer.stats.reusedPromptTokens).toBe(done.tokens);
    // Taken over once: a second ask naming it starts afresh.
    const again = id('ask');
    await send({ type: 'ask', requestId: again, conversationId: id('c'), start: { image: image(), detail: 'high', readAhead: ahead }, question: 'What is this?', options });
    expect(doneOf(again)!.answer.stats.readAhead).toBeUndefined();
  });

  it('never runs while another conversation answers: its work waits for the answer to end', async () => {
    const asking = id('ask');
    const answering = send({ type: 'ask', requestId: asking, conversationId: id('c'), start: {}, question: 'Tell me a long story.', options: { maxNewTokens: 40, temperature: 0 } });
    const ahead = id('ahead');
    // A new picture (a fresh encode), read while the answer streams.
    const other = new Uint8Array(await readFile(await writeScreenshotLike(path.join(root, 'other.png'), 900, 500)));
    const reading = send({ type: 'read-ahead', requestId: ahead, image: { kind: 'png', bytes: other }, detail: 'low' });
    await Promise.all([answering, reading]);
    const order = replies.filter((r): r is Extract<EngineReply, { requestId: string | null }> => 'requestId' in r && (r.requestId === asking || r.requestId === ahead));
    const lastToken = order.map((r) => r.requestId === asking && r.type === 'token').lastIndexOf(true);
    const firstProgress = order.findIndex((r) => r.requestId === ahead && r.type === 'read-ahead-progress');
    expect(lastToken).toBeGreaterThan(0);
    expect(firstProgress).toBeGreaterThan(lastToken);
  });

  it('two asks that each took over a read-ahead still running both answer (neither waits for the other)', async () => {
    const [a, b] = [id('ahead'), id('ahead')];
    const [askA, askB] = [id('ask'), id('ask')];
    const high = new Uint8Array(await readFile(await writeScreenshotLike(path.join(root, 'two-a.png'), 1300, 720)));
    const low = new Uint8Array(await readFile(await writeScreenshotLike(path.join(root, 'two-b.png'), 901, 500)));
    const sent: Promise<void>[] = [];
    // At A's first frame: the user asks about A, captures B at once and asks about it too, before A's frames are read.
    const asked = new Promise<void>((resolve) => {
      onReply = (r) => {
        if (r.type !== 'read-ahead-progress' || r.requestId !== a) return;
        onReply = undefined;
        const startA = { image: { kind: 'png' as const, bytes: high }, detail: 'high' as const, readAhead: a };
        sent.push(send({ type: 'ask', requestId: askA, conversationId: id('c'), start: startA, question: 'What is this?', options }));
        sent.push(send({ type: 'read-ahead', requestId: b, image: { kind: 'png', bytes: low }, detail: 'low' }));
        const startB = { image: { kind: 'png' as const, bytes: low }, detail: 'low' as const, readAhead: b };
        sent.push(send({ type: 'ask', requestId: askB, conversationId: id('c'), start: startB, question: 'And this?', options }));
        resolve();
      };
    });
    const readingA = send({ type: 'read-ahead', requestId: a, image: { kind: 'png', bytes: high }, detail: 'high' });
    await asked;
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise((r) => (timer = setTimeout(() => r('stuck: each waits for the other'), 30_000)));
    const outcome = await Promise.race([Promise.all([readingA, ...sent]).then(() => 'answered'), stuck]);
    clearTimeout(timer);
    expect(outcome).toBe('answered');
    expect(sent).toHaveLength(3);
    for (const [ask, ahead] of [[askA, a], [askB, b]] as const) {
      const done = of(ahead).find((r) => r.type === 'read-ahead-done') as { tokens: number; stopped: boolean };
      expect(done).toMatchObject({ stopped: false });
      expect(doneOf(ask)!.answer.stats).toMatchObject({ stopReason: expect.not.stringMatching(/cancelled/), readAhead: { tokens: done.tokens } });
    }
  });

  it('a first ask cancelled while its read-ahead runs stops that read-ahead too', async () => {
    const ahead = id('ahead');
    const asked = id('ask');
    const bytes = new Uint8Array(await readFile(await writeScreenshotLike(path.join(root, 'cancelled-ask.png'), 1302, 720)));
    const sent: Promise<void>[] = [];
    // At the first frame the user asks, then dismisses the question (Stop, a new capture, the window closed).
    onReply = (r) => {
      if (r.type !== 'read-ahead-progress' || r.requestId !== ahead) return;
      onReply = undefined;
      sent.push(send({ type: 'ask', requestId: asked, conversationId: id('c'), start: { image: { kind: 'png', bytes }, detail: 'high', readAhead: ahead }, question: 'q', options }));
      sent.push(send({ type: 'cancel', requestId: asked }));
    };
    await send({ type: 'read-ahead', requestId: ahead, image: { kind: 'png', bytes }, detail: 'high' });
    await Promise.all(sent);
    expect(doneOf(asked)!.answer.stats).toMatchObject({ stopReason: 'cancelled', generatedTokens: 0 });
    expect(of(ahead).find((r) => r.type === 'read-ahead-done')).toMatchObject({ stopped: true, tokens: 0 });
    // Not all 13 frames: it stopped at the next frame after the cancel.
    expect(of(ahead).filter((r) => r.type === 'read-ahead-progress').length).toBeLessThan(13);
  });

  it('dismissed while it waits for another answer, it ends at once instead of when that answer does', async () => {
    const bytes = new Uint8Array(await readFile(await writeScreenshotLike(path.join(root, 'dismissed.png'), 903, 500)));
    const asking = id('ask');
    const answering = send({ type: 'ask', requestId: asking, conversationId: id('c'), start: {}, question: 'Tell me a long story.', options: { maxNewTokens: 400, temperature: 0 } });
    const ahead = id('ahead');
    const reading = send({ type: 'read-ahead', requestId: ahead, image: { kind: 'png', bytes }, detail: 'low' });
    await send({ type: 'cancel', requestId: ahead });
    await reading;
    expect(of(ahead).find((r) => r.type === 'read-ahead-done')).toMatchObject({ stopped: true });
    // The answer is still going: the dismissed read-ahead did not wait for its end.
    expect(doneOf(asking)).toBeUndefined();
    await send({ type: 'cancel', requestId: asking });
    await answering;
    expect(doneOf(asking)!.answer.stats.stopReason).toBe('cancelled');
  });

  it('cancelled mid-way, it is dropped: an ask naming it starts afresh', async () => {
    for (let n = 0; n < 3; n++) {
      const ahead = id('ahead');
      const bytes = new Uint8Array(await readFile(await writeScreenshotLike(path.join(root, `capture-${n}.png`), 1281 + n, 720)));
      const reading = send({ type: 'read-ahead', requestId: ahead, image: { kind: 'png', bytes }, detail: 'high' });
      // Dismissed after its first frame.
      while (!of(ahead).some((r) => r.type === 'read-ahead-progress')) await new Promise((r) => setTimeout(r, 1));
      await send({ type: 'cancel', requestId: ahead });
      await reading;
      const done = of(ahead).find((r) => r.type === 'read-ahead-done') as { stopped: boolean; tokens: number };
      expect(done).toMatchObject({ stopped: true, tokens: 0 });
      if (n === 0) {
        const asked = id('ask');
        await send({ type: 'ask', requestId: asked, conversationId: id('c'), start: { image: { kind: 'png', bytes }, detail: 'high', readAhead: ahead }, question: 'q', options });
        expect(doneOf(asked)!.answer.stats).toMatchObject({ reusedPromptTokens: 0 });
        expect(doneOf(asked)!.answer.stats.readAhead).toBeUndefined();
      }
    }
  });
});
