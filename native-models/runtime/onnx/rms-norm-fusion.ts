import { editGraph, type NewNode } from './graph-edit.js';
import { readGraph, type GraphNode, type GraphView } from './graph-view.js';
import { initializerValues, OnnxType, readInitializers } from './initializers.js';

/**
 * Load-time fusion of RMSNorm written as plain ops (what torch.onnx exports for LlamaRMSNorm when onnxruntime's own
 * fusion does not match it):
 *
 *   Mul(x, x) | Pow(x, 2) → ReduceMean(last axis, keepdims) → Add(ε) → Sqrt → Reciprocal → Mul(x, ·) | Div(x, ·) → Mul(w)
 *
 * becomes one SimplifiedLayerNormalization(x, w, ε) computed in float32: seven kernels (and their dispatch) per norm
 * become one, two norms per layer. Float32 graphs only; a kernel divides where the export multiplies by a reciprocal,
 * so results agree to rounding (the tests hold the greedy tokens to the stock graph's).
 */
export interface RmsNormFusion {
  readonly model: Uint8Array;
  readonly norms: number;
  readonly skipped?: string;
}

function onlyReader(view: GraphView, tensor: string): GraphNode | undefined {
  const readers = view.consumers.get(tensor) ?? [];
  return readers.length === 1 ? readers[0] : undefined;
}

/** The square of x: Mul(x, x), or Pow(x, 2) with a constant exponent. */
function squared(node: GraphNode, constants: ReadonlyMap<string, number>): string | undefined {
  if (node.opType === 'Mul' && node.inputs[0] === node.inputs[1]) return node.inputs[0];
  if (node.opType === 'Pow' && constants.get(node.inputs[1]!) === 2) return node.inputs[0];
  return undefined;
}

interface Match {
  readonly x: string;
  readonly weight: string;
  readonly epsilon: string;
  readonly output: string;
  readonly nodes: readonly GraphNode[];
}

function match(view: GraphView, square: GraphNode, constants: ReadonlyMap<string, number>): Match | undefined {
  const x = squared(square, constants);
  const mean = x === undefined ? undefined : onlyReader(view, square.outputs[0]!);
  if (!x || mean?.opType !== 'ReduceMean' || mean.inputs.length > 2) return undefined;
  const axes = mean.inputs[1] ? [constants.get(mean.inputs[1])] : mean.intsAttributes.get('axes');
  if (axes?.length !== 1 || axes[0] !== -1 || (mean.intsAttributes.get('keepdims')?.[0] ?? 1) !== 1) return undefined;
  const add = onlyReader(view, mean.outputs[0]!);
  const epsilon = add?.opType === 'Add' ? add.inputs.find((input) => input !== mean.outputs[0]) : undefined;
  if (!add || !epsilon || constants.get(epsilon) === undefined) return undefined;
  const sqrt = onlyReader(view, add.outputs[0]!);
  if (sqrt?.opType !== 'Sqrt') return undefined;
  let scaled = onlyReader(view, sqrt.outputs[0]!);
  const nodes = [square, mean, add, sqrt];
  if (scaled?.opType === 'Reciprocal') {
    nodes.push(scaled);
    const reciprocal = scaled.outputs[0]!;
    scaled = onlyReader(view, reciprocal);
    if (scaled?.opType !== 'Mul' || !scaled.inputs.includes(x) || !scaled.inputs.includes(reciprocal)) return undefined;
  } else if (scaled?.opType !== 'Div' || scaled.inputs[0] !== x) return undefined;
  nodes.push(scaled);
  const weighted = onlyReader(view, scaled.outputs[0]!);
  const weight = weighted?.opType === 'Mul' ? weighted.inputs.find((input) => input !== scaled!.outputs[0]) : undefined;
  if (!weighted || !weight || !view.initializers.has(weight)) return undefined;
  nodes.push(weighted);
  return { x, weight, epsilon, output: weighted.outputs[0]!, nodes };
}

/** Scalar float32 initializers (exponents, axes, ε) by name. */
function scalarConstants(view: GraphView, folder: string): Map<string, number> {
  const candidates = new Set(view.nodes.filter((n) => ['Pow', 'ReduceMean', 'Add'].includes(n.opType)).flatMap((n) => n.inputs.slice(1)));
  const small = readInitializers(view, new Set([...candidates].filter((name) => view.initializers.has(name))), folder);
  const out = new Map<string, number>();
  for (const init of small.values()) {
    if (init.dims.reduce((a, b) => a * b, 1) !== 1) continue;
    if (init.dataType === OnnxType.float) out.set(init.name, (initializerValues(init) as Float32Array)[0]!);
    if (init.dataType === OnnxType.int64) out.set(init.name, Number((initializerValues(init) as BigInt64Array)[0]!));
  }
  return out;
}

export function fuseRmsNorms(model: Uint8Array, folder: string): RmsNormFusion {
  const view = readGraph(model);
  const floatGraph = view.inputs.find((input) => input.name === 'inputs_embeds')?.elemType === OnnxType.float;
  if (!floatGraph) return { model, norms: 0, skipped: 'not a float32 graph' };
  let constants: Map<string, number>;
  try {
    constants = scalarConstants(view, folder);
  } catch (error) {
    return { model, norms: 0, skipped: `cannot read its constants (${(error as Error).message})` };
  }
  const addNodes: NewNode[] = [];
  const removeNodes = new Set<number>();
  for (const node of view.nodes) {
    const found = match(view, node, constants);
    if (!found || found.nodes.some((n) => removeNodes.has(n.index))) continue;
    for (const n of found.nodes) removeNodes.add(n.index);
    addNodes.push({
      opType: 'SimplifiedLayerNormalization',
      inputs: [found.x, found.weight],
      outputs: [found.output],
      name: `screenask_rms_norm/${addNodes.length}`,
      int: { axis: -1, stash_type: 1 },
      float: { epsilon: constants.get(found.epsilon)! },
    });
  }
  if (addNodes.length === 0) return { model, norms: 0, skipped: 'no RMSNorm written as plain ops' };
  return { model: editGraph(view, { addNodes, removeNodes }), norms: addNodes.length };
}
