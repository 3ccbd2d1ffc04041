import ort from 'onnxruntime-node';
import { toFloat16Array, toFloat32Array } from './float16.js';

export type FloatType = 'float32' | 'float16';
/** Float data as onnxruntime-node holds it: float16 travels as Uint16Array bit patterns. */
export type FloatData = Float32Array | Uint16Array;

export function floatTensor(type: FloatType, data: FloatData, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor(type, data, dims);
}

/** A tensor's float data in the requested type, converting only when the graph's dtype differs. */
export function floatsAs(tensor: ort.Tensor, type: FloatType): FloatData {
  if (tensor.type === type) return tensor.data as FloatData;
  if (tensor.type === 'float16' && type === 'float32') return toFloat32Array(tensor.data as Uint16Array);
  if (tensor.type === 'float32' && type === 'float16') return toFloat16Array(tensor.data as Float32Array);
  throw new Error(`Expected a float tensor, got ${tensor.type}.`);
}

export function emptyFloats(type: FloatType, length: number): FloatData {
  return type === 'float16' ? new Uint16Array(length) : new Float32Array(length);
}

export function int64Tensor(values: readonly number[], dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims);
}

export function int64Scalar(value: number): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.of(BigInt(value)), []);
}
