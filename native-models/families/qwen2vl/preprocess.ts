/**
 * Qwen2-VL / Qwen2.5-VL image preprocessing (`Qwen2VLImageProcessor`): RGB pixels → `pixel_values`
 * [gt·gh·gw, C·T·P·P] (= [patches, 1176]) and the patch grid [[gt, gh, gw]] for the vision encoder.
 *
 * Steps, as the Python processor (transformers' slow `Qwen2VLImageProcessor`, what the models were trained with):
 * 1. smart_resize: each side to a multiple of 28 (patch 14 × merge 2), the area within [min_pixels, max_pixels],
 *    the aspect kept as closely as possible. Python's `round` rounds half to even; we do too.
 * 2. Resize with PIL BICUBIC on 8-bit pixels (the processor's default `resample`; no published Qwen2-VL config sets
 *    another), through `resizeLikePillow` in its exact mode: Pillow's own fixed-point arithmetic on every axis, so
 *    bit-identical to Pillow. Reductions cost ~60 ms for a 1920×1080 screenshot on a 2-core VM, against ~10 ms with
 *    sharp's Catmull-Rom reducer (the same kernel, mean 0.11/255 from Pillow but up to 22/255 at 1-px edges); once
 *    per image, next to a vision tower that takes far longer, exactness wins.
 * 3. Rescale by 1/255 and normalise with the CLIP mean/std, in float32 as numpy does.
 * 4. Duplicate the image into `temporal_patch_size` (2) frames and flatten to patches, each 2×2 merge group being 4
 *    consecutive rows: view (gt, T, C, gh/2, 2, P, gw/2, 2, P), permute (0, 3, 6, 4, 7, 2, 1, 5, 8).
 *
 * transformers.js 4.3.1 differs in three places, none of which we copy: it resizes with sharp's affine interpolator,
 * which does not antialias, and bilinear when the config names no `resample` (Qwen's do not: Python's default is
 * BICUBIC, transformers.js's 2), so thin strokes alias on every reduction; it enlarges a side below 28 px before smart_resize and
 * rounds half up (`Math.round`), so sizes whose side is an odd multiple of 14 (e.g. 70 px: Python 56, it 84) and some
 * tiny images get another grid; it normalises in float64 before storing float32 (≤ 1 ulp from numpy's float32).
 *
 * Pixel budget. The published configs allow 12,845,056 px (~16,000 image tokens) per image: fine for a photo on a
 * datacentre GPU, far too much for a screenshot on a laptop: the vision tower's attention grows with the square of
 * the patch count. So the engine caps max_pixels per detail level (see `QWEN2VL_PIXEL_BUDGETS`); the model's own,
 * smaller max_pixels still wins, and an explicit `maxPixels` overrides both.
 */
import { z } from 'zod';
import { assertRgbImage, type RgbImage } from '../../image/load-image.js';
import { normalisationLuts, type ChannelLuts, type PixelNormalisation } from '../../image/normalise.js';
import { normalisationFields, parsePreprocessorConfig, positiveInt, readNormalisation, resampleField, withDefault } from '../../image/preprocessor-config.js';
import { resizeLikePillow, type PillowFilter } from '../../image/resize.js';
import { ScreenAskError } from '../../model/errors.js';

export type Qwen2VlDetail = 'low' | 'high';

/**
 * The engine's max_pixels per detail level, in multiples of 28² px (one image token per 28×28 block).
 *
 * - `high`: 2048 tokens (1,605,632 px ≈ 1.6 MP), about the logical resolution of a full-HD screen. A 1920×1080
 *   screenshot becomes 1680×924 (1,980 tokens): 12–14 px UI text stays ≥ 10 px, which Qwen reads (patches are
 *   14 px). HiDPI screens draw the same text with 1.5–2× the pixels, so the same budget keeps it as legible: a
 *   2560×1440 capture drops from 4,641 tokens at native size to 1,980, a 3840×2160 one from 10,549 (the native
 *   1920×1080 would cost 2,691).
 * - `low`: 512 tokens (401,408 px ≈ 0.4 MP): 1920×1080 becomes 840×448 (480 tokens). Layout, large text, dialogs
 *   and icons survive; dense 12 px text does not. Prefill and the vision tower cost ~4× less than at `high`
 *   (the tower's full-attention layers ~16× less), which keeps a CPU or a small GPU responsive.
 */
export const QWEN2VL_PIXEL_BUDGETS: Readonly<Record<Qwen2VlDetail, number>> = {
  low: 512 * 28 * 28,
  high: 2048 * 28 * 28,
};

