import { z } from 'zod';
import { ScreenAskError } from './errors.js';
import { readModelJson } from './json-files.js';

// Only the fields the engine uses are validated; the rest of each file passes through untouched.

const tokenIds = z.union([z.number().int(), z.array(z.number().int())]);

const textConfigSchema = z.looseObject({
  model_type: z.string().optional(),
  hidden_size: z.number().int().positive(),
  num_hidden_layers: z.number().int().positive(),
  num_attention_heads: z.number().int().positive(),
  num_key_value_heads: z.number().int().positive().optional(),
  head_dim: z.number().int().positive().optional(),
  vocab_size: z.number().int().positive(),
  max_position_embeddings: z.number().int().positive().optional(),
  use_cache: z.boolean().optional(),
});

export const modelConfigSchema = z.looseObject({
  model_type: z.string(),
  image_token_id: z.number().int().nonnegative().optional(),
  use_cache: z.boolean().optional(),
  text_config: textConfigSchema.optional(),
  // Qwen2-VL keeps the text settings at the top level.
  hidden_size: z.number().int().positive().optional(),
  num_hidden_layers: z.number().int().positive().optional(),
  num_attention_heads: z.number().int().positive().optional(),
  num_key_value_heads: z.number().int().positive().optional(),
  vocab_size: z.number().int().positive().optional(),
  max_position_embeddings: z.number().int().positive().optional(),
  eos_token_id: tokenIds.optional(),
});
export type ModelConfig = z.infer<typeof modelConfigSchema>;

export const generationConfigSchema = z.looseObject({
  eos_token_id: tokenIds.optional(),
  bos_token_id: z.number().int().optional(),
  pad_token_id: z.number().int().optional(),
  do_sample: z.boolean().optional(),
  temperature: z.number().nonnegative().optional(),
  top_k: z.number().int().nonnegative().optional(),
  top_p: z.number().min(0).max(1).optional(),
  repetition_penalty: z.number().positive().optional(),
  max_new_tokens: z.number().int().positive().optional(),
  use_cache: z.boolean().optional(),
});
export type GenerationConfig = z.infer<typeof generationConfigSchema>;

/** The text decoder's shape, wherever the family keeps it. */
export interface TextDims {
  readonly layers: number;
  readonly hiddenSize: number;
  readonly attentionHeads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly vocabSize: number;
  readonly maxContext: number | undefined;
}

export function textDims(config: ModelConfig): TextDims {
  const text = config.text_config;
  const layers = text?.num_hidden_layers ?? config.num_hidden_layers;
  const hiddenSize = text?.hidden_size ?? config.hidden_size;
  const attentionHeads = text?.num_attention_heads ?? config.num_attention_heads;
  const vocabSize = text?.vocab_size ?? config.vocab_size;
  if (!layers || !hiddenSize || !attentionHeads || !vocabSize) {
    throw new ScreenAskError(
      'Model file config.json has no text decoder dimensions (text_config.num_hidden_layers, hidden_size, ' +
        'num_attention_heads, vocab_size): re-export the model with its full config.',
    );
  }
  return {
    layers,
    hiddenSize,
    attentionHeads,
    kvHeads: text?.num_key_value_heads ?? config.num_key_value_heads ?? attentionHeads,
    headDim: text?.head_dim ?? hiddenSize / attentionHeads,
    vocabSize,
    maxContext: text?.max_position_embeddings ?? config.max_position_embeddings,
  };
}

export interface ModelConfigs {
  readonly config: ModelConfig;
  readonly generation: GenerationConfig;
}

export async function readModelConfigs(dir: string): Promise<ModelConfigs> {
  const config = (await readModelJson(dir, 'config.json', modelConfigSchema))!;
  const generation = (await readModelJson(dir, 'generation_config.json', generationConfigSchema, { optional: true })) ?? {};
  return { config, generation };
}
