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
  it.each([
    // A full-HD screenshot (what the settings page reports), a small window, a portrait phone shot, a thin strip.
    ['screenshot', 1920, 1080],
    ['window', 640, 360],
    ['portrait', 500, 1100],
    ['strip', 2000, 60],
  ] as const)('equals the image tokens of a real answer at both details: %s %i×%i', async (kind, width, height) => {
    const file = path.join(root, `${kind}.png`);
    await (kind === 'screenshot' ? writeScreenshotLike(file, width, height) : writeGradient(file, width, height));
    const counts: Record<ImageDetail, number> = { low: 0, high: 0 };
    for (const detail of ['low', 'high'] as const) {
      const answer = await collectAnswer(model.startConversation({ image: file, detail }).ask('What is this?', { maxNewTokens: 1 }));
      expect(model.imageTokenCount({ width, height }, detail), detail).toBe(answer.stats.imageTokens);
      counts[detail] = answer.stats.imageTokens;
    }
    // The trade the detail setting makes: high never costs less than low.
    expect(counts.high).toBeGreaterThanOrEqual(counts.low);
  });

  it('gives the figures the README quotes for a 1920×1080 screenshot (one 64-token frame, or 13 frames)', () => {
    expect(model.imageTokenCount({ width: 1920, height: 1080 }, 'low')).toBe(64);
    expect(model.imageTokenCount({ width: 1920, height: 1080 }, 'high')).toBe(13 * 64);
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