export interface Qwen2VlPreprocessorConfig extends PixelNormalisation {
  doResize: boolean;
  resample: PillowFilter;
  /** From the config: `min_pixels`, else `size.shortest_edge`. */
  minPixels: number;
  /** From the config: `max_pixels`, else `size.longest_edge`. */
  maxPixels: number;
  patchSize: number;
  temporalPatchSize: number;
  mergeSize: number;
}

/** Overrides of the engine's per-detail pixel budget (both in pixels). */
export interface Qwen2VlPixelOptions {
  readonly maxPixels?: number;
  readonly minPixels?: number;
}

export interface Qwen2VlLayout {
  /** The size smart_resize picked (what the image is resized to). */
  resized: { width: number; height: number };
  /** Patch grid [t, h, w] as the vision encoder takes it (`grid_thw` / `image_grid_thw`). */
  grid: readonly [number, number, number];
  /** Rows of pixel_values: t·h·w. */
  patches: number;
  /** Image tokens in the prompt (feature rows the vision encoder returns): t·h·w / merge². */
  tokens: number;
  mergeSize: number;
}

export interface Qwen2VlImageInput extends Qwen2VlLayout {
  /** [patches, C·T·P·P] row-major float32. */
  pixelValues: Float32Array;
  /** Values per row: C·T·P·P (1176). */
  patchDim: number;
}

const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

// Defaults are the Python Qwen2VLImageProcessor's.
const configSchema = z.looseObject({
  do_resize: withDefault(z.boolean(), true),
  resample: resampleField('bicubic'),
  ...normalisationFields(CLIP_MEAN, CLIP_STD),
  min_pixels: positiveInt.nullish(),
  max_pixels: positiveInt.nullish(),
  size: z.looseObject({ shortest_edge: positiveInt.optional(), longest_edge: positiveInt.optional() }).nullish(),
  patch_size: withDefault(positiveInt, 14),
  temporal_patch_size: withDefault(positiveInt, 2),
  merge_size: withDefault(positiveInt, 2),
});

export function parseQwen2VlPreprocessorConfig(json: unknown): Qwen2VlPreprocessorConfig {
  const c = parsePreprocessorConfig(configSchema, json);
  const minPixels = c.min_pixels ?? c.size?.shortest_edge ?? 56 * 56;
  const maxPixels = c.max_pixels ?? c.size?.longest_edge ?? 28 * 28 * 1280;
  if (minPixels > maxPixels) {
    throw new ScreenAskError(`Invalid preprocessor_config.json: min_pixels ${minPixels} is above max_pixels ${maxPixels}.`);
  }
  return {
    doResize: c.do_resize,
    resample: c.resample,
    ...readNormalisation(c),
    minPixels,
    maxPixels,
    patchSize: c.patch_size,
    temporalPatchSize: c.temporal_patch_size,
    mergeSize: c.merge_size,
  };
}

/** Python 3's `round(x)`: to the nearest integer, ties to even. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const frac = x - floor;
  if (frac > 0.5) return floor + 1;
  if (frac < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * Python `smart_resize(height, width, factor, min_pixels, max_pixels)` (transformers' Qwen2-VL image processor), same
 * double arithmetic in the same order, so the same sides: each a multiple of `factor`, area within the bounds.
 */
export function smartResize(
  height: number,
  width: number,
  factor: number,
  minPixels: number,
  maxPixels: number,
): { width: number; height: number } {
  if (!Number.isInteger(height) || !Number.isInteger(width) || height <= 0 || width <= 0) {
    throw new ScreenAskError(`An image size is a positive whole number of pixels on each side, got ${width}×${height}.`);
  }
  const ratio = Math.max(height, width) / Math.min(height, width);
  if (ratio > 200) {
    throw new ScreenAskError(
      `The image is ${width}×${height} px, an aspect ratio of ${Math.round(ratio)}:1; Qwen2-VL accepts at most 200:1: crop it first.`,
    );
  }
  let hBar = roundHalfEven(height / factor) * factor;
  let wBar = roundHalfEven(width / factor) * factor;
  if (hBar * wBar > maxPixels) {
    const beta = Math.sqrt((height * width) / maxPixels);
    hBar = Math.max(factor, Math.floor(height / beta / factor) * factor);
    wBar = Math.max(factor, Math.floor(width / beta / factor) * factor);
  } else if (hBar * wBar < minPixels) {
    const beta = Math.sqrt(minPixels / (height * width));
    hBar = Math.ceil((height * beta) / factor) * factor;
    wBar = Math.ceil((width * beta) / factor) * factor;
  }
  return { width: wBar, height: hBar };
}

