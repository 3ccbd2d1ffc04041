import { ScreenAskError } from '../../model/errors.js';

/** What the chat template writes for an image: `<|vision_start|><|image_pad|><|vision_end|>`. */
export const IMAGE_PAD = '<|image_pad|>';
export const VISION_START = '<|vision_start|>';
export const VISION_END = '<|vision_end|>';

/**
 * Replaces each `<|image_pad|>` of a rendered prompt, in order, with as many copies as that image has tokens
 * (t·h·w / merge², one per feature row the vision encoder returns), as Qwen2VLProcessor does in Python and
 * transformers.js. The start / end markers around it stay single tokens.
 */
export function expandImagePads(prompt: string, tokenCounts: readonly number[]): string {
  for (const count of tokenCounts) {
    if (!Number.isInteger(count) || count <= 0) throw new ScreenAskError(`Invalid image token count ${count}.`);
  }
  const parts = prompt.split(IMAGE_PAD);
  const placeholders = parts.length - 1;
  if (placeholders !== tokenCounts.length) {
    throw new ScreenAskError(
      `The prompt has ${placeholders} ${IMAGE_PAD} placeholder(s) but ${tokenCounts.length} image(s) were given: ` +
        "the model's chat template must write one image part per image.",
    );
  }
  let out = parts[0] ?? '';
  tokenCounts.forEach((count, i) => {
    out += IMAGE_PAD.repeat(count) + (parts[i + 1] ?? '');
  });
  return out;
}
