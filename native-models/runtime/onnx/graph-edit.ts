import { GraphField, ModelField, NodeField, TensorField, ValueInfoField, type GraphView } from './graph-view.js';
import { fields, fieldString, MessageWriter, WireType } from './wire.js';

const onnxInt64 = 7;
const onnxFloat = 1;

export interface NewNode {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name: string;
  /** Integer-list attributes, e.g. Transpose's perm. */
  readonly ints?: Readonly<Record<string, readonly number[]>>;
  /** Integer attributes, e.g. Concat's axis. */
  readonly int?: Readonly<Record<string, number>>;
  /** Float attributes, e.g. a normalisation's epsilon. */
  readonly float?: Readonly<Record<string, number>>;
}

export interface Int64Initializer {
  readonly name: string;
  readonly values: readonly bigint[];
}

/** An initializer of any element type, given as its little-endian bytes (e.g. concatenated weights). */
export interface RawInitializer {
  readonly name: string;
  readonly dataType: number;
  readonly dims: readonly number[];
  readonly bytes: Uint8Array;
}

/** What an edit changes; everything else is copied through byte for byte. */
export interface GraphEdits {
  /** Graph outputs to replace: old name → new output tensor (typed with the given ONNX element type). */
  readonly outputs?: ReadonlyMap<string, { name: string; elemType: number }>;
  /** Node index → its new input list. */
  readonly nodeInputs?: ReadonlyMap<number, readonly string[]>;
  readonly addNodes?: readonly NewNode[];
  /** Node indices to drop (their outputs must be produced by an added node or be unused). */
  readonly removeNodes?: ReadonlySet<number>;
  readonly addInitializers?: readonly Int64Initializer[];
  readonly addRawInitializers?: readonly RawInitializer[];
  /** Initializers no node reads any more (their bytes are left out of the new model). */
  readonly removeInitializers?: ReadonlySet<string>;
}

export const elemTypes = { float: onnxFloat, float16: 10, int64: onnxInt64 } as const;

function valueInfo(name: string, elemType: number): MessageWriter {
  // TypeProto { tensor_type { elem_type } }, no shape: the runtime infers it.
  const tensorType = new MessageWriter().varint(1, elemType);
  return new MessageWriter().string(ValueInfoField.name, name).bytes(ValueInfoField.type, new MessageWriter().bytes(1, tensorType));
}

function int64Tensor({ name, values }: Int64Initializer): MessageWriter {
  const raw = new Uint8Array(new BigInt64Array(values).buffer);
  return new MessageWriter()
    .varint(TensorField.dims, values.length)
    .varint(TensorField.dataType, onnxInt64)
    .string(TensorField.name, name)
    .bytes(TensorField.rawData, raw);
}

function rawTensor({ name, dataType, dims, bytes }: RawInitializer): MessageWriter {
  const tensor = new MessageWriter();
  for (const dim of dims) tensor.varint(TensorField.dims, dim);
  return tensor.varint(TensorField.dataType, dataType).string(TensorField.name, name).bytes(TensorField.rawData, bytes);
}

const attributeInt = 2; // AttributeProto.AttributeType.INT
const attributeInts = 7; // AttributeProto.AttributeType.INTS

