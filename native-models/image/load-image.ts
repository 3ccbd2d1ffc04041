import { readFile, stat } from 'node:fs/promises';
import sharp, { type Metadata } from 'sharp';
import { ScreenAskError, fileProblem } from '../model/errors.js';

/** 8-bit sRGB pixels, interleaved R,G,B, row-major, no padding between rows. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Throws unless `image.data` holds exactly width × height RGB pixels (`caller` names who needed them). */
export function assertRgbImage(image: RgbImage, caller: string): void {
  if (image.width <= 0 || image.height <= 0 || image.data.length !== image.width * image.height * 3) {
    throw new Error(`${caller}: expected ${image.width}×${image.height} RGB pixels, got ${image.data.length} bytes`);
  }
}

export interface LoadImageOptions {
  /** Refuse images with more pixels than this (checked from the header, before decoding). */
  maxPixels?: number;
}

/**
 * 100 MP: well above any real screen (an 8K display is 33 MP) while keeping the decoded RGB buffer under 300 MB.
 * The preprocessors shrink everything to ≤ 2048 px anyway, so bigger inputs only cost memory.
 */
export const DEFAULT_MAX_PIXELS = 100_000_000;

/** No picture we accept comes near this; it stops us reading a huge unrelated file into memory first. */
const MAX_FILE_BYTES = 1 << 30;

// sharp also reads SVG, PDF, raw camera files and more where libvips has loaders; we accept only formats a user would
// reasonably hand us as a picture, so a stray SVG or PDF is refused with a clear message instead of being rendered.
const SUPPORTED_FORMATS = new Set(['png', 'jpeg', 'webp', 'gif', 'tiff', 'heif']);
const SUPPORTED_LIST = 'PNG, JPEG, WebP, GIF, TIFF, AVIF';

export class ImageLoadError extends ScreenAskError {}

/**
 * Decodes an image file (or its bytes) to 8-bit RGB the way the Python processors see it: EXIF orientation applied,
 * transparency composited onto white (transformers' `convert_to_rgb`), greyscale / CMYK / palette / 16-bit converted
 * to 8-bit sRGB. Only the first frame of animated or multi-page files is used.
 * Every failure is one Error line naming the source and the problem.
 */
export async function loadImage(source: string | Uint8Array, options: LoadImageOptions = {}): Promise<RgbImage> {
  const label = typeof source === 'string' ? `"${source}"` : `(${source.byteLength}-byte buffer)`;
  const fail = (problem: string): never => {
    throw new ImageLoadError(`Cannot read image ${label}: ${problem}`);
  };
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;

  const bytes = typeof source === 'string' ? await readBytes(source, fail) : source;
  if (bytes.byteLength === 0) fail(typeof source === 'string' ? 'the file is empty' : 'the buffer is empty');

  // 'error' aborts on corrupt or truncated pixel data but tolerates the benign warnings many camera JPEGs trigger.
  const input = () => sharp(bytes, { failOn: 'error', limitInputPixels: false, autoOrient: true });

  let meta: Metadata;
  try {
    meta = await input().metadata();
  } catch (err) {
    return fail(describeSharpError(err, 'header'));
  }
  if (!meta.format || !SUPPORTED_FORMATS.has(meta.format)) {
    fail(`not a supported image format (${SUPPORTED_LIST})${meta.format ? `; got ${meta.format.toUpperCase()}` : ''}`);
  }
  if (meta.format === 'heif' && meta.compression !== 'av1') {
    fail('HEIC (HEVC-coded HEIF) is not supported by our decoder; convert it to PNG, JPEG or AVIF');
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (width <= 0 || height <= 0) fail(`the image has no pixels (${width}×${height})`);
  if (width * height > maxPixels) {
    fail(`the image is ${width}×${height} pixels (${mp(width * height)}), above the ${mp(maxPixels)} limit`);
  }

  try {
    const { data, info } = await input()
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) fail(`decoded to ${info.channels} channels instead of 3`);
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: info.width,
      height: info.height,
    };
  } catch (err) {
    if (err instanceof ImageLoadError) throw err;
    return fail(describeSharpError(err, 'pixels'));
  }
}

async function readBytes(path: string, fail: (problem: string) => never): Promise<Uint8Array> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) return fail('it is a directory, not a file');
    if (info.size > MAX_FILE_BYTES) {
      return fail(`the file is ${(info.size / 2 ** 20).toFixed(0)} MiB, too large for an image`);
    }
    return await readFile(path);
  } catch (err) {
    if (err instanceof ImageLoadError) throw err;
    return fail(fileProblem(err));
  }
}

/** Maps libvips' wording onto what a user can act on; keeps the decoder's own first line for the rest. */
function describeSharpError(err: unknown, stage: 'header' | 'pixels'): string {
  const raw = firstLine(err);
  if (/unsupported image format/i.test(raw)) return `not a supported image format (${SUPPORTED_LIST})`;
  if (/pixel limit/i.test(raw)) return 'the image is too large';
  if (/corrupt header/i.test(raw)) return 'the image header is corrupt or truncated';
  if (/premature|truncat|end of (file|data)|read error|unexpected end|out of data|not enough data/i.test(raw)) {
    return `the file is truncated or corrupt (decoder: ${raw})`;
  }
  return stage === 'header'
    ? `the image header could not be parsed (decoder: ${raw})`
    : `the image data could not be decoded (decoder: ${raw})`;
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const line = text.split('\n').find((l) => l.trim() !== '') ?? 'unknown error';
  return line.trim().replace(/:$/, '');
}

function mp(pixels: number): string {
  return `${(pixels / 1e6).toFixed(pixels < 1e7 ? 1 : 0)} MP`;
}