/** The [min, max] pixel bounds smart_resize uses for this detail: the config's, capped by the engine's budget. */
export function pixelBounds(
  config: Qwen2VlPreprocessorConfig,
  detail: Qwen2VlDetail,
  options: Qwen2VlPixelOptions = {},
): { minPixels: number; maxPixels: number } {
  for (const [name, value] of Object.entries(options)) {
    if (value !== undefined && (!Number.isInteger(value) || value <= 0)) {
      throw new ScreenAskError(`Invalid setting ${name}: a whole number of pixels above 0 (got ${String(value)}).`);
    }
  }
  const maxPixels = options.maxPixels ?? Math.min(config.maxPixels, QWEN2VL_PIXEL_BUDGETS[detail]);
  const minPixels = Math.min(options.minPixels ?? config.minPixels, maxPixels);
  return { minPixels, maxPixels };
}

/** Resize target, patch grid and token count for an image of this size; nothing is resized. */
export function qwen2VlLayout(
  width: number,
  height: number,
  config: Qwen2VlPreprocessorConfig,
  detail: Qwen2VlDetail,
  options: Qwen2VlPixelOptions = {},
): Qwen2VlLayout {
  const { patchSize: P, mergeSize: M } = config;
  const factor = P * M;
  let resized = { width, height };
  if (config.doResize) {
    const { minPixels, maxPixels } = pixelBounds(config, detail, options);
    resized = smartResize(height, width, factor, minPixels, maxPixels);
  } else if (width % factor !== 0 || height % factor !== 0) {
    throw new ScreenAskError(
      `With do_resize false the image must already be a multiple of ${factor} px on each side, got ${width}×${height}.`,
    );
  }
  // One image is duplicated into temporal_patch_size identical frames: one temporal patch.
  const gridT = 1;
  const gridH = resized.height / P;
  const gridW = resized.width / P;
  const patches = gridT * gridH * gridW;
  return { resized, grid: [gridT, gridH, gridW], patches, tokens: patches / (M * M), mergeSize: M };
}

export async function preprocessQwen2Vl(
  image: RgbImage,
  config: Qwen2VlPreprocessorConfig,
  detail: Qwen2VlDetail,
  options: Qwen2VlPixelOptions = {},
): Promise<Qwen2VlImageInput> {
  assertRgbImage(image, 'preprocessQwen2Vl');
  const layout = qwen2VlLayout(image.width, image.height, config, detail, options);
  const { width, height } = layout.resized;
  const resized =
    width === image.width && height === image.height
      ? image
      : await resizeLikePillow(image, width, height, config.resample, { exact: true });
  const { patchSize: P, temporalPatchSize: T } = config;
  const patchDim = 3 * T * P * P;
  const pixelValues = new Float32Array(layout.patches * patchDim);
  // numpy's float32 arithmetic, as the Python processor normalises (see normalise.ts).
  writePatches(pixelValues, resized, config, normalisationLuts(config, 'float32'));
  return { ...layout, pixelValues, patchDim };
}

/**
 * Writes the patches in the processor's order. Row r = ((t·(gh/M) + bh)·(gw/M) + bw)·M² + mh·M + mw is the patch at
 * patch row bh·M + mh, patch column bw·M + mw; within a row the values run (channel, frame, y, x). Every frame is the
 * same image, so each channel's P×P block is written T times.
 */
function writePatches(
  out: Float32Array,
  img: RgbImage,
  config: Qwen2VlPreprocessorConfig,
  luts: ChannelLuts,
): void {
  const { patchSize: P, mergeSize: M, temporalPatchSize: T } = config;
  const gh = img.height / P;
  const gw = img.width / P;
  const block = P * P;
  const patchDim = 3 * T * block;
  const stride = img.width * 3;
  const data = img.data;
  let row = 0;
  for (let bh = 0; bh < gh / M; bh++) {
    for (let bw = 0; bw < gw / M; bw++) {
      for (let mh = 0; mh < M; mh++) {
        for (let mw = 0; mw < M; mw++, row++) {
          const y0 = (bh * M + mh) * P;
          const x0 = (bw * M + mw) * P;
          const base = row * patchDim;
          for (let c = 0; c < 3; c++) {
            const lut = luts[c as 0 | 1 | 2];
            const first = base + c * T * block;
            for (let py = 0; py < P; py++) {
              let s = (y0 + py) * stride + x0 * 3 + c;
              const o = first + py * P;
              for (let px = 0; px < P; px++, s += 3) out[o + px] = lut[data[s]!]!;
            }
            for (let t = 1; t < T; t++) out.copyWithin(first + t * block, first, first + block);
          }
        }
      }
    }
  }
}