/** A negative int64 is a ten-byte varint of its two's complement (e.g. axis -1). */
function int64Varint(value: number): Uint8Array {
  const out: number[] = [];
  let v = BigInt.asUintN(64, BigInt(value));
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

function intAttribute(name: string, value: number): MessageWriter {
  return new MessageWriter().string(1, name).raw(Uint8Array.of(3 * 8)).raw(int64Varint(value)).varint(20, attributeInt);
}

const attributeFloat = 1; // AttributeProto.AttributeType.FLOAT

function floatAttribute(name: string, value: number): MessageWriter {
  const bits = new Uint8Array(new Float32Array([value]).buffer);
  return new MessageWriter().string(1, name).raw(Uint8Array.of((2 << 3) | 5)).raw(bits).varint(20, attributeFloat);
}

function intsAttribute(name: string, values: readonly number[]): MessageWriter {
  const attribute = new MessageWriter().string(1, name);
  for (const value of values) {
    if (value < 0) throw new Error('negative attribute values are not supported'); // none of our edits needs them
    attribute.varint(8, value);
  }
  return attribute.varint(20, attributeInts);
}

function nodeMessage(node: NewNode): MessageWriter {
  const message = new MessageWriter();
  for (const input of node.inputs) message.string(NodeField.input, input);
  for (const output of node.outputs) message.string(NodeField.output, output);
  message.string(NodeField.name, node.name).string(NodeField.opType, node.opType);
  for (const [name, values] of Object.entries(node.ints ?? {})) message.bytes(NodeField.attribute, intsAttribute(name, values));
  for (const [name, value] of Object.entries(node.int ?? {})) message.bytes(NodeField.attribute, intAttribute(name, value));
  for (const [name, value] of Object.entries(node.float ?? {})) message.bytes(NodeField.attribute, floatAttribute(name, value));
  return message;
}

/** A node with new inputs: its other fields (attributes, domain, name) are kept as they were. */
function rewiredNode(model: Uint8Array, start: number, end: number, inputs: readonly string[]): MessageWriter {
  const message = new MessageWriter();
  for (const input of inputs) message.string(NodeField.input, input);
  for (const f of fields(model, start, end)) {
    if (f.number !== NodeField.input) message.raw(model.subarray(f.start, f.end));
  }
  return message;
}

function initializerName(model: Uint8Array, start: number, end: number): string {
  for (const t of fields(model, start, end)) if (t.number === TensorField.name && t.wireType === WireType.Bytes) return fieldString(model, t);
  return '';
}

/** A new model with the edits applied. New nodes are appended after the existing ones (ONNX needs no order). */
export function editGraph(view: GraphView, edits: GraphEdits): Uint8Array {
  const { model, graphField } = view;
  const graph = new MessageWriter();
  let nodeIndex = 0;
  for (const f of fields(model, graphField.valueStart, graphField.end)) {
    if (f.number === GraphField.node && f.wireType === WireType.Bytes) {
      const index = nodeIndex++;
      if (edits.removeNodes?.has(index)) continue;
      const inputs = edits.nodeInputs?.get(index);
      if (inputs) graph.bytes(GraphField.node, rewiredNode(model, f.valueStart, f.end, inputs));
      else graph.raw(model.subarray(f.start, f.end));
      continue;
    }
    if (f.number === GraphField.initializer && f.wireType === WireType.Bytes && edits.removeInitializers?.size) {
      if (edits.removeInitializers.has(initializerName(model, f.valueStart, f.end))) continue;
    }
    if (f.number === GraphField.output && f.wireType === WireType.Bytes) {
      const name = view.outputs.find((o) => o.field.start === f.start)?.name ?? '';
      const replacement = edits.outputs?.get(name);
      if (replacement) graph.bytes(GraphField.output, valueInfo(replacement.name, replacement.elemType));
      else graph.raw(model.subarray(f.start, f.end));
      continue;
    }
    graph.raw(model.subarray(f.start, f.end));
  }
  for (const node of edits.addNodes ?? []) graph.bytes(GraphField.node, nodeMessage(node));
  for (const init of edits.addInitializers ?? []) graph.bytes(GraphField.initializer, int64Tensor(init));
  for (const init of edits.addRawInitializers ?? []) graph.bytes(GraphField.initializer, rawTensor(init));

  const out = new MessageWriter();
  for (const f of fields(model)) {
    if (f.number === ModelField.graph && f.start === graphField.start) out.bytes(ModelField.graph, graph);
    else out.raw(model.subarray(f.start, f.end));
  }
  return out.toBytes();
}
