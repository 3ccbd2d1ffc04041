import { describe, expect, it } from 'vitest';
import {
  applyRepetitionPenalty,
  argmax,
  draw,
  keepTopP,
  sampleToken,
  seededRandom,
  softmax,
  topLogits,
} from '../../native-models/generation/sampler.js';

const greedy = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 };

describe('sampler', () => {
  it('penalises seen ids: positive logits divided, negative multiplied', () => {
    const logits = Float32Array.of(2, -2, 1);
    applyRepetitionPenalty(logits, [0, 1], 2);
    expect([...logits]).toEqual([1, -4, 1]);
  });

  it('greedy picks the highest logit, lowest id on ties', () => {
    expect(argmax(Float32Array.of(0.1, 3, 3, -1))).toBe(1);
    expect(sampleToken(Float32Array.of(0.1, 3, 2), [], greedy, Math.random)).toBe(1);
  });

  it('repetition penalty can change the greedy choice', () => {
    expect(sampleToken(Float32Array.of(1.9, 1.0), [0], { ...greedy, repetitionPenalty: 2 }, Math.random)).toBe(1);
  });

  it('top-k keeps the k best in order, whatever order the logits come in', () => {
    const rising = Float32Array.from({ length: 200 }, (_, i) => i);
    expect(topLogits(rising, 3).map((c) => c.id)).toEqual([199, 198, 197]);
    const falling = Float32Array.from({ length: 200 }, (_, i) => -i);
    expect(topLogits(falling, 2).map((c) => c.id)).toEqual([0, 1]);
    expect(topLogits(Float32Array.of(1, 5, 3), 0).map((c) => c.id)).toEqual([1, 2, 0]);
  });

  it('softmax with temperature normalises, and a lower temperature sharpens', () => {
    const warm = softmax(topLogits(Float32Array.of(2, 1, 0), 0), 1).map((c) => c.p);
    const cold = softmax(topLogits(Float32Array.of(2, 1, 0), 0), 0.5).map((c) => c.p);
    expect(warm.reduce((a, b) => a + b)).toBeCloseTo(1, 6);
    expect(cold[0]!).toBeGreaterThan(warm[0]!);
  });

  it('top-p keeps the smallest prefix reaching the mass, at least one', () => {
    const sorted = [
      { id: 3, p: 0.5 },
      { id: 1, p: 0.3 },
      { id: 2, p: 0.2 },
    ];
    expect(keepTopP(sorted, 0.7).map((c) => c.id)).toEqual([3, 1]);
    expect(keepTopP(sorted, 0.01).map((c) => c.id)).toEqual([3]);
    expect(keepTopP(sorted, 1)).toHaveLength(3);
  });

  it('draw maps the uniform number onto cumulative mass', () => {
    const candidates = [
      { id: 7, p: 0.25 },
      { id: 9, p: 0.75 },
    ];
    expect(draw(candidates, 0.1)).toBe(7);
    expect(draw(candidates, 0.3)).toBe(9);
    expect(draw(candidates, 0.999999)).toBe(9);
  });

  it('the seeded generator is reproducible and seed-dependent', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const c = seededRandom(43);
    const seqA = [a(), a(), a()];
    expect([b(), b(), b()]).toEqual(seqA);
    expect([c(), c(), c()]).not.toEqual(seqA);
    for (const v of seqA) expect(v >= 0 && v < 1).toBe(true);
  });

  it('sampling follows the distribution and stays within top-k', () => {
    const logits = () => Float32Array.of(0, Math.log(3), -50, -50);
    const random = seededRandom(7);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) {
      counts[sampleToken(logits(), [], { temperature: 1, topK: 2, topP: 1, repetitionPenalty: 1 }, random)]!++;
    }
    expect(counts[2]! + counts[3]!).toBe(0);
    expect(counts[1]! / 4000).toBeGreaterThan(0.7);
    expect(counts[1]! / 4000).toBeLessThan(0.8);
  });
});
