import { editGraph, type NewNode, type RawInitializer } from './graph-edit.js';
import { readGraph, type GraphNode, type GraphView } from './graph-view.js';
import { OnnxType, readInitializers, type Initializer } from './initializers.js';
import { fields, WireType } from './wire.js';

/**
 * Load-time fusion of the projections that read the same activation (q, k and v of a layer; gate and up): one matrix
 * multiplication over the weights concatenated along N, then a Split back into the original outputs. A decode step
 * then runs one kernel instead of three (two), and a dynamic-int8 graph dequantizes one accumulator row instead of
 * three. Each output column is the same dot product of the same operands, so the results are those of the stock graph.
 *
 * Recognised per projection:
 * - float: MatMul(x, W) with W a 2-D float32/float16 initializer;
 * - dynamic int8 (quantize_dynamic): MatMulInteger(xq, Wq, x_zero[, W_zero]) → Cast(float) → Mul(·, Mul(x_scale, W_scale)),
 *   with W_scale (and W_zero) per tensor or per column.
 * Anything else is left as it is; `skipped` says why when nothing could be fused.
 */
export interface ProjectionFusion {
  readonly model: Uint8Array;
  /** Groups of projections fused (each one MatMul now). */
  readonly groups: number;
  readonly skipped?: string;
}

/** Weights inlined into the rewritten model at most (protobuf caps a message at 2 GiB). */
const MAX_INLINE_BYTES = 1 << 30;

interface Projection {
  /** Nodes this projection replaces, the last one producing `output`. */
  readonly nodes: readonly GraphNode[];
  readonly output: string;
  readonly weight: string;
  readonly scale?: string;
  readonly zero?: string;
}

interface Group {
  /** The shared activation (float x, or the quantized xq with its zero point and scale). */
  readonly key: string;
  readonly kind: 'float' | 'int8';
  readonly members: Projection[];
  readonly first: GraphNode;
}

function onlyReader(view: GraphView, tensor: string): GraphNode | undefined {
  const readers = view.consumers.get(tensor) ?? [];
  return readers.length === 1 ? readers[0] : undefined;
}

/** The default domain's opset version (Split takes its sizes as an input from 13 on). */
function opsetVersion(model: Uint8Array): number {
  for (const f of fields(model)) {
    if (f.number !== 8 || f.wireType !== WireType.Bytes) continue;
    let domain = '';
    let version = 0;
    for (const o of fields(model, f.valueStart, f.end)) {
      if (o.number === 1 && o.wireType === WireType.Bytes) domain = new TextDecoder().decode(model.subarray(o.valueStart, o.end));
      if (o.number === 2 && o.wireType === WireType.Varint) version = o.varint;
    }
    if (domain === '' || domain === 'ai.onnx') return version;
  }
  return 0;
}

function floatProjection(view: GraphView, node: GraphNode): { group: string; projection: Projection } | undefined {
  if (node.opType !== 'MatMul' || node.inputs.length !== 2 || !view.initializers.has(node.inputs[1]!)) return undefined;
  return { group: `float:${node.inputs[0]}`, projection: { nodes: [node], output: node.outputs[0]!, weight: node.inputs[1]! } };
}

function int8Projection(view: GraphView, node: GraphNode): { group: string; projection: Projection } | undefined {
  if (node.opType !== 'MatMulInteger' || !view.initializers.has(node.inputs[1]!)) return undefined;
  const zero = node.inputs[3] || undefined;
  if (zero && !view.initializers.has(zero)) return undefined;
  const cast = onlyReader(view, node.outputs[0]!);
  if (cast?.opType !== 'Cast') return undefined;
  const mul = onlyReader(view, cast.outputs[0]!);
  if (mul?.opType !== 'Mul') return undefined;
  const scaleTensor = mul.inputs.find((input) => input !== cast.outputs[0]);
  const scaleMul = scaleTensor ? view.producers.get(scaleTensor) : undefined;
  if (scaleMul?.opType !== 'Mul' || onlyReader(view, scaleTensor!) !== mul) return undefined;
  const weightScale = scaleMul.inputs.find((input) => view.initializers.has(input));
  const inputScale = scaleMul.inputs.find((input) => input !== weightScale);
  if (!weightScale || !inputScale) return undefined;
  return {
    group: `int8:${node.inputs[0]}|${node.inputs[2] ?? ''}|${inputScale}|${zero ? 'zero' : ''}`,
    projection: { nodes: [node, cast, scaleMul, mul], output: mul.outputs[0]!, weight: node.inputs[1]!, scale: weightScale, ...(zero ? { zero } : {}) },
  };
}

