/** Float64 building blocks of the independent model references the fixture tests check the graphs against. */

/** x [K] · w [K, N] (row-major) + bias. */
export function matVec(x: Float64Array, w: Float32Array, K: number, N: number, bias?: Float32Array): Float64Array {
  const y = bias ? Float64Array.from(bias) : new Float64Array(N);
  for (let k = 0; k < K; k++) {
    const xk = x[k]!;
    if (xk === 0) continue;
    const row = k * N;
    for (let n = 0; n < N; n++) y[n] = y[n]! + xk * w[row + n]!;
  }
  return y;
}

export function rmsNorm(x: Float64Array, w: Float32Array, eps: number): Float64Array {
  let ms = 0;
  for (const v of x) ms += v * v;
  const inv = 1 / Math.sqrt(ms / x.length + eps);
  return x.map((v, i) => v * inv * w[i]!);
}

export function layerNorm(x: Float64Array, w: Float32Array, b: Float32Array, eps: number): Float64Array {
  const mean = x.reduce((a, v) => a + v, 0) / x.length;
  const variance = x.reduce((a, v) => a + (v - mean) ** 2, 0) / x.length;
  return x.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * w[i]! + b[i]!);
}

/** Rotates each head of `x` with rotate_half by per-frequency angles (length head_dim / 2, repeated over both halves). */
export function rotate(x: Float64Array, heads: number, hd: number, angles: readonly number[]): Float64Array {
  const out = new Float64Array(x.length);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < hd / 2; j++) {
      const a = angles[j]!;
      const x1 = x[h * hd + j]!;
      const x2 = x[h * hd + j + hd / 2]!;
      out[h * hd + j] = x1 * Math.cos(a) - x2 * Math.sin(a);
      out[h * hd + j + hd / 2] = x2 * Math.cos(a) + x1 * Math.sin(a);
    }
  }
  return out;
}

/** HF's default RoPE angles at position `pos`: pos / theta^(2j / head_dim), j < head_dim / 2. */
export function ropeAngles(pos: number, theta: number, hd: number): number[] {
  return Array.from({ length: hd / 2 }, (_, j) => pos / theta ** ((2 * j) / hd));
}

export function silu(z: number): number {
  return z / (1 + Math.exp(-z));
}
