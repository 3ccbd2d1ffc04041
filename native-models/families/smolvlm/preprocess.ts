/**
 * SmolVLM / Idefics3 image preprocessing: RGB pixels → `pixel_values` [1, frames, 3, S, S] and
 * `pixel_attention_mask` [1, frames, S, S] for the vision encoder.
 *
 * Reference choice. The two implementations disagree:
 * - Python `Idefics3ImageProcessor` (transformers; what SmolVLM was trained with): every resize is Pillow LANCZOS on
 *   uint8 pixels; the first resize truncates the short side and rounds it up to an even number.
 * - transformers.js 4.3.1 (what our tests compare against): the first resize is sharp lanczos3 on uint8 with the short
 *   side from `toFixed(2)`; every later resize (snap to multiples of S, the global frame, the unsplit frame) is ONNX
 *   bilinear *without antialiasing* on already-normalised floats.
 * We follow Python, because the weights learned its pixel statistics: the global / low-detail frame is a ~4×
 * reduction, and bilinear without antialiasing turns thin text strokes into aliasing noise training never showed.
 * Resizes go through `resizeLikePillow` (bit-identical to Pillow on enlarged axes, sharp within ~0.1/255 on reduced
 * ones). Measured against the Python processor's steps replayed with Pillow 12.3 on 11 screenshots / photos / noise
 * images: tiles cut from enlarged images bit-identical (whole tensors mean |Δ| ≤ 0.0005), global and low-detail
 * frames mean |Δ| ≤ 0.0065, max 0.24 (normalised units; 1/255 = 0.0078); transformers.js is 0.003–0.065, max 1.7,
 * from the same reference.
 * Geometry follows Python too; it equals transformers.js for every size except rare ones where the two short-side
 * roundings land on opposite sides of a multiple of S (~100 of the 16.7 M sizes up to 4096², e.g. 1026×770: Python
 * 3×4 tiles, transformers.js 4×4) and extreme aspect ratios where transformers.js computes a 0-px side and fails.
 */
import { z } from 'zod';
import { assertRgbImage, type RgbImage } from '../../image/load-image.js';
import { normalisationLuts, type ChannelLuts, type PixelNormalisation } from '../../image/normalise.js';
import { normalisationFields, parsePreprocessorConfig, positiveInt, readNormalisation, resampleField, withDefault } from '../../image/preprocessor-config.js';
import { resizeLikePillow, type PillowFilter } from '../../image/resize.js';

export interface Idefics3PreprocessorConfig extends PixelNormalisation {
  doResize: boolean;
  /** `size.longest_edge`: the long side of the first resize (small images are upscaled to it). */
  longestEdge: number;
  /** `max_image_size.longest_edge`: side S of every square frame fed to the vision encoder. */
  frameSize: number;
  doImageSplitting: boolean;
  /** The config's PIL `resample` filter (LANCZOS for every published SmolVLM). */
  resample: PillowFilter;
  /** Our images are RGB by construction (loadImage); kept so the config round-trips. */
  doConvertRgb: boolean;
  /** Only pads across a batch in Python; a single image's frames are all S×S, so the mask is all ones. */
  doPad: boolean;
}

export interface Idefics3ImageInput {
  /** [1, frames, 3, S, S] row-major float32. */
  pixelValues: Float32Array;
  /** [1, frames, S, S]; 1 = real pixel. Fed to ORT as bool. */
  pixelAttentionMask: Uint8Array;
  frames: number;
  /** Tile grid (0 × 0 when the image is one frame). */
  rows: number;
  cols: number;
  frameSize: number;
}

export type Idefics3Detail = 'low' | 'high';

export interface Idefics3Layout {
  /** Size after the first (longest-edge) resize; the input size when `do_resize` is false. */
  resized: Size;
  /** The image the frames are cut from: multiples of S when splitting, S×S otherwise. */
  canvas: Size;
  rows: number;
  cols: number;
  frames: number;
  frameSize: number;
}

