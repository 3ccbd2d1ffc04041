import { z } from 'zod';
import type { ModelConfigs } from '../model/config.js';
import { useCacheFalseSources } from '../model/use-cache-flag.js';
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

/** A numeric setting's bounds, read from its schema (so that messages and the settings page never restate them). */
export interface NumericRange {
  readonly min: number;
  readonly max: number;
  /** True when `min` itself is refused (top-p must be above 0). */
  readonly minExclusive: boolean;
  readonly integer: boolean;
}

export function rangeOf(schema: z.ZodNumber): NumericRange {
  const min = schema.minValue ?? -Number.MAX_VALUE;
  return {
    min,
    max: schema.maxValue ?? Number.MAX_VALUE,
    minExclusive: !schema.safeParse(min).success,
    integer: schema.isInt,
  };
}

/** "a whole number from 1 to 8192", "a number above 0 and at most 1". */
export function describeRange({ min, max, minExclusive, integer }: NumericRange): string {
  const what = integer ? 'a whole number' : 'a number';
  return minExclusive ? `${what} above ${min} and at most ${max}` : `${what} from ${min} to ${max}`;
}

type GenerationField = keyof GenerationOptions;

function describeField(field: GenerationField): string {
  const schema = generationOptionsSchema.shape[field].unwrap();
  return schema instanceof z.ZodNumber ? describeRange(rangeOf(schema)) : 'true or false';
}

/**
 * Checks options from outside (the CLI, the utility process, an API caller). `name` words a field for the message:
 * the engine says "setting temperature", the command line "--temperature".
 */
export function validateGenerationOptions(options: unknown, name: (field: string) => string = (field) => `setting ${field}`): GenerationOptions {
  const parsed = generationOptionsSchema.strict().safeParse(options ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    throw new ScreenAskError(`Unknown ${name(issue.keys[0] ?? '')}: the settings are ${Object.keys(generationOptionsSchema.shape).join(', ')}.`);
  }
  const field = issue.path[0];
  if (typeof field !== 'string' || !(field in generationOptionsSchema.shape)) {
    throw new ScreenAskError('Invalid generation settings: expected an object of named values.');
  }
  const value = readPath(options, issue.path);
  const got = ` (got ${typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value))})`;
  throw new ScreenAskError(`Invalid ${name(field)}: must be ${describeField(field as GenerationField)}${got}.`);
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

function cacheFlagWarnings(configs: ModelConfigs, callerUseCache: boolean | undefined): string[] {
  const sources = useCacheFalseSources(configs);
  if (sources.length === 0 || callerUseCache === false) return [];
  return [
    `${sources.join(' and ')} set use_cache: false, a training-time flag that gradient checkpointing saves into ` +
      'fine-tuned checkpoints; ScreenAsk ignored it and decoded with the KV cache (turn the cache off in the ' +
      'settings, or pass --no-cache, to recompute the whole sequence for every token).',
  ];
}
