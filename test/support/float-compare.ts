/** Comparing float arrays in tests: distances, similarity, and a hash for bit-identity pins. */
import { createHash } from 'node:crypto';
import { expect } from 'vitest';

/** Mean and max |a − b|, and the share of elements more than `wideAbove` (0.25) apart. The lengths must match. */
export function absDiff(a: Float32Array, b: Float32Array, wideAbove = 0.25): { mean: number; max: number; wide: number } {
  expect(a.length).toBe(b.length);
  let sum = 0;
  let max = 0;
  let wide = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    sum += d;
    if (d > max) max = d;
    if (d > wideAbove) wide++;
  }
  return { mean: sum / a.length, max, wide: wide / a.length };
}

/** max |a − b|; the lengths must match. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let x = 0;
  let y = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i]! * b[i]!;
    x += a[i]! ** 2;
    y += b[i]! ** 2;
  }
  return d / Math.sqrt(x * y);
}

/** `got` (rows of `ref[0].length` values, row-major) is within `tol` of the float64 rows `ref` everywhere. */
export function expectClose(got: Float32Array, ref: Float64Array[], tol: number): void {
  const width = ref[0]!.length;
  expect(got.length).toBe(ref.length * width);
  let worst = 0;
  ref.forEach((row, i) => {
    worst = Math.max(worst, maxAbsDiff(got.subarray(i * width, (i + 1) * width), Float32Array.from(row)));
  });
  expect(worst).toBeLessThan(tol);
}

/** sha256 (hex) of the bytes of a typed array (a float32 array hashes as numpy's `arr.astype(np.float32).tobytes()`). */
export function sha256Hex(values: ArrayBufferView): string {
  return createHash('sha256').update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength)).digest('hex');
}