interface Size {
  width: number;
  height: number;
}

// transformers' MAX_IMAGE_SIZE: the first resize never goes above 4096 px.
const PYTHON_MAX_IMAGE_SIZE = 4096;

// Defaults are Idefics3ImageProcessor's (SmolVLMImageProcessor has the same ones).
const configSchema = z.looseObject({
  do_resize: withDefault(z.boolean(), true),
  size: withDefault(z.looseObject({ longest_edge: positiveInt }), { longest_edge: 4 * 364 }),
  max_image_size: withDefault(z.looseObject({ longest_edge: positiveInt }), { longest_edge: 364 }),
  do_image_splitting: withDefault(z.boolean(), true),
  resample: resampleField('lanczos'),
  ...normalisationFields([0.5, 0.5, 0.5], [0.5, 0.5, 0.5]),
  do_convert_rgb: withDefault(z.boolean(), true),
  do_pad: withDefault(z.boolean(), true),
});

export function parseIdefics3PreprocessorConfig(json: unknown): Idefics3PreprocessorConfig {
  const c = parsePreprocessorConfig(configSchema, json);
  return {
    doResize: c.do_resize,
    longestEdge: c.size.longest_edge,
    frameSize: c.max_image_size.longest_edge,
    doImageSplitting: c.do_image_splitting,
    resample: c.resample,
    ...readNormalisation(c),
    doConvertRgb: c.do_convert_rgb,
    doPad: c.do_pad,
  };
}

/**
 * Frame geometry for an image of the given size, as the Python processor computes it (Python's int() truncation
 * is Math.trunc on the same doubles, so the float behaviour is identical too).
 */
export function idefics3Layout(
  width: number,
  height: number,
  config: Idefics3PreprocessorConfig,
  detail: Idefics3Detail,
): Idefics3Layout {
  const S = config.frameSize;
  const resized = config.doResize ? longestEdgeSize(width, height, config.longestEdge) : { width, height };
  if (detail === 'low' || !config.doImageSplitting) {
    return { resized, canvas: { width: S, height: S }, rows: 0, cols: 0, frames: 1, frameSize: S };
  }
  const canvas = snapToFrames(resized, S);
  if (canvas.width <= S && canvas.height <= S) {
    return { resized, canvas, rows: 0, cols: 0, frames: 1, frameSize: S };
  }
  const rows = Math.ceil(canvas.height / S);
  const cols = Math.ceil(canvas.width / S);
  return { resized, canvas, rows, cols, frames: rows * cols + 1, frameSize: S };
}

/** Python `_resize_output_size_rescale_to_max_len` then `_resize_output_size_scale_below_upper_bound`. */
function longestEdgeSize(width: number, height: number, maxLen: number): Size {
  const aspect = width / height;
  let w: number;
  let h: number;
  if (width >= height) {
    w = maxLen;
    h = Math.trunc(w / aspect);
    if (h % 2 !== 0) h += 1;
  } else {
    h = maxLen;
    w = Math.trunc(h * aspect);
    if (w % 2 !== 0) w += 1;
  }
  w = Math.max(w, 1);
  h = Math.max(h, 1);
  const aspect2 = w / h;
  if (w >= h && w > PYTHON_MAX_IMAGE_SIZE) {
    w = PYTHON_MAX_IMAGE_SIZE;
    h = Math.trunc(w / aspect2);
  } else if (h > w && h > PYTHON_MAX_IMAGE_SIZE) {
    h = PYTHON_MAX_IMAGE_SIZE;
    w = Math.trunc(h * aspect2);
  }
  return { width: Math.max(w, 1), height: Math.max(h, 1) };
}

/** Python `resize_for_vision_encoder` (identical in transformers.js): both sides up to multiples of S. */
function snapToFrames({ width, height }: Size, S: number): Size {
  const aspect = width / height;
  let w: number;
  let h: number;
  if (width >= height) {
    w = Math.ceil(width / S) * S;
    h = Math.ceil(Math.trunc(w / aspect) / S) * S;
  } else {
    h = Math.ceil(height / S) * S;
    w = Math.ceil(Math.trunc(h * aspect) / S) * S;
  }
  return { width: Math.max(w, S), height: Math.max(h, S) };
}

