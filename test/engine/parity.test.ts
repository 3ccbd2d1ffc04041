/**
 * Our engine against an independent implementation (transformers.js) on the same generated SmolVLM-format model:
 * identical input_ids and image-token counts, identical greedy tokens, and cached decoding == uncached decoding.
 */
import ort from 'onnxruntime-node';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Answer, type ImageDetail, type Model, type PreparedImage } from '../../native-models/index.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { writeGradient, writeScreenshotLike, writeSolid } from '../support/images.js';
import { collectAnswer } from '../support/answers.js';
import { loadTransformersOffline, referenceRun, type ReferenceTensor, type Transformers } from '../support/transformers-js.js';

interface ReferenceInputs {
  input_ids: ReferenceTensor;
  pixel_values: ReferenceTensor;
  pixel_attention_mask: ReferenceTensor;
  rows: number[][];
  cols: number[][];
}

const question = 'What is on the screen?';
const maxNewTokens = 10;
let dir: string;
let tf: Transformers;
let ours: Model;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- transformers.js types its processor and model loosely
let processor: any, reference: any;
const images: Record<string, string> = {};

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'screenask-parity-'));
  await writeSmolVlmModel(path.join(dir, 'model'), { seed: 11, precisions: ['fp32'] });
  images.screenshot = await writeScreenshotLike(path.join(dir, 'screenshot.png'));
  images.portrait = await writeGradient(path.join(dir, 'portrait.png'), 600, 1400);
  images.tiny = await writeGradient(path.join(dir, 'tiny.png'), 20, 12);
  images.red = await writeSolid(path.join(dir, 'red.png'), 800, 600, [200, 30, 30]);
  images.white = await writeSolid(path.join(dir, 'white.png'), 300, 300, [255, 255, 255]);
  tf = await loadTransformersOffline();
  processor = await tf.AutoProcessor.from_pretrained(path.join(dir, 'model'), { local_files_only: true });
  reference = await tf.AutoModelForVision2Seq.from_pretrained(path.join(dir, 'model'), {
    dtype: 'fp32',
    local_files_only: true,
  });
  ours = await loadModel(path.join(dir, 'model'), { precision: 'fp32', device: 'cpu' });
});

afterAll(async () => {
  await ours?.dispose();
  await reference?.dispose?.();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function referenceAnswer(image: string, detail: ImageDetail) {
  return referenceRun<ReferenceInputs>(processor, reference, await tf.RawImage.read(image), question, {
    maxNewTokens,
    processorOptions: { do_image_splitting: detail === 'high' },
  });
}

/** The reference's preprocessed pixels, handed to our engine as a prepared image. */
function preparedFrom(inputs: ReferenceInputs): PreparedImage {
  const frames = inputs.pixel_values.dims[1]!;
  return {
    visionFeeds: {
      pixel_values: new ort.Tensor('float32', inputs.pixel_values.data as Float32Array, inputs.pixel_values.dims),
      pixel_attention_mask: new ort.Tensor('bool', inputs.pixel_attention_mask.data as Uint8Array, inputs.pixel_attention_mask.dims),
    },
    tokenCount: frames * 64,
    frames,
    layout: { rows: inputs.rows[0]![0]!, cols: inputs.cols[0]![0]! },
  };
}

async function ask(image: string | PreparedImage, detail: ImageDetail, useCache = true): Promise<Answer> {
  const conversation = ours.startConversation({ image, detail });
  return collectAnswer(conversation.ask(question, { maxNewTokens, temperature: 0, useCache }));
}

const cases: [name: string, detail: ImageDetail, frames: number][] = [
  ['screenshot', 'high', 13],
  ['screenshot', 'low', 1],
  ['portrait', 'high', 4 * 2 + 1],
  ['portrait', 'low', 1],
  ['tiny', 'high', 3 * 4 + 1], // 20×12 is upscaled to 2048×1229 first: 3 rows × 4 cols
  ['tiny', 'low', 1],
  ['red', 'high', 4 * 3 + 1],
  ['white', 'low', 1],
];

describe('parity with transformers.js', () => {
  it.each(cases)('%s, %s detail: same prompt ids and image tokens, same greedy tokens', async (name, detail, frames) => {
    const theirs = await referenceAnswer(images[name]!, detail);
    expect(theirs.inputs.pixel_values.dims[1]).toBe(frames);

    const mine = await ask(images[name]!, detail);
    expect(mine.promptTokenIds).toEqual(theirs.promptIds);
    expect(mine.stats.imageTokens).toBe(frames * 64);
    expect(mine.stats.imageTokens).toBe(theirs.promptIds.filter((id) => id === ours.imageTokenId).length);
    expect(mine.tokenIds.length).toBeGreaterThan(0);

    // Same pixels in, same tokens out: the decoding paths agree exactly.
    const samePixels = await ask(preparedFrom(theirs.inputs), detail);
    expect(samePixels.tokenIds).toEqual(theirs.tokenIds);
    // Solid colours resample identically under both resizers, so the whole pipeline agrees end to end.
    if (name === 'red' || name === 'white') expect(mine.tokenIds).toEqual(theirs.tokenIds);
  });

  it('different images give different answers (the image really reaches the decoder)', async () => {
    const a = await ask(images.red!, 'low');
    const b = await ask(images.screenshot!, 'low');
    expect(a.tokenIds).not.toEqual(b.tokenIds);
  });
});

describe('cached decoding', () => {
  it.each([
    ['screenshot', 'low'],
    ['portrait', 'high'],
    ['red', 'low'],
  ] as const)('%s, %s detail: the KV cache gives exactly the tokens of recomputing everything', async (name, detail) => {
    const cached = await ask(images[name]!, detail, true);
    const uncached = await ask(images[name]!, detail, false);
    expect(cached.stats.cache).toBe('on');
    expect(uncached.stats.cache).toBe('off');
    expect(uncached.tokenIds).toEqual(cached.tokenIds);
    expect(cached.tokenIds).toHaveLength(maxNewTokens);
  });
});
