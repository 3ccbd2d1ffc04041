import { fields, fieldString, WireType, type Field } from './wire.js';

// ONNX field numbers (onnx.proto3), for the messages an edit reads.
export const ModelField = { graph: 7 } as const;
export const GraphField = { node: 1, initializer: 5, input: 11, output: 12 } as const;
export const NodeField = { input: 1, output: 2, name: 3, opType: 4, attribute: 5, domain: 7 } as const;
export const TensorField = { dims: 1, dataType: 2, name: 8, rawData: 9, dataLocation: 14 } as const;
export const ValueInfoField = { name: 1, type: 2 } as const;

export interface GraphNode {
  readonly index: number;
  readonly opType: string;
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** Integer and integer-list attributes (axis, perm, axes…), the only kinds an edit inspects; an integer is a list of one. */
  readonly intsAttributes: ReadonlyMap<string, readonly number[]>;
  readonly field: Field;
}

const AttributeField = { name: 1, i: 3, ints: 8 } as const;

function readIntsAttribute(buf: Uint8Array, field: Field): [string, number[]] {
  let name = '';
  const ints: number[] = [];
  for (const f of fields(buf, field.valueStart, field.end)) {
    if (f.number === AttributeField.name && f.wireType === WireType.Bytes) name = fieldString(buf, f);
    else if ((f.number === AttributeField.ints || f.number === AttributeField.i) && f.wireType === WireType.Varint) {
      ints.push(signedVarint(buf, f.valueStart, f.end));
    }
    else if (f.number === AttributeField.ints && f.wireType === WireType.Bytes) ints.push(...packedVarints(buf, f));
  }
  return [name, ints];
}

/**
 * The int64 varint at buf[start, end), signed. Negative numbers are ten-byte two's complement varints, beyond a
 * double's precision, so they are decoded exactly with BigInt (−1 must not read as 0).
 */
function signedVarint(buf: Uint8Array, start: number, end: number): number {
  let value = 0n;
  let shift = 0n;
  for (let pos = start; pos < end; pos++) {
    value |= BigInt(buf[pos]! & 0x7f) << shift;
    shift += 7n;
  }
  return Number(BigInt.asIntN(64, value));
}

function packedVarints(buf: Uint8Array, field: Field): number[] {
  const out: number[] = [];
  let start = field.valueStart;
  for (let pos = field.valueStart; pos < field.end; pos++) {
    if (buf[pos]! < 0x80) {
      out.push(signedVarint(buf, start, pos + 1));
      start = pos + 1;
    }
  }
  return out;
}

export interface GraphValue {
  readonly name: string;
  /** ONNX element type of a tensor value (1 float, 10 float16, 7 int64…); 0 when not declared. */
  readonly elemType: number;
  readonly field: Field;
}

/** A read-only index of a model's main graph: nodes, graph inputs/outputs, initializer names. Weights are not read. */
export interface GraphView {
  readonly model: Uint8Array;
  readonly graphField: Field;
  readonly nodes: readonly GraphNode[];
  readonly inputs: readonly GraphValue[];
  readonly outputs: readonly GraphValue[];
  readonly initializers: ReadonlySet<string>;
  /** Some weights live in separate files, found relative to the model file's folder. */
  readonly hasExternalData: boolean;
  /** The node that produces each tensor. */
  readonly producers: ReadonlyMap<string, GraphNode>;
  /** The nodes that read each tensor. */
  readonly consumers: ReadonlyMap<string, readonly GraphNode[]>;
}

function readNode(buf: Uint8Array, field: Field, index: number): GraphNode {
  const inputs: string[] = [];
  const outputs: string[] = [];
  let opType = '';
  let domain = '';
  const intsAttributes = new Map<string, number[]>();
  for (const f of fields(buf, field.valueStart, field.end)) {
    if (f.wireType !== WireType.Bytes) continue;
    if (f.number === NodeField.input) inputs.push(fieldString(buf, f));
    else if (f.number === NodeField.output) outputs.push(fieldString(buf, f));
    else if (f.number === NodeField.opType) opType = fieldString(buf, f);
    else if (f.number === NodeField.domain) domain = fieldString(buf, f);
    else if (f.number === NodeField.attribute) intsAttributes.set(...readIntsAttribute(buf, f));
  }
  return { index, opType, domain, inputs, outputs, intsAttributes, field };
}

/** ValueInfoProto → TypeProto (2) → tensor_type (1) → elem_type (1). */
function readValue(buf: Uint8Array, field: Field): GraphValue {
  let name = '';
  let elemType = 0;
  for (const f of fields(buf, field.valueStart, field.end)) {
    if (f.number === ValueInfoField.name && f.wireType === WireType.Bytes) name = fieldString(buf, f);
    if (f.number !== ValueInfoField.type || f.wireType !== WireType.Bytes) continue;
    for (const t of fields(buf, f.valueStart, f.end)) {
      if (t.number !== 1 || t.wireType !== WireType.Bytes) continue;
      for (const e of fields(buf, t.valueStart, t.end)) if (e.number === 1 && e.wireType === WireType.Varint) elemType = e.varint;
    }
  }
  return { name, elemType, field };
}

export function readGraph(model: Uint8Array): GraphView {
  let graphField: Field | undefined;
  for (const f of fields(model)) if (f.number === ModelField.graph && f.wireType === WireType.Bytes) graphField = f;
  if (!graphField) throw new Error('the file holds no ONNX graph');
  const nodes: GraphNode[] = [];
  const inputs: GraphValue[] = [];
  const outputs: GraphValue[] = [];
  const initializers = new Set<string>();
  let hasExternalData = false;
  for (const f of fields(model, graphField.valueStart, graphField.end)) {
    if (f.wireType !== WireType.Bytes) continue;
    if (f.number === GraphField.node) nodes.push(readNode(model, f, nodes.length));
    else if (f.number === GraphField.initializer) {
      for (const t of fields(model, f.valueStart, f.end)) {
        if (t.number === TensorField.name && t.wireType === WireType.Bytes) initializers.add(fieldString(model, t));
        if (t.number === TensorField.dataLocation && t.varint === 1) hasExternalData = true;
      }
    }
    else if (f.number === GraphField.input) inputs.push(readValue(model, f));
    else if (f.number === GraphField.output) outputs.push(readValue(model, f));
  }
  const producers = new Map<string, GraphNode>();
  const consumers = new Map<string, GraphNode[]>();
  for (const node of nodes) {
    for (const output of node.outputs) producers.set(output, node);
    for (const input of node.inputs) consumers.set(input, [...(consumers.get(input) ?? []), node]);
  }
  return { model, graphField, nodes, inputs, outputs, initializers, hasExternalData, producers, consumers };
}

/** True for tensors fixed at load time: initializers and Constant outputs. */
export function isConstant(view: GraphView, tensor: string): boolean {
  return view.initializers.has(tensor) || view.producers.get(tensor)?.opType === 'Constant';
}
