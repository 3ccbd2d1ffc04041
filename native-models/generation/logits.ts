import type ort from 'onnxruntime-node';
import { toFloat32Array } from '../runtime/float16.js';

/**
 * The last position's logits as a fresh float32 row (the sampler mutates it). Graphs without num_logits_to_keep
 * return [1, S, V]; with it, [1, 1, V]; fp16 exports return float16 bits.
 */
export function lastLogits(logits: ort.Tensor): Float32Array {
  const vocab = logits.dims[logits.dims.length - 1]!;
  const end = logits.data.length;
  if (logits.type === 'float16') return toFloat32Array((logits.data as Uint16Array).subarray(end - vocab, end));
  if (logits.type === 'float32') return (logits.data as Float32Array).slice(end - vocab, end);
  throw new Error(`The decoder returned logits of type ${logits.type}; expected float32 or float16.`);
}
