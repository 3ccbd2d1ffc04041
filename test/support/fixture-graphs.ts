/**
 * Running the ONNX graphs of a generated fixture directory (test/fixtures) in onnxruntime from tests: cached sessions,
 * the float / int64 tensors the graphs take, the KV-cache feeds of the merged decoder, and its contract I/O spelled as
 * strings.
 */
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { toFloat16Array as toHalfArray, toFloat32Array as fromHalfArray } from '../../native-models/runtime/float16.js';
import { PRECISION_SUFFIX, type Precision } from '../fixtures/shared/layers.js';

/** Precisions whose graphs take and return float16 (embeddings, image features, past/present, logits). */
export function isHalf(p: Precision): boolean {
  return p === 'fp16' || p === 'q4f16';
}

/**
 * max |Δ| between a prefill + one cached step and the full pass, per precision: q8 quantises activations dynamically
 * per call, so the split run sees other ranges; the float16 ones round per call shape.
 */
export const CACHED_STEP_TOLERANCE: Record<Precision, number> = { fp32: 1e-4, fp16: 2e-2, q8: 0.15, q4: 1e-3, q4f16: 2e-2 };

/** `onnx/<graph><suffix>.onnx` of a model directory. */
export function graphPath(dir: string, graph: string, p: Precision): string {
  return join(dir, 'onnx', `${graph}${PRECISION_SUFFIX[p]}.onnx`);
}

/** One session per file, created on first use (two intra-op threads, warnings off); `release` frees them all. */
export class SessionCache {
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();

  get(path: string): Promise<ort.InferenceSession> {
    let s = this.sessions.get(path);
    if (!s) {
      s = ort.InferenceSession.create(path, { intraOpNumThreads: 2, logSeverityLevel: 3 });
      this.sessions.set(path, s);
    }
    return s;
  }

  async release(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }
}

/** A float tensor's values as float32 (float16 ones converted). */
export function f32(t: ort.Tensor): Float32Array {
  if (t.type === 'float16') return fromHalfArray(t.data as Uint16Array);
  return t.data as Float32Array;
}

export function floatTensor(values: Float32Array, dims: number[], half: boolean): ort.Tensor {
  return half ? new ort.Tensor('float16', toHalfArray(values), dims) : new ort.Tensor('float32', values, dims);
}

export function i64(values: number[], dims: number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), dims);
}

interface KvShape {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
}

/** How a decoder run continues an earlier one, and how many logits rows it keeps. */
export interface CacheArgs {
  /** The previous run's outputs (its `present.*` become this run's past); none for a first run. */
  past?: ort.InferenceSession.OnnxValueMapType;
  /** Tokens already in the cache. */
  pastLen?: number;
  /** Feeds `num_logits_to_keep` (0 = all rows, k = the last k). */
  keep?: number;
}

/** The decoder's cache inputs: `past_key_values.{i}.key|value` (empty for a first run), and `num_logits_to_keep`. */
export function cacheFeeds(t: KvShape, batch: number, half: boolean, { past, keep }: CacheArgs): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (let i = 0; i < t.numLayers; i++) {
    for (const kv of ['key', 'value']) {
      feeds[`past_key_values.${i}.${kv}`] = past
        ? (past[`present.${i}.${kv}`] as ort.Tensor)
        : floatTensor(new Float32Array(0), [batch, t.numKvHeads, 0, t.headDim], half);
    }
  }
  if (keep !== undefined) feeds.num_logits_to_keep = new ort.Tensor('int64', BigInt64Array.from([BigInt(keep)]), []);
  return feeds;
}

/** Logits row `pos` of batch row `b`, as float32. */
export function logitsAt(out: ort.InferenceSession.OnnxValueMapType, pos: number, b = 0): Float32Array {
  const t = out.logits as ort.Tensor;
  const [, S, V] = t.dims as [number, number, number];
  const start = (b * S + pos) * V;
  return f32(t).slice(start, start + V);
}

/** A session's inputs and outputs as `name:type[dims]` strings, in declaration order. */
export function ioSignature(s: ort.InferenceSession): { ins: string[]; outs: string[] } {
  const fmt = (m: ort.InferenceSession.ValueMetadata): string => (m.isTensor ? `${m.name}:${m.type}[${m.shape.join(',')}]` : m.name);
  return { ins: s.inputMetadata.map(fmt), outs: s.outputMetadata.map(fmt) };
}

/** embed_tokens' contract I/O as ioSignature spells it (`float`: the activation type, float32 or float16). */
export function embedTokensSignature(float: string, hidden: number): { ins: string[]; outs: string[] } {
  return {
    ins: ['input_ids:int64[batch_size,sequence_length]'],
    outs: [`inputs_embeds:${float}[batch_size,sequence_length,${hidden}]`],
  };
}

/**
 * decoder_model_merged's contract I/O as ioSignature spells it, without num_logits_to_keep; `positionDims` are the
 * position_ids dimensions ('batch_size,sequence_length', or with mrope '3,batch_size,sequence_length').
 */
export function decoderSignature(
  t: KvShape & { hiddenSize: number },
  float: string,
  vocabSize: number,
  positionDims: string,
): { ins: string[]; outs: string[] } {
  const past: string[] = [];
  const present: string[] = [];
  for (let i = 0; i < t.numLayers; i++) {
    for (const kv of ['key', 'value']) {
      past.push(`past_key_values.${i}.${kv}:${float}[batch_size,${t.numKvHeads},past_sequence_length,${t.headDim}]`);
      present.push(`present.${i}.${kv}:${float}[batch_size,${t.numKvHeads},total_sequence_length,${t.headDim}]`);
    }
  }
  return {
    ins: [
      `inputs_embeds:${float}[batch_size,sequence_length,${t.hiddenSize}]`,
      'attention_mask:int64[batch_size,total_sequence_length]',
      `position_ids:int64[${positionDims}]`,
      ...past,
    ],
    outs: [`logits:${float}[batch_size,sequence_length,${vocabSize}]`, ...present],
  };
}

/** The export features the generator suites check together on one extra directory, beside the default one. */
export const ALT_FEATURES = { externalData: true, numLogitsToKeep: true, useCacheFlag: false } as const;