function findGroups(view: GraphView): Group[] {
  const groups = new Map<string, Group>();
  for (const node of view.nodes) {
    const found = floatProjection(view, node) ?? int8Projection(view, node);
    if (!found) continue;
    const group = groups.get(found.group) ?? { key: found.group, kind: found.group.startsWith('int8') ? 'int8' : 'float', members: [], first: node };
    group.members.push(found.projection);
    groups.set(found.group, group);
  }
  return [...groups.values()].filter((g) => g.members.length > 1);
}

/** [K, N₁] … [K, Nₘ] row-major → [K, ΣN]; undefined when the weights do not line up. */
function concatColumns(weights: readonly Initializer[]): { bytes: Uint8Array; dims: number[] } | undefined {
  const [first] = weights;
  if (!first || weights.some((w) => w.dims.length !== 2 || w.dims[0] !== first.dims[0] || w.dataType !== first.dataType)) return undefined;
  const rows = first.dims[0]!;
  const rowBytes = weights.map((w) => w.bytes.length / rows);
  const total = rowBytes.reduce((a, b) => a + b, 0);
  const out = new Uint8Array(rows * total);
  for (let k = 0; k < rows; k++) {
    let at = k * total;
    weights.forEach((w, i) => {
      out.set(w.bytes.subarray(k * rowBytes[i]!, (k + 1) * rowBytes[i]!), at);
      at += rowBytes[i]!;
    });
  }
  return { bytes: out, dims: [rows, weights.reduce((n, w) => n + w.dims[1]!, 0)] };
}

/** Per-tensor or per-column scales / zero points → one value per column of the fused weight. */
function perColumn(values: readonly Initializer[], columns: readonly number[]): Uint8Array | undefined {
  const size = values[0]!.bytes.length / Math.max(1, values[0]!.dims.reduce((a, b) => a * b, 1));
  if (values.some((v) => v.dataType !== values[0]!.dataType)) return undefined;
  const out = new Uint8Array(columns.reduce((a, b) => a + b, 0) * size);
  let at = 0;
  for (const [i, v] of values.entries()) {
    const count = v.bytes.length / size;
    if (count !== 1 && count !== columns[i]) return undefined;
    for (let n = 0; n < columns[i]!; n++, at += size) out.set(v.bytes.subarray(count === 1 ? 0 : n * size, (count === 1 ? 1 : n + 1) * size), at);
  }
  return out;
}

