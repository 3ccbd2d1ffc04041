/**
 * Reading a capture ahead of the question (Conversation.readAhead): the answer is token for token the one without it,
 * for both families and both detail levels; the first ask reads only the question; an ask that comes while the
 * read-ahead runs waits for it and never starts again; a stopped read-ahead keeps its frames; SmolVLM encodes one frame
 * per vision call, with the features of the whole image in one call.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReadAheadProgress } from '../../native-models/index.js';
import { loadModel, type ImageDetail, type Model } from '../../native-models/index.js';
import type { LoadedModel } from '../../native-models/model/load.js';
import { writeQwen2VlModel } from '../fixtures/qwen2vl/generate.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { collectAnswer } from '../support/answers.js';
import { writeScreenshotLike } from '../support/images.js';

let root: string;
let image: string;
const models: Record<'smolvlm' | 'qwen2_5_vl', Model> = {} as never;
const question = 'What does this error mean?';
const ask = { maxNewTokens: 8, temperature: 0 } as const;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-read-ahead-'));
  image = await writeScreenshotLike(path.join(root, 'screen.png'), 1280, 720);
  await writeSmolVlmModel(path.join(root, 'smolvlm'), { seed: 5, precisions: ['fp32'] });
  await writeQwen2VlModel(path.join(root, 'qwen'), { family: 'qwen2_5_vl', seed: 6, precisions: ['fp32'] });
  models.smolvlm = await loadModel(path.join(root, 'smolvlm'), { precision: 'fp32' });
  models.qwen2_5_vl = await loadModel(path.join(root, 'qwen'), { precision: 'fp32' });
});

afterAll(async () => {
  for (const model of Object.values(models)) await model?.dispose();
  if (root) await rm(root, { recursive: true, force: true });
});

/** Counts the vision encoder's calls (the test reaches into the loaded model: the public API has no such hook). */
function countVisionCalls(model: Model): { calls: number; restore(): void } {
  const vision = (model as unknown as { loaded: LoadedModel }).loaded.graphs.vision;
  const run = vision.run.bind(vision);
  const counter = {
    calls: 0,
    restore: () => void (vision.run = run),
  };
  vision.run = ((feeds: ort.InferenceSession.FeedsType) => (counter.calls++, run(feeds))) as typeof vision.run;
  return counter;
}

describe.each(['smolvlm', 'qwen2_5_vl'] as const)('read-ahead (%s)', (family) => {
  it.each(['high', 'low'] as ImageDetail[])('%s detail: the same greedy answer; the first ask reads only the question', async (detail) => {
    const model = models[family];
    model.clearImageCache();
    const plain = await collectAnswer(model.startConversation({ image, detail }).ask(question, ask));
    model.clearImageCache();
    const conversation = model.startConversation({ image, detail });
    const progress: ReadAheadProgress[] = [];
    const result = await conversation.readAhead({ onProgress: (p) => progress.push(p) });
    const answer = await collectAnswer(conversation.ask(question, ask));

    expect(answer.tokenIds).toEqual(plain.tokenIds);
    expect(answer.promptTokenIds).toEqual(plain.promptTokenIds);
    expect(result).toMatchObject({ stopped: false });
    // Everything before the question came from the read-ahead: the image and the template's opening.
    expect(result.tokens).toBeGreaterThan(plain.stats.imageTokens);
    expect(answer.stats.reusedPromptTokens).toBe(result.tokens);
    expect(answer.stats.readAhead).toEqual({ tokens: result.tokens, ms: result.ms });
    expect(answer.stats.imageEncodeMs).toBe(0);
    expect(plain.stats.readAhead).toBeUndefined();
    // Progress: each vision call once, in order, then the prefill, then ready.
    const encoding = progress.filter((p) => p.stage === 'encoding');
    const total = family === 'smolvlm' && detail === 'high' ? 13 : 1;
    expect(encoding).toEqual(Array.from({ length: total }, (_, i) => ({ stage: 'encoding', done: i + 1, total })));
    expect(progress.slice(total)).toEqual([
      { stage: 'prefill', tokens: result.tokens },
      { stage: 'ready', tokens: result.tokens },
    ]);
  });

  it('an ask while the read-ahead runs waits for it and continues; the image is encoded once', async () => {
    const model = models[family];
    model.clearImageCache();
    const counter = countVisionCalls(model);
    try {
      const conversation = model.startConversation({ image, detail: 'high' });
      const reading = conversation.readAhead();
      const answer = await collectAnswer(conversation.ask(question, ask));
      const result = await reading;
      expect(answer.stats.readAhead?.tokens).toBe(result.tokens);
      expect(answer.stats.reusedPromptTokens).toBe(result.tokens);
      expect(counter.calls).toBe(family === 'smolvlm' ? 13 : 1);
      // Only before the first question.
      await expect(conversation.readAhead()).rejects.toThrow(/already started/);
    } finally {
      counter.restore();
    }
  });
});

