import ort from 'onnxruntime-node';
import { z } from 'zod';
import { int64Tensor } from '../../runtime/tensors.js';
import { ScreenAskError } from '../../model/errors.js';
import { readModelJson } from '../../model/json-files.js';
import type { FamilyContext, FamilyDefinition, ModelFamily, PreparedImage } from '../family.js';
import { idefics3Layout, parseIdefics3PreprocessorConfig, preprocessIdefics3 } from './preprocess.js';
import { expandImageTokens, IMAGE_TOKEN, imageTokenCount, type ImageGrid } from './prompt.js';

const processorConfigSchema = z.looseObject({ image_seq_len: z.number().int().positive().optional() });
const visionConfigSchema = z.looseObject({
  scale_factor: z.number().int().positive().optional(),
  vision_config: z.looseObject({ image_size: z.number().int().positive(), patch_size: z.number().int().positive() }).optional(),
});

/** Image tokens per frame: processor_config.json says it; older exports only imply it through the vision config. */
async function imageSeqLen({ dir, configs }: FamilyContext): Promise<number> {
  const processor = await readModelJson(dir, 'processor_config.json', processorConfigSchema, { optional: true });
  if (processor?.image_seq_len) return processor.image_seq_len;
  const vision = visionConfigSchema.parse(configs.config);
  const patches = vision.vision_config ? vision.vision_config.image_size / vision.vision_config.patch_size : 32;
  return (patches * patches) / (vision.scale_factor ?? 4) ** 2;
}

/** One vision call per frame: views of the frame's pixels and mask (no copies), shaped as a one-frame batch. */
function frameCalls(image: PreparedImage): Record<string, ort.Tensor>[] {
  const { pixel_values: pixels, pixel_attention_mask: mask } = image.visionFeeds;
  if (!pixels || !mask) return [image.visionFeeds];
  const [batch, frames, channels, height, width] = pixels.dims as [number, number, number, number, number];
  if (batch !== 1 || frames <= 1) return [image.visionFeeds];
  const pixelData = pixels.data as Float32Array;
  const maskData = mask.data as Uint8Array;
  const frameValues = channels * height * width;
  const frameMask = height * width;
  return Array.from({ length: frames }, (_, f) => ({
    pixel_values: new ort.Tensor('float32', pixelData.subarray(f * frameValues, (f + 1) * frameValues), [1, 1, channels, height, width]),
    pixel_attention_mask: new ort.Tensor('bool', maskData.subarray(f * frameMask, (f + 1) * frameMask), [1, 1, height, width]),
  }));
}

async function createSmolVlm(context: FamilyContext): Promise<ModelFamily> {
  const { dir, configs, tokenizer } = context;
  const preprocessor = parseIdefics3PreprocessorConfig(
    await readModelJson(dir, 'preprocessor_config.json', z.unknown()),
  );
  const seqLen = await imageSeqLen(context);
  const imageTokenId = configs.config.image_token_id ?? tokenizer.idOf(IMAGE_TOKEN);
  if (imageTokenId === undefined) {
    throw new ScreenAskError(`Model in ${dir} defines no image token (config.json image_token_id or "${IMAGE_TOKEN}").`);
  }
  return {
    name: 'smolvlm',
    imageTokenId,
    async prepareImage(image, detail): Promise<PreparedImage> {
      const input = await preprocessIdefics3(image, preprocessor, detail);
      const { frames, frameSize } = input;
      const grid: ImageGrid = { rows: input.rows, cols: input.cols };
      return {
        visionFeeds: {
          pixel_values: new ort.Tensor('float32', input.pixelValues, [1, frames, 3, frameSize, frameSize]),
          pixel_attention_mask: new ort.Tensor('bool', input.pixelAttentionMask, [1, frames, frameSize, frameSize]),
        },
        tokenCount: imageTokenCount(grid, seqLen),
        frames,
        layout: grid,
      };
    },
    visionCalls: frameCalls,
    imageTokenCount({ width, height }, detail) {
      const { rows, cols } = idefics3Layout(width, height, preprocessor, detail);
      return imageTokenCount({ rows, cols }, seqLen);
    },
    expandPrompt(prompt, images) {
      return expandImageTokens(prompt, images.map((image) => image.layout as ImageGrid), seqLen);
    },
    // Idefics3's text model is a plain Llama: positions are 0-based indices (cumsum of an all-ones mask, minus one).
    positions: () => (_ids, start, count) =>
      int64Tensor(Array.from({ length: count }, (_, i) => start + i), [1, count]),
  };
}

export const smolVlmFamily: FamilyDefinition = {
  create: createSmolVlm,
};
