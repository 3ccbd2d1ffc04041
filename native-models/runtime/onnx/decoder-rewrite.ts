import { editGraph, elemTypes, type GraphEdits, type NewNode } from './graph-edit.js';
import { isConstant, readGraph, type GraphNode, type GraphView } from './graph-view.js';

/**
 * Load-time surgery on a stock decoder_model_merged graph (the public export format), so the decode loop does less:
 *
 * - KV outputs: the graph returns only the K/V of the tokens it was given (the second input of each
 *   Concat(past_key_values.i.*, new) that produces present.i.*) instead of the whole present, so the past is no
 *   longer copied out to JavaScript on every step. The host keeps the cache and feeds it back in place.
 * - Last-row logits: when the graph has no num_logits_to_keep input, a Slice keeps only the last position before the
 *   LM head, so prefill no longer computes (and copies out) logits for every prompt position.
 *
 * The arithmetic of the graph is untouched; each rewrite that does not find its pattern is skipped with a reason.
 */
export interface DecoderRewrite {
  readonly model: Uint8Array;
  readonly hasExternalData: boolean;
  /** Per layer, the output names carrying the new tokens' key and value; undefined when that rewrite was skipped. */
  readonly newKv: readonly { key: string; value: string }[] | undefined;
  readonly lastRowLogits: boolean;
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

export function rewriteDecoder(
  model: Uint8Array,
  options: { layers: number },
): DecoderRewrite {
  const view = readGraph(model);
  const keepLastLogits = !view.inputs.some((input) => input.name === 'num_logits_to_keep');
  const skipped: string[] = [];
  const newKv = findNewKv(view, options.layers);
  let edits: GraphEdits = {};
  if (typeof newKv === 'string') {
    skipped.push(`KV outputs: ${newKv}`);
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
  let lastRowLogits = false;
  if (keepLastLogits) {
    const sliceEdits = lastRowEdits(view);
    if (typeof sliceEdits === 'string') skipped.push(`last-row logits: ${sliceEdits}`);
    else {
      edits = { ...edits, ...sliceEdits };
      lastRowLogits = true;
    }
  }
  return {
    model: typeof newKv === 'string' && !lastRowLogits ? model : editGraph(view, edits),
    hasExternalData: view.hasExternalData,
    newKv: typeof newKv === 'string' ? undefined : newKv,
    lastRowLogits,
    skipped,
  };
}
