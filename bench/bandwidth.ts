/**
 * Effective memory bandwidth, measured the way decode uses memory: ONNX Runtime streaming one large fp32 weight matrix
 * through a matrix-vector product ([1,K] x [K,N]), the shape of every decoder MatMul at batch 1. The matrix is a
 * constant initializer, as decoder weights are, so ORT pre-packs it exactly as it does theirs.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { DataType, GraphBuilder } from '../test/fixtures/onnx/graph.js';
import { writeOnnxModel } from '../test/fixtures/onnx/serialize.js';

const MiB = 1024 * 1024;
const K = 8192;

export interface BandwidthResult {
  /** Bytes of the weight matrix, read once per run. */
  readonly bytes: number;
  readonly shape: readonly [number, number];
  readonly lastLevelCacheBytes: number | undefined;
  readonly repeats: number;
  readonly medianMs: number;
  readonly bestMs: number;
  /** bytes / median run time. The report's roofline takes the highest of these over the run's probes. */
  readonly gbPerSecond: number;
  readonly bestGbPerSecond: number;
}

/** The largest CPU cache (Linux sysfs), or undefined elsewhere. */
export function lastLevelCacheBytes(): number | undefined {
  const dir = '/sys/devices/system/cpu/cpu0/cache';
  try {
    let best: { level: number; bytes: number } | undefined;
    for (const index of readdirSync(dir).filter((d) => d.startsWith('index'))) {
      const level = Number(readFileSync(path.join(dir, index, 'level'), 'utf8'));
      const match = /^(\d+)([KMG]?)/.exec(readFileSync(path.join(dir, index, 'size'), 'utf8').trim());
      if (!match) continue;
      const bytes = Number(match[1]) * ({ '': 1, K: 1024, M: MiB, G: 1024 * MiB }[match[2] as '' | 'K' | 'M' | 'G'] ?? 1);
      if (!best || level > best.level) best = { level, bytes };
    }
    return best?.bytes;
  } catch {
    return undefined;
  }
}

/**
 * At least 256 MiB and twice the last-level cache, so that (almost) every byte comes from DRAM, not from a cache a
 * previous run warmed; capped at 1 GiB to keep the probe file and its load time reasonable. VMs may report a large,
 * host-wide L3 (this dev VM says 480 MiB), which is why the size follows the cache rather than being fixed.
 */
export function probeBytes(llc: number | undefined): number {
  const wanted = Math.max(256 * MiB, 2 * (llc ?? 0));
  return Math.min(wanted, 1024 * MiB);
}

function probeModel(cacheDir: string, n: number): string {
  const file = path.join(cacheDir, `bandwidth-probe-${K}x${n}.onnx`);
  if (existsSync(file) && existsSync(`${file}_data`) && statSync(`${file}_data`).size >= K * n * 4) return file;
  const weights = new Float32Array(K * n);
  // Cheap deterministic values in [-0.5, 0.5): the probe times memory traffic, the numbers themselves do not matter,
  // but zeros or denormals could let a kernel take a shortcut.
  let state = 0x9e3779b9;
  for (let i = 0; i < weights.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    weights[i] = state / 2 ** 32 - 0.5;
  }
  const g = new GraphBuilder('bandwidth_probe');
  const x = g.input('x', DataType.FLOAT, [1, K]);
  const w = g.initializer('w', DataType.FLOAT, [K, n], weights);
  g.op('MatMul', [x, w], undefined, 'y');
  g.output('y', DataType.FLOAT, [1, n]);
  writeOnnxModel(file, g.build(), { externalData: true, docString: 'ScreenAsk bench memory-bandwidth probe' });
  return file;
}

export async function measureBandwidth(options: { cacheDir: string; threads: number; repeats: number }): Promise<BandwidthResult> {
  const llc = lastLevelCacheBytes();
  const n = Math.ceil(probeBytes(llc) / (K * 4) / 256) * 256;
  const bytes = K * n * 4;
  const session = await ort.InferenceSession.create(probeModel(options.cacheDir, n), {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: options.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    logSeverityLevel: 3,
  });
  try {
    const x = new ort.Tensor('float32', new Float32Array(K).fill(0.01), [1, K]);
    for (let i = 0; i < 3; i++) await session.run({ x }); // first runs fault pages in and size the arena
    const times: number[] = [];
    for (let i = 0; i < options.repeats; i++) {
      const start = performance.now();
      await session.run({ x });
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    const medianMs = times[Math.floor(times.length / 2)]!;
    const bestMs = times[0]!;
    return {
      bytes,
      shape: [K, n],
      lastLevelCacheBytes: llc,
      repeats: options.repeats,
      medianMs,
      bestMs,
      gbPerSecond: bytes / (medianMs / 1000) / 1e9,
      bestGbPerSecond: bytes / (bestMs / 1000) / 1e9,
    };
  } finally {
    await session.release();
  }
}
