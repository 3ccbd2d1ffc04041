import { editGraph, elemTypes, type GraphEdits, type NewNode } from './graph-edit.js';
import { isConstant, readGraph, type GraphNode, type GraphView } from './graph-view.js';
import { recogniseSharedKvGraph } from './shared-kv-buffer.js';

/**
 * Load-time surgery on a stock decoder_model_merged graph (the public export format), so the decode loop does less:
 *
 * - KV outputs: the graph returns only the K/V of the tokens it was given (the second input of each
 *   Concat(past_key_values.i.*, new) that produces present.i.*) instead of the whole present, so the past is no
 *   longer copied out to JavaScript on every step. The host keeps the cache and feeds it back in place.
 * - Last-row logits: when the graph has no num_logits_to_keep input, a Slice keeps only the last position before the
 *   LM head, so prefill no longer computes (and copies out) logits for every prompt position.
 * - Attention straight from the cache: exports concatenate past and new K/V (a copy of the cache per layer and step),
 *   then repeat each KV head for its group of query heads (Unsqueeze → Expand → Reshape, another copy, group-fold).
 *   Grouping the query heads instead ([B, heads, S, d] → [B, kv_heads, group·S, d]) and attending to past and new
 *   separately computes the same dot products with no copy of the cache at all.
 *
 * The arithmetic of the graph is untouched; each rewrite that does not find its pattern is skipped with a reason.
 */
export interface DecoderRewrite {
  readonly model: Uint8Array;
  readonly hasExternalData: boolean;
  /** Per layer, the output names carrying the new tokens' key and value; undefined when that rewrite was skipped. */
  readonly newKv: readonly { key: string; value: string }[] | undefined;
  readonly lastRowLogits: boolean;
  readonly cacheReadInPlace: boolean;
  /**
   * The graph attends with GroupQueryAttention (model-builder style): nothing to rewrite for the cache, which the host
   * shares with the graph as one preallocated buffer per layer instead (see shared-kv-buffer.ts).
   */
  readonly sharedKvBuffer: boolean;
  /** Why a rewrite was skipped (for diagnostics and stats). */
  readonly skipped: readonly string[];
}

const matMulOps = new Set(['MatMul', 'MatMulInteger', 'MatMulNBits', 'Gemm', 'FusedMatMul', 'MatMulIntegerToFloat']);

/** Follows Identity nodes back to the tensor they forward. */
function throughIdentity(view: GraphView, tensor: string): string {
  let node = view.producers.get(tensor);
  while (node?.opType === 'Identity') {
    tensor = node.inputs[0]!;
    node = view.producers.get(tensor);
  }
  return tensor;
}

function findNewKv(view: GraphView, layers: number): { key: string; value: string }[] | string {
  const result = [];
  for (let i = 0; i < layers; i++) {
    const pair: Record<'key' | 'value', string> = { key: '', value: '' };
    for (const kind of ['key', 'value'] as const) {
      const concat = view.producers.get(throughIdentity(view, `present.${i}.${kind}`));
      if (concat?.opType !== 'Concat' || concat.inputs.length !== 2) return `present.${i}.${kind} is not a Concat of past and new`;
      if (throughIdentity(view, concat.inputs[0]!) !== `past_key_values.${i}.${kind}`) {
        return `present.${i}.${kind} does not start with past_key_values.${i}.${kind}`;
      }
      pair[kind] = concat.inputs[1]!;
    }
    result.push(pair);
  }
  return result;
}

/** The nearest matrix multiplication with a constant weight upstream of `logits`: the LM head. */
function findLmHead(view: GraphView): GraphNode | undefined {
  const seen = new Set<string>();
  let frontier = ['logits'];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const tensor of frontier) {
      const node = view.producers.get(tensor);
      if (!node || seen.has(tensor)) continue;
      seen.add(tensor);
      if (matMulOps.has(node.opType) && node.inputs.some((input) => isConstant(view, input))) return node;
      next.push(...node.inputs.filter((input) => input && !isConstant(view, input)));
    }
    frontier = next;
  }
  return undefined;
}

function lastRowEdits(view: GraphView): Pick<GraphEdits, 'nodeInputs' | 'addNodes' | 'addInitializers'> | string {
  const head = findLmHead(view);
  if (!head) return 'no LM head found upstream of logits';
  const activationIndex = head.inputs.findIndex((input) => input && !isConstant(view, input));
  const activation = head.inputs[activationIndex]!;
  // Dynamic int8 exports quantise the activation first: slice before the quantiser so scales come from that row.
  const quantiser = view.producers.get(activation);
  const target = quantiser?.opType === 'DynamicQuantizeLinear' ? quantiser : head;
  const inputIndex = target === head ? activationIndex : 0;
  const source = target.inputs[inputIndex]!;
  const sliced = `${source}/screenask_last_row`;
  const slice: NewNode = {
    opType: 'Slice',
    inputs: [source, 'screenask_last_row/starts', 'screenask_last_row/ends', 'screenask_last_row/axes'],
    outputs: [sliced],
    name: 'screenask_last_row',
  };
  const inputs = [...target.inputs];
  inputs[inputIndex] = sliced;
  return {
    nodeInputs: new Map([[target.index, inputs]]),
    addNodes: [slice],
    addInitializers: [
      { name: 'screenask_last_row/starts', values: [-1n] },
      { name: 'screenask_last_row/ends', values: [0x7fffffffffffffffn] },
      { name: 'screenask_last_row/axes', values: [1n] },
    ],
  };
}

