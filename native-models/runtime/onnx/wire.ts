// The protobuf wire format, just enough to edit an ONNX model without a schema: fields are walked as byte ranges, so
// everything an edit does not touch (weights included) is copied through verbatim, whatever its ONNX version.

export const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  Bytes = 2,
  Fixed32 = 5,
}

export interface Field {
  readonly number: number;
  readonly wireType: WireType;
  /** Start of the whole field (tag included) and end, in the enclosing buffer. */
  readonly start: number;
  readonly end: number;
  /** For length-delimited fields: the payload's bounds. */
  readonly valueStart: number;
  /** For varint fields: the value (as a number; ONNX varints here fit in 53 bits). */
  readonly varint: number;
}

function readVarint(buf: Uint8Array, pos: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated protobuf varint');
    const byte = buf[pos++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, pos];
    scale *= 128;
  }
}

/** The fields of one message, in order. */
export function* fields(buf: Uint8Array, start = 0, end = buf.length): Generator<Field> {
  let pos = start;
  while (pos < end) {
    const fieldStart = pos;
    const [tag, afterTag] = readVarint(buf, pos);
    const number = Math.floor(tag / 8);
    const wireType = (tag & 7) as WireType;
    pos = afterTag;
    let valueStart = pos;
    let varint = 0;
    switch (wireType) {
      case WireType.Varint:
        [varint, pos] = readVarint(buf, pos);
        break;
      case WireType.Fixed64:
        pos += 8;
        break;
      case WireType.Fixed32:
        pos += 4;
        break;
      case WireType.Bytes: {
        const [length, afterLength] = readVarint(buf, pos);
        valueStart = afterLength;
        pos = afterLength + length;
        break;
      }
      default:
        throw new Error(`unsupported protobuf wire type ${wireType as number}`);
    }
    if (pos > end) throw new Error('truncated protobuf field');
    yield { number, wireType, start: fieldStart, end: pos, valueStart, varint };
  }
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export function fieldString(buf: Uint8Array, field: Field): string {
  return decoder.decode(buf.subarray(field.valueStart, field.end));
}

function varintBytes(value: number): number[] {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

/** Builds a message from pieces; byte ranges of the source are referenced, not copied, until `toBytes`. */
export class MessageWriter {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  raw(bytes: Uint8Array): this {
    this.parts.push(bytes);
    this.size += bytes.length;
    return this;
  }

  bytes(number: number, payload: Uint8Array | MessageWriter): this {
    const length = payload instanceof MessageWriter ? payload.length : payload.length;
    this.raw(Uint8Array.from([...varintBytes(number * 8 + WireType.Bytes), ...varintBytes(length)]));
    if (payload instanceof MessageWriter) {
      this.parts.push(...payload.parts);
      this.size += payload.size;
    } else {
      this.raw(payload);
    }
    return this;
  }

  string(number: number, value: string): this {
    return this.bytes(number, encoder.encode(value));
  }

  varint(number: number, value: number): this {
    return this.raw(Uint8Array.from([...varintBytes(number * 8 + WireType.Varint), ...varintBytes(value)]));
  }

  get length(): number {
    return this.size;
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let offset = 0;
    for (const part of this.parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }
}
