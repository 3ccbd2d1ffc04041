// Option labels for the settings page: the stored value first (what logs and the CLI use), then what it means.
import type { AppStatus, LoadedModelInfo } from '../../../electron/shared/ipc.js';
import { formatMs, formatRate } from './format.js';

const precisionMeanings: Readonly<Record<string, string>> = {
  auto: 'Automatic',
  fp32: 'fp32 — full precision',
  fp16: 'fp16 — half precision',
  q8: 'q8 — 8-bit',
  int8: 'int8 — 8-bit',
  uint8: 'uint8 — 8-bit',
  q4: 'q4 — 4-bit',
  q4f16: 'q4f16 — 4-bit, fp16 math',
  bnb4: 'bnb4 — 4-bit',
};
export function precisionLabel(precision: string): string {
  return precisionMeanings[precision] ?? precision;
}

const deviceMeanings: Readonly<Record<string, string>> = {
  auto: 'Automatic',
  cpu: 'CPU',
  webgpu: 'WebGPU',
  cuda: 'CUDA (NVIDIA GPU)',
  dml: 'DirectML (Windows GPU)',
  coreml: 'Core ML (Apple)',
};
export function deviceLabel(device: string): string {
  return deviceMeanings[device] ?? device;
}

export function imageDetailLabel(detail: string, info: LoadedModelInfo | undefined): string {
  const tokens = info?.imageTokens;
  const what = detail === 'high' ? 'High' : 'Low';
  const n = detail === 'high' ? tokens?.high : detail === 'low' ? tokens?.low : undefined;
  return n === undefined ? what : `${what} — ${n} image tokens`;
}

/** The KV cache's measured effect on this machine, from the latest answer with it on and the latest with it off. */
export function cacheEffect(lastAnswers: AppStatus['lastAnswers'] | undefined): string {
  const on = lastAnswers?.cacheOn;
  const off = lastAnswers?.cacheOff;
  const line = (s: NonNullable<typeof on>) =>
    `${formatRate(s.decodeTokensPerSecond)}, first token after ${formatMs(s.timeToFirstTokenMs)}`;
  if (on && off) {
    const ratio = off.decodeTokensPerSecond > 0 ? on.decodeTokensPerSecond / off.decodeTokensPerSecond : undefined;
    const speedUp =
      ratio === undefined ? '' : ` With the cache, decoding was ${ratio.toFixed(ratio < 10 ? 1 : 0)}× as fast.`;
    return `Last answer with the cache on: ${line(on)}. With it off: ${line(off)}.${speedUp}`;
  }
  if (on) return `Last answer with the cache on: ${line(on)}. Ask once with it off to compare.`;
  if (off) return `Last answer with the cache off: ${line(off)}. Ask once with it on to compare.`;
  return 'Ask a question to measure its effect on this computer.';
}
