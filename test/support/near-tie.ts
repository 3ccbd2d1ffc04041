/**
 * Greedy token parity that tells rounding from bugs. Quantised graphs (q8 quantises activations per call; 4-bit
 * blocks quantise each row) and float16 ones round differently when a computation is split differently (one prefill
 * vs cached steps, one engine vs another), so two correct runs may pick different tokens where the top two logits are
 * within rounding of each other. A real bug moves logits far more than that.
 */
import ort from 'onnxruntime-node';
import { expect, vi } from 'vitest';
import { lastLogits } from '../../native-models/generation/logits.js';

/** Runs `fn`, recording the last-row logits of every session call that returns logits, in call order. */
export async function recordLogits<T>(fn: () => Promise<T>): Promise<{ result: T; logits: Float32Array[] }> {
  const logits: Float32Array[] = [];
  // The class is typed as a factory; every session, the engine's included, runs through its prototype.
  const sessions = (ort.InferenceSession as unknown as { prototype: ort.InferenceSession }).prototype;
  const run = sessions.run as (...args: unknown[]) => Promise<ort.InferenceSession.OnnxValueMapType>;
  const spy = vi.spyOn(sessions, 'run').mockImplementation(async function (this: ort.InferenceSession, ...args: unknown[]) {
    const out = await run.apply(this, args);
    if (out.logits) logits.push(lastLogits(out.logits as ort.Tensor));
    return out;
  });
  try {
    return { result: await fn(), logits };
  } finally {
    spy.mockRestore();
  }
}

/**
 * `ours` (chosen greedily from `ourLogits[k]` at step k) equals `theirs`, or first differs at a step where our logit of
 * their token is within `tolerance` of our logit of ours: a near tie. After a near tie the runs continue from different
 * tokens, so nothing later is compared. `tolerance` 0 demands identical tokens.
 */
export function expectSameGreedy(ours: readonly number[], ourLogits: readonly Float32Array[], theirs: readonly number[], tolerance: number, label = ''): void {
  const at = ours.findIndex((id, k) => id !== theirs[k]);
  if (at < 0 && ours.length === theirs.length) return;
  if (tolerance === 0 || at < 0) {
    expect(ours, label).toEqual(theirs);
    return;
  }
  const row = ourLogits[at]!;
  expect(row, `${label}: logits of step ${at}`).toBeDefined();
  const gap = row[ours[at]!]! - row[theirs[at]!]!;
  expect(gap, `${label}: step ${at} picks ${ours[at]} over ${theirs[at]} by ${gap}, more than rounding (${tolerance})`).toBeLessThanOrEqual(tolerance);
}