export async function preprocessIdefics3(
  image: RgbImage,
  config: Idefics3PreprocessorConfig,
  detail: Idefics3Detail,
): Promise<Idefics3ImageInput> {
  assertRgbImage(image, 'preprocessIdefics3');
  const layout = idefics3Layout(image.width, image.height, config, detail);
  const S = layout.frameSize;
  const plane = S * S;
  const pixelValues = new Float32Array(layout.frames * 3 * plane);
  // (x − mean) / std in double, then float32, as transformers.js does (numpy's float32 steps are ≤ 1 ulp away).
  const luts = normalisationLuts(config, 'float64');

  const resize = (img: RgbImage, size: Size) => resizeLikePillow(img, size.width, size.height, config.resample);
  const canvas = skipsEnlargement(image, layout)
    ? await resize(image, layout.canvas)
    : await resize(await resize(image, layout.resized), layout.canvas);
  if (layout.frames === 1) {
    writeFrame(pixelValues, 0, canvas, 0, 0, S, luts);
  } else {
    // The global frame is reduced from the snapped canvas, as in Python; sharp does that on its own threads while
    // we normalise the tiles here.
    const globalFrame = resize(canvas, { width: S, height: S });
    let frame = 0;
    for (let r = 0; r < layout.rows; r++) {
      for (let c = 0; c < layout.cols; c++) {
        // The canvas is an exact multiple of S, so both references' anchoring (Python clips, transformers.js pins
        // the last row/column to the bottom/right edge) reduce to the plain grid.
        writeFrame(pixelValues, frame++, canvas, c * S, r * S, S, luts);
      }
    }
    writeFrame(pixelValues, frame, await globalFrame, 0, 0, S, luts);
  }

  return {
    pixelValues,
    pixelAttentionMask: new Uint8Array(layout.frames * plane).fill(1),
    frames: layout.frames,
    rows: layout.rows,
    cols: layout.cols,
    frameSize: S,
  };
}

/**
 * A single frame that Python makes by enlarging to the 2048 edge and then reducing to S×S can come straight from the
 * original with one reduction: Lanczos interpolates, so enlarge-then-reduce ≈ reduce (measured on screenshots:
 * mean |Δ| from Python 0.13 → 0.4–0.6 of 255, max 25/255), and it skips the enlargement, ~90% of low-detail time
 * (110 → 7 ms for 1920×1080). Tiles never take this path: they are cut from the enlarged image itself.
 */
function skipsEnlargement(image: RgbImage, layout: Idefics3Layout): boolean {
  const { resized, canvas } = layout;
  return (
    layout.frames === 1 &&
    resized.width > image.width &&
    resized.height > image.height &&
    canvas.width < image.width &&
    canvas.height < image.height
  );
}

/** Writes the S×S window at (x0, y0) of `src` as frame `frame` in CHW order. */
function writeFrame(
  out: Float32Array,
  frame: number,
  src: RgbImage,
  x0: number,
  y0: number,
  S: number,
  [lutR, lutG, lutB]: ChannelLuts,
): void {
  const plane = S * S;
  const r0 = frame * 3 * plane;
  const g0 = r0 + plane;
  const b0 = g0 + plane;
  const data = src.data;
  const stride = src.width * 3;
  for (let y = 0; y < S; y++) {
    let s = (y0 + y) * stride + x0 * 3;
    const rowEnd = y * S + S;
    for (let o = y * S; o < rowEnd; o++, s += 3) {
      out[r0 + o] = lutR[data[s]!]!;
      out[g0 + o] = lutG[data[s + 1]!]!;
      out[b0 + o] = lutB[data[s + 2]!]!;
    }
  }
}
