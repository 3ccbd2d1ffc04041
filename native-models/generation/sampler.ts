// The sampler, as a few small pure functions over one row of logits (llama2.c style). Order follows the reference
// behaviour: repetition penalty, then (only when sampling) temperature, top-k, top-p, and a seeded draw.
// The partial selection in topLogits bounds the work when top-k is set, which is the common case.

export interface SamplingSettings {
  readonly temperature: number; // 0 = greedy
  readonly topK: number; // 0 = off
  readonly topP: number; // 1 = off
  readonly repetitionPenalty: number; // 1 = off
}

/** Penalise every id already seen: positive logits are divided, negative ones multiplied (CTRL / HF semantics). */
export function applyRepetitionPenalty(logits: Float32Array, seen: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const id of seen) {
    const v = logits[id]!;
    logits[id] = v > 0 ? v / penalty : v * penalty;
  }
}

export function argmax(logits: Float32Array): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i]! > bestValue) {
      bestValue = logits[i]!;
      best = i;
    }
  }
  return best;
}

export interface Candidate {
  id: number;
  p: number;
}

/**
 * The k highest logits (all when k is 0), sorted descending, ties by lower id. Selection keeps the sort small: a full
 * vocabulary sort per token would cost more than a decode step of a small model.
 */
export function topLogits(logits: Float32Array, k: number): Candidate[] {
  const n = k > 0 ? Math.min(k, logits.length) : logits.length;
  const byValue = (a: Candidate, b: Candidate) => b.p - a.p || a.id - b.id;
  if (n === logits.length) return Array.from(logits, (p, id) => ({ id, p })).sort(byValue);
  const kept: Candidate[] = [];
  let floor = -Infinity;
  for (let id = 0; id < logits.length; id++) {
    const p = logits[id]!;
    if (kept.length === n && p <= floor) continue;
    kept.push({ id, p });
    // Trim in batches so the work stays O(V log k) even when logits arrive in rising order.
    if (kept.length >= 2 * n + 16) {
      kept.sort(byValue);
      kept.length = n;
      floor = kept[n - 1]!.p;
    }
  }
  kept.sort(byValue);
  kept.length = Math.min(kept.length, n);
  return kept;
}

/** Softmax of (logit / temperature) over the candidates, in place; order is kept. */
export function softmax(candidates: Candidate[], temperature: number): Candidate[] {
  const max = candidates[0]?.p ?? 0;
  let sum = 0;
  for (const c of candidates) {
    c.p = Math.exp((c.p - max) / temperature);
    sum += c.p;
  }
  for (const c of candidates) c.p /= sum;
  return candidates;
}

/** Smallest prefix of sorted candidates whose mass reaches p (always at least one). */
export function keepTopP(sorted: Candidate[], p: number): Candidate[] {
  if (p >= 1) return sorted;
  let mass = 0;
  for (let i = 0; i < sorted.length; i++) {
    mass += sorted[i]!.p;
    if (mass >= p) return sorted.slice(0, i + 1);
  }
  return sorted;
}

/** Draw from candidates (renormalised) with a uniform number in [0, 1). */
export function draw(candidates: Candidate[], uniform: number): number {
  let total = 0;
  for (const c of candidates) total += c.p;
  let target = uniform * total;
  for (const c of candidates) {
    target -= c.p;
    if (target < 0) return c.id;
  }
  return candidates[candidates.length - 1]!.id;
}

/** mulberry32: a tiny, fast, seedable PRNG; good enough for sampling and reproducible across platforms. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Picks the next token from one row of logits. Mutates `logits` (penalty) to avoid a copy per step. */
export function sampleToken(
  logits: Float32Array,
  seen: Iterable<number>,
  settings: SamplingSettings,
  random: () => number,
): number {
  applyRepetitionPenalty(logits, seen, settings.repetitionPenalty);
  if (settings.temperature === 0) return argmax(logits);
  // HF order: top-k filters the logits, then top-p works on the softmax of what is left.
  const candidates = softmax(topLogits(logits, settings.topK), settings.temperature);
  return draw(keepTopP(candidates, settings.topP), random());
}
