import { rewriteDecoder, type RewriteOptions } from './decoder-rewrite.js';
import { readGraph } from './graph-view.js';

/**
 * Which of the graph styles public decoder exports come in a decoder is written in, and which load-time fast path the
 * engine applies to it, in words for the import report and the Models view:
 * - `builder`: onnxruntime-genai's model builder (com.microsoft GroupQueryAttention);
 * - `fused`: ONNX Runtime's transformer optimizer (SimplifiedLayerNormalization, SkipSimplifiedLayerNormalization,
 *   RotaryEmbedding, MultiHeadAttention) with attention otherwise written out;
 * - `plain`: plain ONNX ops, as torch.onnx.export writes them.
 */
export type DecoderGraphStyle = 'plain' | 'fused' | 'builder';

const fusedOps = new Set(['SimplifiedLayerNormalization', 'SkipSimplifiedLayerNormalization', 'RotaryEmbedding', 'MultiHeadAttention', 'SkipLayerNormalization']);

export interface DecoderDescription {
  readonly style: DecoderGraphStyle;
  /** One sentence: the fast path that applies, or why the decoder runs as shipped. */
  readonly fastPath: string;
}

export const STYLE_NAMES: Record<DecoderGraphStyle, string> = {
  plain: 'plain ONNX ops (torch.onnx.export)',
  fused: 'ONNX Runtime optimizer fusions',
  builder: 'onnxruntime-genai model builder (GroupQueryAttention)',
};

export function describeDecoder(model: Uint8Array, options: RewriteOptions): DecoderDescription {
  const ops = new Set(readGraph(model).nodes.map((node) => node.opType));
  const style: DecoderGraphStyle = ops.has('GroupQueryAttention') ? 'builder' : [...ops].some((op) => fusedOps.has(op)) ? 'fused' : 'plain';
  const rewrite = rewriteDecoder(model, options);
  let fastPath: string;
  if (rewrite.sharedKvBuffer) fastPath = 'the KV cache is shared with GroupQueryAttention in place (no copy of the cache per token)';
  else if (rewrite.cacheReadInPlace) fastPath = 'the decoder returns only new keys/values and reads the cache in place (no copy of the cache per token)';
  else if (rewrite.newKv) fastPath = 'the decoder returns only new keys/values (the graph still copies the cache to attend to it)';
  else fastPath = `none: runs as shipped, copying the whole cache every token (${rewrite.skipped[0] ?? 'no pattern recognised'})`;
  return { style, fastPath };
}