describe('read-ahead, stopped', () => {
  it('stops between frames, keeps them, and the first ask encodes only the rest (same answer)', async () => {
    const model = models.smolvlm;
    model.clearImageCache();
    const plain = await collectAnswer(model.startConversation({ image, detail: 'high' }).ask(question, ask));
    model.clearImageCache();
    const counter = countVisionCalls(model);
    try {
      const conversation = model.startConversation({ image, detail: 'high' });
      const stop = new AbortController();
      const result = await conversation.readAhead({
        signal: stop.signal,
        onProgress: (p) => p.stage === 'encoding' && p.done === 3 && stop.abort(),
      });
      expect(result).toMatchObject({ stopped: true, tokens: 0 });
      expect(counter.calls).toBe(3);
      const answer = await collectAnswer(conversation.ask(question, ask));
      expect(answer.tokenIds).toEqual(plain.tokenIds);
      expect(counter.calls).toBe(13);
      // Stopped before its prefill: the question read the whole prompt.
      expect(answer.stats.reusedPromptTokens).toBe(0);
    } finally {
      counter.restore();
    }
  });

  it('waits at each pause point until the host lets it go on', async () => {
    const model = models.smolvlm;
    model.clearImageCache();
    let release!: () => void;
    let gate = new Promise<void>((resolve) => (release = resolve));
    const progress: ReadAheadProgress[] = [];
    const conversation = model.startConversation({ image, detail: 'low' });
    const reading = conversation.readAhead({ pause: () => gate, onProgress: (p) => progress.push(p) });
    await new Promise((r) => setTimeout(r, 50));
    expect(progress).toEqual([]);
    release();
    gate = Promise.resolve();
    expect((await reading).stopped).toBe(false);
    expect(progress.map((p) => p.stage)).toEqual(['encoding', 'prefill', 'ready']);
  });

  it('an ask cancelled while it waits for the read-ahead ends at once; the read-ahead goes on, and the next ask uses it', async () => {
    const model = models.smolvlm;
    model.clearImageCache();
    const plain = await collectAnswer(model.startConversation({ image, detail: 'low' }).ask(question, ask));
    model.clearImageCache();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const conversation = model.startConversation({ image, detail: 'low' });
    // Held at its first pause point (as the model process holds it while another window's answer streams).
    const reading = conversation.readAhead({ pause: () => gate });
    const stop = new AbortController();
    const waiting = collectAnswer(conversation.ask(question, { ...ask, signal: stop.signal }));
    await new Promise((r) => setTimeout(r, 20));
    stop.abort();
    const outcome = await Promise.race([waiting, new Promise<'still waiting'>((r) => setTimeout(() => r('still waiting'), 5_000))]);
    release();
    expect(outcome).toMatchObject({ tokenIds: [], stats: { stopReason: 'cancelled', generatedTokens: 0 } });
    expect(conversation.history).toEqual([]);
    const result = await reading;
    expect(result.stopped).toBe(false);
    const answer = await collectAnswer(conversation.ask(question, ask));
    expect(answer.tokenIds).toEqual(plain.tokenIds);
    expect(answer.stats.readAhead?.tokens).toBe(result.tokens);
  });

  it('an ask cancelled while its image is still encoding leaves the conversation as it was', async () => {
    const model = models.smolvlm;
    model.clearImageCache();
    const conversation = model.startConversation({ image, detail: 'high' });
    const cancelled = await collectAnswer(conversation.ask(question, { ...ask, signal: AbortSignal.abort() }));
    expect(cancelled).toMatchObject({ tokenIds: [], stats: { stopReason: 'cancelled', generatedTokens: 0 } });
    expect(conversation.history).toEqual([]);
    model.clearImageCache();
    const plain = await collectAnswer(model.startConversation({ image, detail: 'high' }).ask(question, ask));
    expect((await collectAnswer(conversation.ask(question, ask))).tokenIds).toEqual(plain.tokenIds);
  });
});

