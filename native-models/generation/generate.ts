import type ort from 'onnxruntime-node';
import type { ModelGraphs } from '../model/graphs.js';
import type { FloatData } from '../runtime/tensors.js';
import { runDecoder } from './decoder-step.js';
import { concatFloats, embedTokens } from './embeddings.js';
import type { KvCache } from './kv-cache.js';
import { sampleToken, seededRandom } from './sampler.js';
import type { GenerationSettings } from './settings.js';
import type { StopReason } from './stop-reason.js';

/**
 * A prompt ready for the decoder: every id of the sequence, and the embeddings (image features merged in) of those the
 * cache does not hold yet, i.e. of ids[cache.length:].
 */
export interface PreparedPrompt {
  readonly ids: readonly number[];
  readonly embeds: FloatData;
}

/** Position ids for `count` tokens starting at sequence index `start`; family-specific (1-D, or 3-D rope). */
export type PositionIds = (ids: readonly number[], start: number, count: number) => ort.Tensor;

export type { StopReason } from './stop-reason.js';

export interface GenerationTimings {
  readonly prefillMs: number;
  /** From the start of generation to the first token being chosen. */
  readonly firstTokenMs: number;
  /** From the first token to the last one. */
  readonly decodeMs: number;
}

export interface GenerationResult {
  readonly tokenIds: number[];
  readonly stopReason: StopReason;
  readonly timings: GenerationTimings;
}

/** Reads what `cache` lacks of the prompt in one decoder call; returns the last position's logits. */
export function prefill(graphs: ModelGraphs, prompt: PreparedPrompt, positions: PositionIds, cache: KvCache): Promise<Float32Array> {
  const fresh = prompt.ids.length - cache.length;
  return runDecoder(graphs, prompt.embeds, fresh, positions(prompt.ids, cache.length, fresh), cache);
}

/**
 * The decoding loop. With the cache, the part of the prompt the cache lacks is read once and each step feeds one
 * token; without it, every step re-reads the whole sequence from an empty cache (the slow path that a config's
 * use_cache: false would force). Stops at an eos id, at max new tokens, when the sequence fills the model's context,
 * or when `signal` aborts. Yields each token id as soon as it is chosen; returns the whole result. Afterwards the
 * cache holds the sequence up to, not including, the last token chosen.
 */
export async function* generate(
  graphs: ModelGraphs,
  prompt: PreparedPrompt,
  positions: PositionIds,
  settings: GenerationSettings,
  cache: KvCache,
  { signal, maxContext = Infinity }: { signal?: AbortSignal; maxContext?: number } = {},
): AsyncGenerator<number, GenerationResult> {
  const start = performance.now();
  const random = seededRandom(settings.seed);
  const ids = [...prompt.ids];
  const seen = new Set(ids);
  const generated: number[] = [];
  let sequenceEmbeds = prompt.embeds;

  let logits = await prefill(graphs, prompt, positions, cache);
  const prefillMs = performance.now() - start;
  let firstTokenAt = 0;
  let stopReason: StopReason = 'max-new-tokens';

  while (generated.length < settings.maxNewTokens) {
    if (signal?.aborted) {
      stopReason = 'cancelled';
      break;
    }
    if (ids.length >= maxContext) {
      stopReason = 'context-full';
      break;
    }
    const next = sampleToken(logits, seen, settings, random);
    if (generated.length === 0) firstTokenAt = performance.now();
    generated.push(next);
    ids.push(next);
    seen.add(next);
    yield next;
    if (settings.eosTokenIds.includes(next)) {
      stopReason = 'eos';
      break;
    }
    if (generated.length === settings.maxNewTokens || signal?.aborted) continue;

    const nextEmbeds = await embedTokens(graphs, [next]);
    if (settings.useCache) {
      logits = await runDecoder(graphs, nextEmbeds, 1, positions(ids, ids.length - 1, 1), cache);
    } else {
      sequenceEmbeds = concatFloats(sequenceEmbeds, nextEmbeds);
      cache.clear();
      logits = await runDecoder(graphs, sequenceEmbeds, ids.length, positions(ids, 0, ids.length), cache);
    }
  }
  const end = performance.now();
  return {
    tokenIds: generated,
    stopReason,
    timings: {
      prefillMs,
      firstTokenMs: firstTokenAt ? firstTokenAt - start : end - start,
      decodeMs: firstTokenAt ? end - firstTokenAt : 0,
    },
  };
}
