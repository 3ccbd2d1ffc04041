import { closeSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { GraphField, TensorField, type GraphView } from './graph-view.js';
import { fields, fieldString, WireType, type Field } from './wire.js';

/** ONNX TensorProto.DataType values the load-time readers handle. */
export const OnnxType = { float: 1, uint8: 2, int8: 3, int32: 6, int64: 7, float16: 10 } as const;

const bytesPerElement: Record<number, number> = { 1: 4, 2: 1, 3: 1, 6: 4, 7: 8, 10: 2 };

/** One initializer's dims, element type and little-endian bytes (a view into the model, or read from its data file). */
export interface Initializer {
  readonly name: string;
  readonly dataType: number;
  readonly dims: readonly number[];
  readonly bytes: Uint8Array;
}

const ExternalField = { key: 1, value: 2 } as const;
const TypedField = { float: 4, int32: 5, int64: 7 } as const;

/** key → value of a TensorProto's external_data entries (location, offset, length). */
function externalEntries(model: Uint8Array, field: Field): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of fields(model, field.valueStart, field.end)) {
    if (entry.number !== 13 || entry.wireType !== WireType.Bytes) continue;
    let key = '';
    let value = '';
    for (const kv of fields(model, entry.valueStart, entry.end)) {
      if (kv.number === ExternalField.key) key = fieldString(model, kv);
      if (kv.number === ExternalField.value) value = fieldString(model, kv);
    }
    out.set(key, value);
  }
  return out;
}

function readExternal(folder: string, entries: Map<string, string>, size: number): Uint8Array {
  const location = entries.get('location') ?? '';
  // Same rule as onnxruntime for graphs opened from bytes: the data file sits in the model's folder.
  if (!location || path.isAbsolute(location) || location.split(/[\\/]/).includes('..')) throw new Error(`external data location "${location}" is outside the model folder`);
  const bytes = new Uint8Array(Number(entries.get('length') ?? size));
  const fd = openSync(path.join(folder, location), 'r');
  try {
    const read = readSync(fd, bytes, 0, bytes.length, Number(entries.get('offset') ?? 0));
    if (read !== bytes.length) throw new Error(`external data of ${location} is truncated`);
  } finally {
    closeSync(fd);
  }
  return bytes;
}

/** Values stored in TensorProto's typed repeated fields (float_data, int32_data…) instead of raw_data. */
function typedBytes(model: Uint8Array, field: Field, dataType: number, count: number): Uint8Array {
  const out = new Uint8Array(count * bytesPerElement[dataType]!);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const f of fields(model, field.valueStart, field.end)) {
    if (f.number === TypedField.float && f.wireType === WireType.Bytes && dataType === OnnxType.float) {
      out.set(model.subarray(f.valueStart, f.end), at);
      at += f.end - f.valueStart;
    } else if (f.number === TypedField.float && f.wireType === WireType.Fixed32) {
      out.set(model.subarray(f.end - 4, f.end), at);
      at += 4;
    } else if (f.number === TypedField.int32 && f.wireType === WireType.Varint) {
      // int32_data also carries int8, uint8 and float16 bits, one element per varint.
      const value = f.varint >= 2 ** 63 ? f.varint - 2 ** 64 : f.varint;
      if (dataType === OnnxType.float16) view.setUint16(at, value, true);
      else if (dataType === OnnxType.int32) view.setInt32(at, value, true);
      else view.setInt8(at, value);
      at += bytesPerElement[dataType]!;
    }
  }
  if (at !== out.length) throw new Error('initializer values in a layout this reader does not handle');
  return out;
}

/**
 * Reads the named initializers of a graph (weights included, from the model bytes or its external data files in
 * `folder`). Missing names are absent from the result; an unsupported element type or layout throws.
 */
export function readInitializers(view: GraphView, names: ReadonlySet<string>, folder: string): Map<string, Initializer> {
  const { model, graphField } = view;
  const found = new Map<string, Initializer>();
  for (const f of fields(model, graphField.valueStart, graphField.end)) {
    if (f.number !== GraphField.initializer || f.wireType !== WireType.Bytes) continue;
    let name = '';
    let dataType = 0;
    let raw: Field | undefined;
    let external = false;
    const dims: number[] = [];
    for (const t of fields(model, f.valueStart, f.end)) {
      if (t.number === TensorField.name && t.wireType === WireType.Bytes) name = fieldString(model, t);
      else if (t.number === TensorField.dataType) dataType = t.varint;
      else if (t.number === TensorField.dims && t.wireType === WireType.Varint) dims.push(t.varint);
      else if (t.number === TensorField.rawData && t.wireType === WireType.Bytes) raw = t;
      else if (t.number === TensorField.dataLocation && t.varint === 1) external = true;
    }
    if (!names.has(name)) continue;
    const size = bytesPerElement[dataType];
    if (!size) throw new Error(`initializer ${name} has ONNX element type ${dataType}`);
    const count = dims.reduce((a, b) => a * b, 1);
    const bytes = external
      ? readExternal(folder, externalEntries(model, f), count * size)
      : raw
        ? model.subarray(raw.valueStart, raw.end)
        : typedBytes(model, f, dataType, count);
    if (bytes.length !== count * size) throw new Error(`initializer ${name} holds ${bytes.length} bytes for ${count} values`);
    found.set(name, { name, dataType, dims, bytes });
  }
  return found;
}

/** The bytes as a typed array of the initializer's element type (copied when unaligned). */
export function initializerValues(init: Initializer): Float32Array | Int8Array | Uint8Array | Uint16Array | Int32Array | BigInt64Array {
  const size = bytesPerElement[init.dataType]!;
  // Uint8Array.from copies (a Buffer's slice() would not).
  const bytes = init.bytes.byteOffset % size === 0 ? init.bytes : Uint8Array.from(init.bytes);
  const n = bytes.length / size;
  switch (init.dataType) {
    case OnnxType.float:
      return new Float32Array(bytes.buffer, bytes.byteOffset, n);
    case OnnxType.int8:
      return new Int8Array(bytes.buffer, bytes.byteOffset, n);
    case OnnxType.uint8:
      return new Uint8Array(bytes.buffer, bytes.byteOffset, n);
    case OnnxType.float16:
      return new Uint16Array(bytes.buffer, bytes.byteOffset, n);
    case OnnxType.int32:
      return new Int32Array(bytes.buffer, bytes.byteOffset, n);
    default:
      return new BigInt64Array(bytes.buffer, bytes.byteOffset, n);
  }
}
