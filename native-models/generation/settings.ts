import { z } from 'zod';
import type { ModelConfigs } from '../model/config.js';
import { ScreenAskError } from '../model/errors.js';
import type { SamplingSettings } from './sampler.js';

/**
 * What a caller may set for one answer. The schema is the single source of ranges: the CLI, the utility process and
 * the settings page all validate with it.
 */
export const generationOptionsSchema = z
  .object({
    maxNewTokens: z.number().int().min(1).max(8192),
    temperature: z.number().min(0).max(5),
    topK: z.number().int().min(0).max(1_000_000),
    topP: z.number().gt(0).max(1),
    repetitionPenalty: z.number().min(0.5).max(5),
    seed: z.number().int().min(0).max(0xffffffff),
    useCache: z.boolean(),
  })
  .partial();
export type GenerationOptions = z.infer<typeof generationOptionsSchema>;

export interface GenerationSettings extends SamplingSettings {
  readonly maxNewTokens: number;
  readonly seed: number;
  readonly useCache: boolean;
  readonly eosTokenIds: readonly number[];
}

const fallbackMaxNewTokens = 256;
const fallbackTopK = 50; // the Hugging Face generation default, which the public configs rely on

export function validateGenerationOptions(options: unknown): GenerationOptions {
  const parsed = generationOptionsSchema.strict().safeParse(options ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.join('.') || 'options';
  const got = issue.path.length ? ` (got ${JSON.stringify(readPath(options, issue.path))})` : '';
  throw new ScreenAskError(`Invalid setting ${field}: ${issue.message}${got}.`);
}

function readPath(value: unknown, keys: readonly PropertyKey[]): unknown {
  return keys.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined), value);
}

function asList(ids: number | number[] | undefined): number[] {
  return ids === undefined ? [] : Array.isArray(ids) ? ids : [ids];
}

/**
 * Precedence: config.json (and its text_config) → generation_config.json → the caller. A model-side `use_cache: false`
 * is reported, never obeyed silently: only the caller can turn the cache off.
 */
export function resolveGenerationSettings(
  configs: ModelConfigs,
  options: GenerationOptions,
): { settings: GenerationSettings; warnings: string[] } {
  const { config, generation } = configs;
  const sampling = generation.do_sample === true;
  const temperature = options.temperature ?? (sampling ? (generation.temperature ?? 1) : 0);
  const eosTokenIds = [...new Set([...asList(generation.eos_token_id), ...asList(config.eos_token_id)])];
  if (eosTokenIds.length === 0) {
    throw new ScreenAskError('The model declares no eos_token_id in generation_config.json or config.json: add it.');
  }
  const settings: GenerationSettings = {
    maxNewTokens: options.maxNewTokens ?? generation.max_new_tokens ?? fallbackMaxNewTokens,
    temperature,
    topK: options.topK ?? generation.top_k ?? fallbackTopK,
    topP: options.topP ?? generation.top_p ?? 1,
    repetitionPenalty: options.repetitionPenalty ?? generation.repetition_penalty ?? 1,
    seed: options.seed ?? 0,
    useCache: options.useCache ?? true,
    eosTokenIds,
  };
  return { settings, warnings: cacheFlagWarnings(configs, options.useCache) };
}

function cacheFlagWarnings({ config, generation }: ModelConfigs, callerUseCache: boolean | undefined): string[] {
  const sources = [
    config.use_cache === false && 'config.json',
    config.text_config?.use_cache === false && 'config.json (text_config)',
    generation.use_cache === false && 'generation_config.json',
  ].filter((s): s is string => typeof s === 'string');
  if (sources.length === 0 || callerUseCache === false) return [];
  return [
    `${sources.join(' and ')} set use_cache: false, a training-time flag that gradient checkpointing saves into ` +
      'fine-tuned checkpoints; ScreenAsk ignored it and decoded with the KV cache (turn the cache off in the ' +
      'settings, or pass --no-cache, to recompute the whole sequence for every token).',
  ];
}
