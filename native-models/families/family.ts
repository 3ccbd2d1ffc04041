import type ort from 'onnxruntime-node';
import type { PositionIds } from '../generation/generate.js';
import type { ModelConfigs } from '../model/config.js';
import type { RgbImage } from '../image/load-image.js';
import type { TextTokenizer } from '../text/tokenizer.js';

/**
 * `high`: best for reading small text (SmolVLM: the model's own tiling; Qwen2-VL: up to 2048 image tokens);
 * `low`: far fewer image tokens (SmolVLM: one frame; Qwen2-VL: up to 512).
 */
export const imageDetails = ['low', 'high'] as const;
export type ImageDetail = (typeof imageDetails)[number];

export interface ImageSize {
  readonly width: number;
  readonly height: number;
}

/** One image, preprocessed for the family's vision graph, plus what the prompt needs to make room for it. */
export interface PreparedImage {
  /** Inputs of the vision graph, by name; the engine feeds only those the graph declares. */
  readonly visionFeeds: Record<string, ort.Tensor>;
  /** Image tokens this image occupies in the prompt (= feature rows the vision graph returns). */
  readonly tokenCount: number;
  /** Frames (SmolVLM) or patches (Qwen) the vision graph will see; for stats. */
  readonly frames: number;
  /** Family-specific layout the prompt expansion and positions need (tile grid, rope grid). */
  readonly layout: unknown;
}

/**
 * Everything that differs between model families, behind one interface: the decoding loop never asks which family it
 * runs. Adding a family means one folder under families/ and one line in the registry.
 */
export interface ModelFamily {
  readonly name: string;
  readonly imageTokenId: number;
  prepareImage(image: RgbImage, detail: ImageDetail): Promise<PreparedImage>;
  /**
   * The vision graph calls that encode an image, in order; their features, concatenated, are the image's. SmolVLM's
   * frames are independent, so each is its own call: peak memory stays at one frame's activations whatever the tiling,
   * work can stop between frames, and every call has the same shapes (a one-frame warm-up at load covers them all).
   * Qwen's vision graph attends across the whole image: one call.
   */
  visionCalls(image: PreparedImage): readonly Record<string, ort.Tensor>[];
  /**
   * The image tokens an image of this size occupies at this detail (what `prepareImage` would report), computed from
   * the geometry alone: the settings page shows what each detail level costs without preprocessing or encoding.
   */
  imageTokenCount(size: ImageSize, detail: ImageDetail): number;
  /** The rendered chat prompt with each image placeholder expanded to that image's tokens, in order. */
  expandPrompt(prompt: string, images: readonly PreparedImage[]): string;
  /** Position ids for a sequence holding these images. */
  positions(images: readonly PreparedImage[]): PositionIds;
}

/**
 * Most pixels an image may keep at each detail level, for families that resize to a pixel budget (Qwen2-VL). SmolVLM
 * cuts fixed-size frames instead; its detail levels choose the tiling, and it does not read this.
 */
export type ImagePixelBudget = Partial<Record<ImageDetail, number>>;

export interface FamilyContext {
  readonly dir: string;
  readonly configs: ModelConfigs;
  readonly tokenizer: TextTokenizer;
  readonly imagePixels?: ImagePixelBudget;
}

export interface FamilyDefinition {
  create(context: FamilyContext): Promise<ModelFamily>;
}
