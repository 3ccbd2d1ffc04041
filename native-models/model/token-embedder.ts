import { readFile } from 'node:fs/promises';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { initializerValues, OnnxType, readInitializers, type Initializer } from '../runtime/onnx/initializers.js';
import { isConstant, readGraph, type GraphNode, type GraphView } from '../runtime/onnx/graph-view.js';
import { openSession, type SessionSettings } from '../runtime/session.js';
import { int64Tensor, type FloatData } from '../runtime/tensors.js';

/**
 * Token ids → embedding rows. A decode step needs one row: a session call for it costs more than copying the row, so
 * at load the embed_tokens graph's table is read once and rows are copied (dequantized exactly as the graph does);
 * a graph this reader does not recognise runs as shipped, and `reason` says why.
 */
export interface TokenEmbedder {
  readonly via: 'table' | 'graph';
  readonly reason?: string;
  /** Rows [1, ids.length, hidden] in the graph's output dtype (float32 or float16). */
  embed(ids: readonly number[]): Promise<ort.Tensor>;
  release(): Promise<void>;
}

/** The table and how one row becomes the graph's output. */
interface Table {
  readonly rows: number;
  readonly hidden: number;
  copyRow(id: number, out: FloatData, at: number): void;
  readonly float16: boolean;
}

/** Follows Identity nodes from a graph output back to the node that computes it. */
function producerOf(view: GraphView, tensor: string): GraphNode | undefined {
  let node = view.producers.get(tensor);
  while (node?.opType === 'Identity') node = view.producers.get(node.inputs[0]!);
  return node;
}

function floatTable(init: Initializer): Table | string {
  if (init.dataType !== OnnxType.float && init.dataType !== OnnxType.float16) return `the table has ONNX element type ${init.dataType}`;
  const values = initializerValues(init) as Float32Array | Uint16Array;
  const [rows, hidden] = init.dims as [number, number];
  return {
    rows,
    hidden,
    float16: init.dataType === OnnxType.float16,
    copyRow: (id, out, at) => out.set(values.subarray(id * hidden, (id + 1) * hidden), at),
  };
}

/**
 * DequantizeLinear after the lookup: y = (q − zero_point) · scale, per tensor or per hidden unit. (q − zp) is a small
 * integer, so its double-precision product with a float32 scale is exact and Math.fround rounds it once, as the
 * kernel's float32 multiply does: the rows are bit-identical.
 */
function quantizedTable(init: Initializer, dequant: GraphNode, inits: Map<string, Initializer>): Table | string {
  if (init.dataType !== OnnxType.int8 && init.dataType !== OnnxType.uint8) return `the quantized table has ONNX element type ${init.dataType}`;
  const [rows, hidden] = init.dims as [number, number];
  const scaleInit = inits.get(dequant.inputs[1]!);
  const zeroInit = dequant.inputs[2] ? inits.get(dequant.inputs[2]) : undefined;
  if (!scaleInit || scaleInit.dataType !== OnnxType.float) return 'the dequantization scale is not a float32 initializer';
  if (dequant.inputs[2] && !zeroInit) return 'the zero point is not an initializer';
  const scale = initializerValues(scaleInit) as Float32Array;
  const zero = zeroInit ? (initializerValues(zeroInit) as Int8Array | Uint8Array) : new Int8Array(scale.length);
  const axis = dequant.intsAttributes.get('axis')?.[0];
  const perUnit = scale.length === hidden && scale.length > 1;
  if (!(scale.length === 1 || perUnit) || zero.length !== scale.length) return `scales of length ${scale.length} for rows of ${hidden}`;
  // Per-unit scales must run along the rows' last axis ([B, S, hidden]: axis 2 or −1).
  if (perUnit && axis !== undefined && axis !== 2 && axis !== -1) return `per-axis scales along axis ${axis}`;
  const q = initializerValues(init) as Int8Array | Uint8Array;
  return {
    rows,
    hidden,
    float16: false,
    copyRow: (id, out, at) => {
      const base = id * hidden;
      for (let j = 0; j < hidden; j++) {
        const k = perUnit ? j : 0;
        out[at + j] = Math.fround((q[base + j]! - zero[k]!) * scale[k]!);
      }
    },
  };
}

/** The embed_tokens graph as a table, or why not: Gather(table, input_ids) [→ DequantizeLinear] → the output. */
export function readEmbeddingTable(model: Uint8Array, folder: string): Table | string {
  const view = readGraph(model);
  const output = view.outputs[0]?.name;
  const ids = view.inputs.find((input) => input.name === 'input_ids');
  if (!output || !ids || view.outputs.length !== 1) return 'the graph does not map input_ids to one output';
  let last = producerOf(view, output);
  const dequant = last?.opType === 'DequantizeLinear' ? last : undefined;
  if (dequant) last = producerOf(view, dequant.inputs[0]!);
  const gather = last;
  if (gather?.opType !== 'Gather' || gather.inputs[1] !== ids.name || !isConstant(view, gather.inputs[0]!)) {
    return 'the output is not a Gather of a constant table by input_ids';
  }
  if ((gather.intsAttributes.get('axis')?.[0] ?? 0) !== 0) return 'the Gather is not along the table rows';
  const names = new Set([gather.inputs[0]!, ...(dequant?.inputs.slice(1).filter(Boolean) ?? [])]);
  const inits = readInitializers(view, names, folder);
  const table = inits.get(gather.inputs[0]!);
  if (!table || table.dims.length !== 2) return 'the table is not a 2-D initializer';
  return dequant ? quantizedTable(table, dequant, inits) : floatTable(table);
}

function tableEmbedder(table: Table): TokenEmbedder {
  return {
    via: 'table',
    async embed(ids) {
      const out = table.float16 ? new Uint16Array(ids.length * table.hidden) : new Float32Array(ids.length * table.hidden);
      ids.forEach((id, i) => {
        // The graph's Gather rejects such ids too; a silent zero row would be a wrong answer.
        if (!Number.isInteger(id) || id < 0 || id >= table.rows) throw new Error(`token id ${id} is outside the embedding table (${table.rows} rows)`);
        table.copyRow(id, out, i * table.hidden);
      });
      return new ort.Tensor(table.float16 ? 'float16' : 'float32', out, [1, ids.length, table.hidden]);
    },
    release: () => Promise.resolve(),
  };
}

function graphEmbedder(session: ort.InferenceSession, reason: string): TokenEmbedder {
  return {
    via: 'graph',
    reason,
    async embed(ids) {
      const out = await session.run({ input_ids: int64Tensor(ids, [1, ids.length]) });
      return out.inputs_embeds ?? Object.values(out)[0]!;
    },
    release: () => session.release(),
  };
}

/**
 * The table when the graph is one this reader knows (no session is opened then), else the graph as shipped. The rows
 * go to the decoder as a host input either way, so this holds on every device.
 */
export async function openTokenEmbedder(file: string, settings: SessionSettings): Promise<TokenEmbedder> {
  let reason: string;
  try {
    const table = readEmbeddingTable(await readFile(file), path.dirname(file));
    if (typeof table !== 'string') return tableEmbedder(table);
    reason = table;
  } catch (error) {
    reason = `cannot read the graph (${(error as Error).message})`;
  }
  const { session } = await openSession(file, settings);
  return graphEmbedder(session, reason);
}