function fuseGroup(group: Group, inits: Map<string, Initializer>, index: number): { nodes: NewNode[]; initializers: RawInitializer[] } | undefined {
  const weights = group.members.map((m) => inits.get(m.weight));
  if (weights.some((w) => !w)) return undefined;
  const weight = concatColumns(weights as Initializer[]);
  if (!weight) return undefined;
  const columns = (weights as Initializer[]).map((w) => w.dims[1]!);
  const n = `screenask_fused/${index}`;
  const initializers: RawInitializer[] = [{ name: `${n}/weight`, dataType: weights[0]!.dataType, dims: weight.dims, bytes: weight.bytes }];
  const splitSizes = `${n}/split`;
  initializers.push({ name: splitSizes, dataType: OnnxType.int64, dims: [columns.length], bytes: new Uint8Array(new BigInt64Array(columns.map(BigInt)).buffer) });
  const node = (opType: string, inputs: string[], outputs: string[], int?: Record<string, number>): NewNode => ({ opType, inputs, outputs, name: outputs[0]!, ...(int ? { int } : {}) });
  const outputs = group.members.map((m) => m.output);
  const first = group.members[0]!;
  if (group.kind === 'float') {
    return {
      initializers,
      nodes: [node('MatMul', [first.nodes[0]!.inputs[0]!, `${n}/weight`], [`${n}/y`]), node('Split', [`${n}/y`, splitSizes], outputs, { axis: -1 })],
    };
  }
  const scales = group.members.map((m) => inits.get(m.scale!));
  const zeros = group.members.map((m) => (m.zero ? inits.get(m.zero) : undefined));
  if (scales.some((s) => s?.dataType !== OnnxType.float) || (first.zero && zeros.some((z) => !z))) return undefined;
  const scale = perColumn(scales as Initializer[], columns);
  const zero = first.zero ? perColumn(zeros as Initializer[], columns) : undefined;
  if (!scale || (first.zero && !zero)) return undefined;
  initializers.push({ name: `${n}/scale`, dataType: OnnxType.float, dims: [weight.dims[1]!], bytes: scale });
  if (zero) initializers.push({ name: `${n}/zero`, dataType: zeros[0]!.dataType, dims: [weight.dims[1]!], bytes: zero });
  const [matMul, , scaleMul] = first.nodes as [GraphNode, GraphNode, GraphNode, GraphNode];
  const inputScale = scaleMul.inputs.find((input) => input !== first.scale)!;
  return {
    initializers,
    nodes: [
      node('MatMulInteger', [matMul.inputs[0]!, `${n}/weight`, matMul.inputs[2] ?? '', ...(zero ? [`${n}/zero`] : [])], [`${n}/acc`]),
      node('Cast', [`${n}/acc`], [`${n}/acc_float`], { to: OnnxType.float }),
      node('Mul', [inputScale, `${n}/scale`], [`${n}/scale_row`]),
      node('Mul', [`${n}/acc_float`, `${n}/scale_row`], [`${n}/y`]),
      node('Split', [`${n}/y`, splitSizes], outputs, { axis: -1 }),
    ],
  };
}

/** Initializers that only the replaced nodes read: left out of the new model. */
function unusedAfter(view: GraphView, removed: ReadonlySet<number>, names: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const name of names) if ((view.consumers.get(name) ?? []).every((node) => removed.has(node.index))) out.add(name);
  return out;
}

export function fuseProjections(model: Uint8Array, folder: string): ProjectionFusion {
  const view = readGraph(model);
  if (opsetVersion(model) < 13) return { model, groups: 0, skipped: 'opset below 13 (Split takes no sizes input)' };
  const groups = findGroups(view);
  if (groups.length === 0) return { model, groups: 0, skipped: 'no MatMul or MatMulInteger projections share an input' };
  const names = new Set(groups.flatMap((g) => g.members.flatMap((m) => [m.weight, ...(m.scale ? [m.scale] : []), ...(m.zero ? [m.zero] : [])])));
  const inits = readInitializers(view, names, folder);
  const addNodes: NewNode[] = [];
  const addRawInitializers: RawInitializer[] = [];
  const removeNodes = new Set<number>();
  let inline = 0;
  groups.forEach((group, i) => {
    const fused = fuseGroup(group, inits, i);
    if (!fused) return;
    const bytes = view.hasExternalData ? fused.initializers.reduce((n, init) => n + init.bytes.length, 0) : 0;
    if (inline + bytes > MAX_INLINE_BYTES) return;
    inline += bytes;
    addNodes.push(...fused.nodes);
    addRawInitializers.push(...fused.initializers);
    for (const m of group.members) for (const node of m.nodes) removeNodes.add(node.index);
  });
  if (addNodes.length === 0) return { model, groups: 0, skipped: 'the projections sharing an input have weights that do not line up' };
  const removeInitializers = unusedAfter(view, removeNodes, names);
  return { model: editGraph(view, { addNodes, addRawInitializers, removeNodes, removeInitializers }), groups: new Set(addNodes.filter((n) => n.opType === 'Split')).size };
}
