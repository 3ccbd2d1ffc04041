import type { GraphView } from './graph-view.js';

/**
 * Recognises the onnxruntime-genai model-builder style: each layer's present.i.key / present.i.value are outputs 1
 * and 2 of a com.microsoft GroupQueryAttention whose past_key / past_value inputs (3 and 4) are
 * past_key_values.i.key / .value, with seqlens_k (input 5) computed in the graph from attention_mask.
 *
 * Such a graph needs no surgery to stop copying the cache: GroupQueryAttention shares past and present when both are
 * the same buffer (ONNX Runtime's past/present buffer sharing). The host passes one preallocated
 * [1, kv_heads, capacity, head_dim] buffer per layer as the past input and as the present output; the kernel writes only
 * the new tokens' rows into it, in place, and reads the rest where it lies (see generation/shared-kv-cache.ts).
 * Returns the reason when the graph is not in that form.
 */
export function recogniseSharedKvGraph(view: GraphView, layers: number): true | string {
  for (let i = 0; i < layers; i++) {
    const node = view.producers.get(`present.${i}.key`);
    if (node?.opType !== 'GroupQueryAttention' || node.domain !== 'com.microsoft') return `present.${i}.key does not come from a GroupQueryAttention`;
    if (node.outputs[1] !== `present.${i}.key` || node.outputs[2] !== `present.${i}.value`) {
      return `present.${i}.key and .value are not the present outputs of one GroupQueryAttention`;
    }
    if (node.inputs[3] !== `past_key_values.${i}.key` || node.inputs[4] !== `past_key_values.${i}.value`) {
      return `the GroupQueryAttention of layer ${i} does not read past_key_values.${i}.* as its past`;
    }
    if (!dependsOn(view, node.inputs[5] ?? '', 'attention_mask')) return `the GroupQueryAttention of layer ${i} does not take seqlens_k from attention_mask`;
  }
  return true;
}

/** Whether `tensor` is computed from `input` (a short walk up its producers). */
function dependsOn(view: GraphView, tensor: string, input: string): boolean {
  const seen = new Set<string>();
  const stack = [tensor];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (t === input) return true;
    if (!t || seen.has(t) || seen.size > 64) continue;
    seen.add(t);
    stack.push(...(view.producers.get(t)?.inputs ?? []));
  }
  return false;
}