describe('SmolVLM frame by frame', () => {
  it('loading runs one vision call, of the shape every high-detail frame has (none with warmUp: false)', async () => {
    // Every session's run, the ones load opens included (the class is typed as a factory: its prototype is there).
    const { default: ort } = await import('onnxruntime-node');
    const sessions = (ort.InferenceSession as unknown as { prototype: ort.InferenceSession }).prototype;
    const visionRuns: (readonly number[])[] = [];
    const run = sessions.run;
    sessions.run = function (this: ort.InferenceSession, feeds: ort.InferenceSession.FeedsType, ...rest: unknown[]) {
      const pixels = (feeds as Record<string, ort.Tensor | undefined>).pixel_values;
      if (pixels) visionRuns.push(pixels.dims);
      return (run as (...args: unknown[]) => ReturnType<typeof run>).call(this, feeds, ...rest);
    } as typeof run;
    try {
      const warm = await loadModel(path.join(root, 'smolvlm'), { precision: 'fp32' });
      await warm.dispose();
      const { family } = (models.smolvlm as unknown as { loaded: LoadedModel }).loaded;
      const { loadImage } = await import('../../native-models/image/load-image.js');
      const highFrames = family.visionCalls(await family.prepareImage(await loadImage(image), 'high'));
      expect(highFrames.length).toBeGreaterThan(1);
      expect(visionRuns).toEqual([highFrames[0]!.pixel_values!.dims]);
      visionRuns.length = 0;
      const cold = await loadModel(path.join(root, 'smolvlm'), { precision: 'fp32', warmUp: false });
      await cold.dispose();
      expect(visionRuns).toEqual([]);
    } finally {
      sessions.run = run;
    }
  });

  it('one vision call per frame gives, bit for bit, the features of one call over all frames', async () => {
    const { family, graphs } = (models.smolvlm as unknown as { loaded: LoadedModel }).loaded;
    const { loadImage } = await import('../../native-models/image/load-image.js');
    const prepared = await family.prepareImage(await loadImage(image), 'high');
    const calls = family.visionCalls(prepared);
    expect(calls).toHaveLength(prepared.frames);
    expect(calls.every((call) => call.pixel_values!.dims.join() === [1, 1, 3, 512, 512].join())).toBe(true);
    const whole = (await graphs.vision.run(prepared.visionFeeds)).image_features!.data as Float32Array;
    const parts = await Promise.all(calls.map(async (call) => (await graphs.vision.run(call)).image_features!.data as Float32Array));
    const joined = new Float32Array(whole.length);
    let at = 0;
    for (const part of parts) {
      joined.set(part, at);
      at += part.length;
    }
    expect(at).toBe(whole.length);
    let worst = 0;
    for (let i = 0; i < whole.length; i++) worst = Math.max(worst, Math.abs(whole[i]! - joined[i]!));
    expect(worst).toBe(0);
  });
});