function single(view: GraphView, tensor: string, opType: string): GraphNode | undefined {
  const readers = view.consumers.get(tensor) ?? [];
  return readers.length === 1 && readers[0]!.opType === opType ? readers[0] : undefined;
}

const groupedShape = 'screenask_attention/grouped_shape';
const headsShape = 'screenask_attention/heads_shape';
const lengthAxis = 'screenask_attention/length_axis';
const lastAxis = 'screenask_attention/last_axis';
const zeroStart = 'screenask_attention/zero';
const endOfAxis = 'screenask_attention/end';

/**
 * One layer's Concat → repeat → attend chains for key and value, replaced by attention over grouped query heads that
 * reads the past and the new tokens separately: scores are [q·pastᵀ | q·newᵀ] (concatenated, small), and the context
 * is probs[:, :past]·past_v + probs[:, past:]·new_v. The cache is never copied inside the graph.
 */
function splitGroupedAttention(view: GraphView, layer: number): { add: NewNode[]; remove: number[] } | string {
  const chains = [];
  for (const kind of ['key', 'value'] as const) {
    const cache = throughIdentity(view, `present.${layer}.${kind}`);
    const concat = view.producers.get(cache);
    if (concat?.opType !== 'Concat') return `${cache} is not a Concat of past and new`;
    const unsqueeze = single(view, cache, 'Unsqueeze');
    const expand = unsqueeze && single(view, unsqueeze.outputs[0]!, 'Expand');
    const reshape = expand && single(view, expand.outputs[0]!, 'Reshape');
    if (!unsqueeze || !expand || !reshape) return `${cache} is not only repeated with Unsqueeze → Expand → Reshape`;
    const repeat: [GraphNode, GraphNode, GraphNode] = [unsqueeze, expand, reshape];
    chains.push({ cache, concat, past: concat.inputs[0]!, fresh: concat.inputs[1]!, repeat });
  }
  const [key, value] = chains as [(typeof chains)[0], (typeof chains)[0]];
  const transpose = single(view, key.repeat[2].outputs[0]!, 'Transpose');
  const scores = transpose && single(view, transpose.outputs[0]!, 'MatMul');
  if (!transpose || transpose.intsAttributes.get('perm')?.join(',') !== '0,1,3,2' || !scores || scores.inputs[1] !== transpose.outputs[0]) {
    return `repeated ${key.cache} does not feed Transpose(0,1,3,2) → MatMul`;
  }
  const context = single(view, value.repeat[2].outputs[0]!, 'MatMul');
  if (!context || context.inputs[1] !== value.repeat[2].outputs[0]) return `repeated ${value.cache} does not feed MatMul(probs, ·)`;

  const n = `screenask_attention/${layer}`;
  const node = (opType: string, inputs: string[], output: string, attributes: Partial<NewNode> = {}): NewNode => ({
    opType,
    inputs,
    outputs: [output],
    name: output,
    ...attributes,
  });
  const add: NewNode[] = [
    node('Reshape', [scores.inputs[0]!, groupedShape], `${n}/q`),
    node('Transpose', [key.past], `${n}/past_kT`, { ints: { perm: [0, 1, 3, 2] } }),
    node('Transpose', [key.fresh], `${n}/new_kT`, { ints: { perm: [0, 1, 3, 2] } }),
    node('MatMul', [`${n}/q`, `${n}/past_kT`], `${n}/past_scores`),
    node('MatMul', [`${n}/q`, `${n}/new_kT`], `${n}/new_scores`),
    node('Concat', [`${n}/past_scores`, `${n}/new_scores`], `${n}/scores`, { int: { axis: 3 } }),
    node('Reshape', [`${n}/scores`, headsShape], scores.outputs[0]!),
    // The past length, as a 1-D tensor, to split the probabilities where the past ends.
    node('Shape', [value.past], `${n}/past_shape`),
    node('Gather', [`${n}/past_shape`, lengthAxis], `${n}/past_length`),
    node('Reshape', [context.inputs[0]!, groupedShape], `${n}/p`),
    node('Slice', [`${n}/p`, zeroStart, `${n}/past_length`, lastAxis], `${n}/past_p`),
    node('Slice', [`${n}/p`, `${n}/past_length`, endOfAxis, lastAxis], `${n}/new_p`),
    node('MatMul', [`${n}/past_p`, value.past], `${n}/past_ctx`),
    node('MatMul', [`${n}/new_p`, value.fresh], `${n}/new_ctx`),
    node('Add', [`${n}/past_ctx`, `${n}/new_ctx`], `${n}/ctx`),
    node('Reshape', [`${n}/ctx`, headsShape], context.outputs[0]!),
  ];
  const remove = [key, value].flatMap((chain) => [chain.concat.index, ...chain.repeat.map((r) => r.index)]);
  return { add, remove: [...remove, transpose.index, scores.index, context.index] };
}

