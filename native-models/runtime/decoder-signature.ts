import type ort from 'onnxruntime-node';
import type { TextDims } from '../model/config.js';
import { ScreenAskError } from '../model/errors.js';
import type { FloatType } from './tensors.js';

/**
 * What the decoder graph actually declares, read from its metadata at load time: names, ranks and dtypes differ
 * between exports (float16 KV for fp16/q4f16, optional num_logits_to_keep, 2-D or 3-D position_ids).
 */
export interface DecoderSignature {
  /** Per layer: the past inputs, and the outputs that carry K/V back. */
  readonly layers: readonly { past: { key: string; value: string }; output: { key: string; value: string } }[];
  /**
   * `present`: outputs hold past + new (stock graphs), on the CPU; `device`: the same, kept in GPU memory (WebGPU);
   * `new-only`: just the new tokens (rewritten graphs); `shared`: present.* are the past buffers themselves
   * (GroupQueryAttention's past/present buffer sharing, see generation/kv-cache.ts SharedKvCache).
   */
  readonly kvOutputs: 'present' | 'device' | 'new-only' | 'shared';
  readonly kvType: FloatType;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly embedsType: FloatType;
  readonly positionRank: number;
  readonly hasNumLogitsToKeep: boolean;
  readonly hasUseCacheBranch: boolean;
}

type Meta = ort.InferenceSession.ValueMetadata;

function tensorMeta(list: readonly Meta[], name: string, graph: string): ort.InferenceSession.TensorValueMetadata {
  const meta = list.find((m) => m.name === name);
  if (!meta || !meta.isTensor) {
    throw new ScreenAskError(`The ${graph} graph has no tensor "${name}": this export does not follow the expected layout.`);
  }
  return meta;
}

function floatType(meta: ort.InferenceSession.TensorValueMetadata, graph: string): FloatType {
  if (meta.type === 'float32' || meta.type === 'float16') return meta.type;
  throw new ScreenAskError(`The ${graph} input "${meta.name}" has type ${meta.type}; expected float32 or float16.`);
}

/** A fixed dimension from the metadata when the export has one, else the config's value. */
function dim(meta: ort.InferenceSession.TensorValueMetadata, index: number, fallback: number): number {
  const value = meta.shape[index];
  return typeof value === 'number' && value > 0 ? value : fallback;
}

export function readDecoderSignature(
  session: ort.InferenceSession,
  dims: TextDims,
  newKvOutputs?: readonly { key: string; value: string }[],
  presentOnDevice = false,
  sharedKv = false,
): DecoderSignature {
  const graph = 'decoder_model_merged';
  const inputs = session.inputMetadata;
  const outputs = session.outputMetadata;
  const layers = [];
  for (let i = 0; inputs.some((m) => m.name === `past_key_values.${i}.key`); i++) {
    const layer = {
      past: { key: `past_key_values.${i}.key`, value: `past_key_values.${i}.value` },
      output: newKvOutputs?.[i] ?? { key: `present.${i}.key`, value: `present.${i}.value` },
    };
    for (const name of [layer.past.key, layer.past.value]) tensorMeta(inputs, name, graph);
    for (const name of [layer.output.key, layer.output.value]) tensorMeta(outputs, name, graph);
    layers.push(layer);
  }
  if (layers.length !== dims.layers) {
    throw new ScreenAskError(
      `The decoder graph has ${layers.length} cache layers but config.json says ${dims.layers}: the graph and config do not belong together.`,
    );
  }
  tensorMeta(outputs, 'logits', graph);
  tensorMeta(inputs, 'attention_mask', graph);
  const pastKey = tensorMeta(inputs, 'past_key_values.0.key', graph);
  const position = tensorMeta(inputs, 'position_ids', graph);
  return {
    layers,
    kvOutputs: newKvOutputs ? 'new-only' : presentOnDevice ? 'device' : sharedKv ? 'shared' : 'present',
    kvType: floatType(pastKey, graph),
    kvHeads: dim(pastKey, 1, dims.kvHeads),
    headDim: dim(pastKey, 3, dims.headDim),
    embedsType: floatType(tensorMeta(inputs, 'inputs_embeds', graph), graph),
    positionRank: position.shape.length,
    hasNumLogitsToKeep: inputs.some((m) => m.name === 'num_logits_to_keep'),
    hasUseCacheBranch: inputs.some((m) => m.name === 'use_cache_branch'),
  };
}
