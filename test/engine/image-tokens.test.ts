/** Image-token counts from the geometry alone (what the settings page shows per detail) against real answers. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, ScreenAskError, type ImageDetail, type Model } from '../../native-models/index.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { collectAnswer } from '../support/answers.js';
import { writeGradient, writeScreenshotLike } from '../support/images.js';

let root: string;
let model: Model;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-image-tokens-'));
  const dir = path.join(root, 'model');
  await writeSmolVlmModel(dir, { seed: 3, precisions: ['fp32'] });
  model = await loadModel(dir, { precision: 'fp32', threads: 2 });
});

afterAll(async () => {
  await model?.dispose();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('imageTokenCount', () => {
  // Frames per the processor's rules (docs: resize the longest edge to 2048 keeping the aspect, short side rounded up
  // to even, snap both sides up to multiples of 512, one tile per 512² plus a global frame; low detail is one frame),
  // worked out by hand so the check does not lean on the code under test:
  //   1920×1080 → 2048×1152 → 2048×1536: 3×4 tiles + 1 = 13;  640×360 → the same 13;
  //   500×1100 → 930×2048 → 1024×2048: 4×2 + 1 = 9;  2000×60 → 2048×62 → 2048×512: 1×4 + 1 = 5.
  // The screenshot row is also the README's figure: 13 frames, 832 image tokens at high detail, 64 at low.
  it.each([
    ['screenshot', 1920, 1080, 13],
    ['window', 640, 360, 13],
    ['portrait', 500, 1100, 9],
    ['strip', 2000, 60, 5],
  ] as const)('%s %i×%i: %i frames at high detail, 1 at low, as many image tokens in the real prompt', async (kind, width, height, frames) => {
    const file = path.join(root, `${kind}.png`);
    await (kind === 'screenshot' ? writeScreenshotLike(file, width, height) : writeGradient(file, width, height));
    const expected: Record<ImageDetail, number> = { low: 64, high: frames * 64 };
    for (const detail of ['low', 'high'] as const) {
      const answer = await collectAnswer(model.startConversation({ image: file, detail }).ask('What is this?', { maxNewTokens: 1 }));
      // What the decoder was fed, counted in the prompt itself (the vision graph's rows must match it exactly).
      const inPrompt = answer.promptTokenIds.filter((id) => id === model.imageTokenId).length;
      expect(inPrompt, detail).toBe(expected[detail]);
      expect(model.imageTokenCount({ width, height }, detail), detail).toBe(expected[detail]);
    }
  });

  it.each([
    [0, 1080],
    [1920, -1],
    [19.5, 1080],
    [Number.NaN, 1080],
  ])('refuses a size that is not whole positive pixels: %s×%s', (width, height) => {
    expect(() => model.imageTokenCount({ width, height }, 'high')).toThrow(ScreenAskError);
    expect(() => model.imageTokenCount({ width, height }, 'high')).toThrow(/positive whole number of pixels/);
  });
});
