// The capture as a server receives it: the pixels the local Qwen2-VL engine would see at the same detail level,
// PNG-encoded. Loads sharp: only a process that may load native packages runs it (the CLI, the model process).
import sharp from 'sharp';
import type { ImageDetail } from '../families/family.js';
import { parseQwen2VlPreprocessorConfig, qwen2VlLayout, type Qwen2VlPreprocessorConfig } from '../families/qwen2vl/preprocess.js';
import { loadImage, type RgbImage } from '../image/load-image.js';
import { resizeLikePillow } from '../image/resize.js';
import { serverImageOf, type EncodedServerImage, type ServerImage, type ServerImageInput } from './image-preparer.js';

/**
 * The servers ScreenAsk is pointed at run Qwen2-VL / Qwen2.5-VL (the 7B and 72B that a laptop cannot hold), whose
 * published preprocessor_config.json allows min_pixels 3,136 and max_pixels 12,845,056; the engine's per-detail
 * budget (QWEN2VL_PIXEL_BUDGETS) then caps that, exactly as for a local Qwen model. The server's own processor runs
 * smart_resize again and finds nothing to change (the sides are multiples of 28, the area within its bounds), so
 * the model sees these pixels, and the upload is the size of what it reads.
 */
const PUBLISHED_QWEN2VL: Qwen2VlPreprocessorConfig = parseQwen2VlPreprocessorConfig({ min_pixels: 3136, max_pixels: 12845056 });

function isRgb(image: ServerImageInput): image is RgbImage {
  return typeof image === 'object' && 'width' in image && 'data' in image;
}

/** Resizes as the local engine does (smart_resize to the detail's budget, Pillow's bicubic) and encodes PNG. */
export async function encodeServerImage(input: ServerImageInput, detail: ImageDetail, maxPixels?: number): Promise<EncodedServerImage> {
  const image = isRgb(input) ? input : await loadImage(input);
  const { resized } = qwen2VlLayout(image.width, image.height, PUBLISHED_QWEN2VL, detail, maxPixels === undefined ? {} : { maxPixels });
  const pixels =
    resized.width === image.width && resized.height === image.height
      ? image
      : await resizeLikePillow(image, resized.width, resized.height, PUBLISHED_QWEN2VL.resample, { exact: true });
  // PNG: lossless, so the server decodes exactly these pixels (JPEG would blur the small text high detail is for).
  const png = await sharp(pixels.data, { raw: { width: pixels.width, height: pixels.height, channels: 3 } }).png().toBuffer();
  return { png: new Uint8Array(png.buffer, png.byteOffset, png.byteLength), width: pixels.width, height: pixels.height };
}

/** The in-process ServerImagePreparer (the CLI's): encodeServerImage, as a data URL. */
export async function prepareServerImage(input: ServerImageInput, detail: ImageDetail, maxPixels?: number): Promise<ServerImage> {
  const started = performance.now();
  return serverImageOf(await encodeServerImage(input, detail, maxPixels), started);
}
