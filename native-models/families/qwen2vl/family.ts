import ort from 'onnxruntime-node';
import { z } from 'zod';
import { ScreenAskError } from '../../model/errors.js';
import { readModelJson } from '../../model/json-files.js';
import type { FamilyContext, FamilyDefinition, ImageDetail, ModelFamily, PreparedImage } from '../family.js';
import { mropePositionIds, type RopeGrid } from './positions.js';
import {
  parseQwen2VlPreprocessorConfig,
  preprocessQwen2Vl,
  qwen2VlLayout,
  type Qwen2VlPixelOptions,
} from './preprocess.js';
import { expandImagePads, IMAGE_PAD } from './prompt.js';

/** What a prepared Qwen image carries for the prompt and the positions. */
export interface Qwen2VlImageLayout {
  /** The vision encoder's patch grid [t, h, w]. */
  readonly grid: readonly [number, number, number];
  /** The same grid as the language model sees it (h and w divided by the merge size). */
  readonly rope: RopeGrid;
}

export interface Qwen2VlFamilyOptions {
  /** Pixel bounds per detail level instead of the engine's budgets (`QWEN2VL_PIXEL_BUDGETS`). */
  readonly pixels?: Partial<Record<ImageDetail, Qwen2VlPixelOptions>>;
}

const configSchema = z.looseObject({
  vision_config: z.looseObject({ spatial_merge_size: z.number().int().positive().optional() }).optional(),
});

function isLayout(layout: unknown): layout is Qwen2VlImageLayout {
  return typeof layout === 'object' && layout !== null && 'rope' in layout && 'grid' in layout;
}

function layoutOf(image: PreparedImage): Qwen2VlImageLayout {
  if (!isLayout(image.layout)) {
    throw new ScreenAskError('This image was prepared for another model family: prepare it again for this model.');
  }
  const { t, h, w } = image.layout.rope;
  if (t * h * w !== image.tokenCount) {
    throw new ScreenAskError(`A prepared image has ${image.tokenCount} tokens but a ${t}×${h}×${w} grid: prepare it again.`);
  }
  return image.layout;
}

export async function createQwen2Vl(context: FamilyContext, options: Qwen2VlFamilyOptions = {}): Promise<ModelFamily> {
  const { dir, configs, tokenizer } = context;
  const preprocessor = parseQwen2VlPreprocessorConfig(await readModelJson(dir, 'preprocessor_config.json', z.unknown()));
  const vision = configSchema.safeParse(configs.config);
  const merge = vision.success ? vision.data.vision_config?.spatial_merge_size : undefined;
  if (merge !== undefined && merge !== preprocessor.mergeSize) {
    throw new ScreenAskError(
      `config.json's vision_config.spatial_merge_size (${merge}) differs from preprocessor_config.json's merge_size ` +
        `(${preprocessor.mergeSize}): the files do not belong together.`,
    );
  }
  const imageTokenId = configs.config.image_token_id ?? tokenizer.idOf(IMAGE_PAD);
  if (imageTokenId === undefined) {
    throw new ScreenAskError(`Model in ${dir} defines no image token (config.json image_token_id or "${IMAGE_PAD}").`);
  }
  const pixels = (detail: ImageDetail) => options.pixels?.[detail] ?? {};
  const M = preprocessor.mergeSize;
  return {
    name: 'qwen2vl',
    imageTokenId,
    async prepareImage(image, detail): Promise<PreparedImage> {
      const input = await preprocessQwen2Vl(image, preprocessor, detail, pixels(detail));
      const [t, h, w] = input.grid;
      const grid = new ort.Tensor('int64', BigInt64Array.from(input.grid, BigInt), [1, 3]);
      const layout: Qwen2VlImageLayout = { grid: input.grid, rope: { t, h: h / M, w: w / M } };
      return {
        // Qwen2-VL exports name the grid `grid_thw`, Qwen2.5-VL exports `image_grid_thw`: the engine feeds the one
        // the vision graph declares.
        visionFeeds: {
          pixel_values: new ort.Tensor('float32', input.pixelValues, [input.patches, input.patchDim]),
          grid_thw: grid,
          image_grid_thw: grid,
        },
        tokenCount: input.tokens,
        frames: input.patches,
        layout,
      };
    },
    visionCalls: (image) => [image.visionFeeds],
    imageTokenCount({ width, height }, detail) {
      return qwen2VlLayout(width, height, preprocessor, detail, pixels(detail)).tokens;
    },
    expandPrompt(prompt, images) {
      return expandImagePads(prompt, images.map((image) => image.tokenCount));
    },
    positions(images) {
      return mropePositionIds(imageTokenId, images.map((image) => layoutOf(image).rope));
    },
  };
}

export const qwen2VlFamily: FamilyDefinition = {
  create: (context) =>
    createQwen2Vl(context, {
      pixels: Object.fromEntries(Object.entries(context.imagePixels ?? {}).map(([detail, maxPixels]) => [detail, { maxPixels }])),
    }),
};
