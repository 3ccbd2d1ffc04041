/**
 * The images the bench asks about, per family.
 *
 * SmolVLM: one 1920×1080 capture for both detail levels; both engines cut it into the same 512² frames.
 *
 * Qwen2-VL: each detail level has its own pixel budget in our engine (QWEN2VL_PIXEL_BUDGETS: 0.4 MP low, 1.6 MP
 * high), while transformers.js resizes to the model's max_pixels (12.8 MP by default): the same capture would give
 * the two engines different image token counts. So each engine is fed, per detail, the capture already at the size
 * our engine resizes it to (a multiple of 28 px on each side, within both budgets): smart_resize then keeps it as it
 * is in both, and the image tokens are equal (the report checks this run by run).
 *
 * The Qwen capture is 1280×720, not 1920×1080: at high detail a 1920×1080 capture becomes 1680×924, 1,980 tokens
 * or 7,920 patches, and the fixture's vision tower attends over all patches at once ([16 heads, N, N] float32
 * scores), ~20 GB at the peak per process, which onnxruntime's arena then keeps. 1280×720 gives 1,196 tokens
 * (5–9 GB at the peak) and, at low detail, the same 840×448 (480 tokens) as 1920×1080 does.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseQwen2VlPreprocessorConfig, qwen2VlLayout } from '../native-models/families/qwen2vl/preprocess.js';
import { writeScreenshotLike } from '../test/support/images.js';
import type { BenchFamily, Detail } from './types.js';

export interface ImageInfo {
  readonly file: string;
  readonly width: number;
  readonly height: number;
}

export interface BenchImages {
  /** The screen capture the question is about. */
  readonly capture: { readonly width: number; readonly height: number };
  /** What each detail level is fed: the capture itself, or the capture pre-sized to our engine's budget. */
  readonly perDetail: Readonly<Record<Detail, ImageInfo>>;
  /** True when perDetail holds pre-sized images (Qwen); the report then states the image token parity. */
  readonly preSized: boolean;
}

export const CAPTURE: Readonly<Record<BenchFamily, { width: number; height: number }>> = {
  smolvlm: { width: 1920, height: 1080 },
  'qwen2.5-vl': { width: 1280, height: 720 },
};

/** The size our engine resizes a capture to at each detail level, from the model's own preprocessor_config.json. */
export function qwenDetailSizes(modelDir: string, capture: { width: number; height: number }): Record<Detail, { width: number; height: number }> {
  const config = parseQwen2VlPreprocessorConfig(JSON.parse(readFileSync(path.join(modelDir, 'preprocessor_config.json'), 'utf8')));
  const size = (detail: Detail) => qwen2VlLayout(capture.width, capture.height, config, detail).resized;
  return { low: size('low'), high: size('high') };
}

async function screenshot(cacheDir: string, width: number, height: number): Promise<ImageInfo> {
  const file = path.join(cacheDir, `screenshot-${width}x${height}.png`);
  if (!existsSync(file)) await writeScreenshotLike(file, width, height);
  return { file, width, height };
}

export async function benchImages(family: BenchFamily, modelDir: string, cacheDir: string): Promise<BenchImages> {
  const capture = CAPTURE[family];
  if (family === 'smolvlm') {
    const image = await screenshot(cacheDir, capture.width, capture.height);
    return { capture, perDetail: { low: image, high: image }, preSized: false };
  }
  const sizes = qwenDetailSizes(modelDir, capture);
  return {
    capture,
    perDetail: {
      low: await screenshot(cacheDir, sizes.low.width, sizes.low.height),
      high: await screenshot(cacheDir, sizes.high.width, sizes.high.height),
    },
    preSized: true,
  };
}