function cacheInPlaceEdits(
  view: GraphView,
  { layers, attentionHeads, kvHeads }: RewriteOptions,
): Pick<GraphEdits, 'addNodes' | 'removeNodes' | 'addInitializers'> | string {
  if (kvHeads === attentionHeads) return 'no grouped heads';
  const addNodes: NewNode[] = [];
  const removeNodes = new Set<number>();
  for (let i = 0; i < layers; i++) {
    const edit = splitGroupedAttention(view, i);
    if (typeof edit === 'string') return edit;
    addNodes.push(...edit.add);
    for (const index of edit.remove) removeNodes.add(index);
  }
  // Reshape's 0 copies the input's dimension: [B, heads, S, d] ↔ [B, kv_heads, group·S, d] for any B, S, d.
  return {
    addNodes,
    removeNodes,
    addInitializers: [
      { name: groupedShape, values: [0n, BigInt(kvHeads), -1n, 0n] },
      { name: headsShape, values: [0n, BigInt(attentionHeads), -1n, 0n] },
      { name: lengthAxis, values: [2n] },
      { name: lastAxis, values: [3n] },
      { name: zeroStart, values: [0n] },
      { name: endOfAxis, values: [0x7fffffffffffffffn] },
    ],
  };
}

export interface RewriteOptions {
  readonly layers: number;
  readonly attentionHeads: number;
  readonly kvHeads: number;
}

export function rewriteDecoder(model: Uint8Array, options: RewriteOptions): DecoderRewrite {
  const view = readGraph(model);
  const keepLastLogits = !view.inputs.some((input) => input.name === 'num_logits_to_keep');
  const skipped: string[] = [];
  const newKv = findNewKv(view, options.layers);
  const shared = typeof newKv === 'string' ? recogniseSharedKvGraph(view, options.layers) : 'the graph concatenates past and new itself';
  let edits: GraphEdits = {};
  if (shared === true) {
    // The cache stays the graph's own input and output; only the host's buffers change (no KV rewrite to skip).
  } else if (typeof newKv === 'string') {
    skipped.push(`KV outputs: ${newKv}`);
    // Say why the GroupQueryAttention path did not apply either, when the graph attends that way at all.
    if (view.nodes.some((node) => node.opType === 'GroupQueryAttention')) skipped.push(`shared KV buffer: ${shared}`);
  } else {
    const elemType = view.inputs.find((input) => input.name === 'past_key_values.0.key')?.elemType || elemTypes.float;
    edits = {
      outputs: new Map(
        newKv.flatMap((pair, i) => [
          [`present.${i}.key`, { name: pair.key, elemType }],
          [`present.${i}.value`, { name: pair.value, elemType }],
        ]),
      ),
    };
  }
  // Reading the cache in place needs the Concat gone, which needs present.* to be outputs no longer.
  const inPlace = typeof newKv === 'string' ? 'needs the KV-output rewrite' : cacheInPlaceEdits(view, options);
  const cacheReadInPlace = typeof inPlace !== 'string';
  if (typeof inPlace !== 'string') edits = { ...edits, ...inPlace };
  else if (shared !== true) skipped.push(`cache read in place: ${inPlace}`);
  let lastRowLogits = false;
  if (keepLastLogits) {
    const sliceEdits = lastRowEdits(view);
    if (typeof sliceEdits === 'string') skipped.push(`last-row logits: ${sliceEdits}`);
    else {
      edits = {
        ...edits,
        nodeInputs: sliceEdits.nodeInputs!,
        addNodes: [...(edits.addNodes ?? []), ...sliceEdits.addNodes!],
        addInitializers: [...(edits.addInitializers ?? []), ...sliceEdits.addInitializers!],
      };
      lastRowLogits = true;
    }
  }
  return {
    model: typeof newKv === 'string' && !lastRowLogits && !cacheReadInPlace ? model : editGraph(view, edits),
    hasExternalData: view.hasExternalData,
    newKv: typeof newKv === 'string' ? undefined : newKv,
    lastRowLogits,
    cacheReadInPlace,
    sharedKvBuffer: shared === true,
    skipped,
  };
}
