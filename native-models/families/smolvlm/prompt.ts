import { ScreenAskError } from '../../model/errors.js';

/** How the image processor cut one image: rows × cols tiles plus a global frame, or 0 × 0 for a single frame. */
export interface ImageGrid {
  rows: number;
  cols: number;
}

export const IMAGE_TOKEN = '<image>';
export const FAKE_IMAGE_TOKEN = '<fake_token_around_image>';
export const GLOBAL_IMAGE_TOKEN = '<global-img>';

/** The text one image stands for: every frame is `imageSeqLen` `<image>` tokens, framed and labelled. */
export function imagePromptString({ rows, cols }: ImageGrid, imageSeqLen: number): string {
  const frame = IMAGE_TOKEN.repeat(imageSeqLen);
  const global = `${FAKE_IMAGE_TOKEN}${GLOBAL_IMAGE_TOKEN}${frame}${FAKE_IMAGE_TOKEN}`;
  // Idefics3 treats only 0 × 0 as "not split"; a 1 × 1 split still gets its tile label plus the global frame.
  if (rows === 0 && cols === 0) return global;
  let text = '';
  for (let r = 1; r <= rows; r++) {
    for (let c = 1; c <= cols; c++) text += `${FAKE_IMAGE_TOKEN}<row_${r}_col_${c}>${frame}`;
    text += '\n';
  }
  return `${text}\n${global}`;
}

/**
 * Replaces each `<image>` placeholder of a rendered prompt with its expansion, in order, exactly as the Idefics3 /
 * SmolVLM processor does (transformers.js `processing_idefics3.js`, Python `processing_idefics3.py`).
 */
export function expandImageTokens(prompt: string, grids: readonly ImageGrid[], imageSeqLen: number): string {
  if (!Number.isInteger(imageSeqLen) || imageSeqLen <= 0) {
    throw new ScreenAskError(`image_seq_len must be a positive integer, got ${imageSeqLen}: check processor_config.json.`);
  }
  for (const { rows, cols } of grids) {
    if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0 || (rows === 0) !== (cols === 0)) {
      throw new ScreenAskError(`Invalid image grid ${rows}×${cols}: rows and cols are both 0 (unsplit) or both ≥ 1.`);
    }
  }
  const parts = prompt.split(IMAGE_TOKEN);
  const placeholders = parts.length - 1;
  // The processor silently mis-aligns here; the decoder would then fail on an image-feature count mismatch.
  if (placeholders !== grids.length) {
    throw new ScreenAskError(
      `The prompt has ${placeholders} ${IMAGE_TOKEN} placeholder(s) but ${grids.length} image(s) were given: put one image part per image in the messages.`,
    );
  }
  let out = parts[0] ?? '';
  grids.forEach((grid, i) => {
    out += imagePromptString(grid, imageSeqLen) + (parts[i + 1] ?? '');
  });
  return out;
}

/** How many `<image>` tokens an expanded image occupies: the number of image-feature rows the decoder must receive. */
export function imageTokenCount({ rows, cols }: ImageGrid, imageSeqLen: number): number {
  return (rows * cols + 1) * imageSeqLen;
}
