/**
 * Qwen2-VL's 3-D rotary positions (families/qwen2vl/positions.ts) against the formula of the contracts doc, an
 * independent implementation (the fixture's), and transformers.js 4.3.1's get_rope_index where that one is right
 * (image prompts); text-only prompts against the formula alone, since transformers.js gets them wrong.
 */
import { Qwen2VLForConditionalGeneration, Tensor } from '@huggingface/transformers';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { mropePositionIds, ropePositions, type RopeGrid } from '../../native-models/families/qwen2vl/positions.js';
import { runDecoder } from '../../native-models/generation/decoder-step.js';
import type { KvCache } from '../../native-models/generation/kv-cache.js';
import type { ModelGraphs } from '../../native-models/model/graphs.js';
import { mropePositions as fixturePositions } from '../fixtures/qwen2vl/positions.js';

const IMG = 151655;
const START = 151652;
const END = 151653;

/** [t, h, w] rows of a [3, 1, count] position tensor. */
function rows(tensor: ort.Tensor): number[][] {
  expect(tensor.type).toBe('int64');
  const [three, batch, count] = tensor.dims as number[];
  expect([three, batch]).toEqual([3, 1]);
  const data = Array.from(tensor.data as BigInt64Array, Number);
  return [0, 1, 2].map((a) => data.slice(a * count!, (a + 1) * count!));
}

/** A prompt: text ids (small numbers), then per image `<|vision_start|>` + t·h·w pads + `<|vision_end|>` + text. */
function prompt(lead: number, images: readonly { grid: RopeGrid; after: number }[]): number[] {
  const ids = Array.from({ length: lead }, (_, i) => 10 + i);
  for (const { grid, after } of images) {
    ids.push(START, ...new Array<number>(grid.t * grid.h * grid.w).fill(IMG), END);
    for (let i = 0; i < after; i++) ids.push(100 + i);
  }
  return ids;
}

// transformers.js's get_rope_index, run as a plain function over the config it reads (no model needed).
type RopeIndex = (ids: Tensor, grid: Tensor | null, video: null, mask: Tensor) => [Tensor, Tensor];
const proto = Qwen2VLForConditionalGeneration.prototype as unknown as Record<string, unknown>;
const tfModel = {
  config: { vision_config: { spatial_merge_size: 2 }, image_token_id: IMG, video_token_id: 151656, vision_start_token_id: START },
  _get_multimodal_rope_positions: proto._get_multimodal_rope_positions,
  _reorder_and_write_positions: proto._reorder_and_write_positions,
  _get_text_only_rope_index: proto._get_text_only_rope_index,
};
function referenceRope(ids: number[], grids: RopeGrid[]): { axes: number[][]; delta: number } {
  const input = new Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]);
  const mask = new Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]);
  const gridThw = grids.length
    ? new Tensor('int64', BigInt64Array.from(grids.flatMap((g) => [g.t, g.h * 2, g.w * 2]), BigInt), [grids.length, 3])
    : null;
  const [positions, deltas] = (proto.get_rope_index as RopeIndex).call(tfModel, input, gridThw, null, mask);
  const flat = Array.from(positions.data as BigInt64Array, Number);
  return { axes: [0, 1, 2].map((a) => flat.slice(a * ids.length, (a + 1) * ids.length)), delta: Number(deltas.data[0]) };
}

describe('Qwen2-VL rope positions', () => {
  it('the contracts doc worked example: 2 text, vision_start, 2×2 image, vision_end, 2 text; decode 8, 9', () => {
    const ids = [1, 2, START, IMG, IMG, IMG, IMG, END, 3, 4];
    const positions = mropePositionIds(IMG, [{ t: 1, h: 2, w: 2 }]);
    const [t, h, w] = rows(positions(ids, 0, ids.length));
    expect(t).toEqual([0, 1, 2, 3, 3, 3, 3, 5, 6, 7]);
    expect(h).toEqual([0, 1, 2, 3, 3, 4, 4, 5, 6, 7]);
    expect(w).toEqual([0, 1, 2, 3, 4, 3, 4, 5, 6, 7]);
    // Decoding: one new token at a time, start = length − 1, count = 1; position = past length + delta (−2).
    const sequence = [...ids];
    for (const expected of [8, 9]) {
      sequence.push(500);
      expect(rows(positions(sequence, sequence.length - 1, 1))).toEqual([[expected], [expected], [expected]]);
    }
    expect(ropePositions(ids, IMG, [{ t: 1, h: 2, w: 2 }]).next - ids.length).toBe(-2);
  });

  it('text-only prompts: 0 … n−1 on every axis and decode continues at n (delta 0); transformers.js 4.3.1 is wrong', () => {
    const ids = Array.from({ length: 12 }, (_, i) => 20 + i);
    const positions = mropePositionIds(IMG, []);
    const expected = ids.map((_, i) => i);
    expect(rows(positions(ids, 0, ids.length))).toEqual([expected, expected, expected]);
    expect(rows(positions([...ids, 7], ids.length, 1))).toEqual([[12], [12], [12]]);
    expect(rows(positions(ids, 5, 3))).toEqual([[5, 6, 7], [5, 6, 7], [5, 6, 7]]);
    // The defect we do not copy: its delta is max + 1 + length (24) instead of max + 1 − length (0), so its first
    // decode step would sit at 12 + 24 = 36.
    const theirs = referenceRope(ids, []);
    expect(theirs.axes).toEqual([expected, expected, expected]);
    expect(theirs.delta).toBe(24);
  });

  it.each([
    ['one 1920×1080-like image (33×60 tokens)', 14, [{ grid: { t: 1, h: 33, w: 60 }, after: 9 }]],
    ['a tall image, text before and after', 3, [{ grid: { t: 1, h: 23, w: 7 }, after: 30 }]],
    ['an image first in the prompt', 0, [{ grid: { t: 1, h: 4, w: 5 }, after: 2 }]],
    ['a square image, no text after', 5, [{ grid: { t: 1, h: 6, w: 6 }, after: 0 }]],
  ] as const)('%s: equals transformers.js and the fixture’s implementation', (_name, lead, images) => {
    const ids = prompt(lead, images);
    const grids = images.map((i) => i.grid);
    const ours = rows(mropePositionIds(IMG, grids)(ids, 0, ids.length));
    const reference = referenceRope(ids, grids);
    expect(ours).toEqual(reference.axes);
    expect(ropePositions(ids, IMG, grids).next - ids.length).toBe(reference.delta);
    const fixture = fixturePositions(ids, IMG, grids.map((g) => [g.t, g.h * 2, g.w * 2] as const));
    expect(ours).toEqual(fixture.axes);
  });

  it('several images: each block starts at max + 1 of what precedes it (transformers.js and the fixture agree)', () => {
    const images = [
      { grid: { t: 1, h: 3, w: 5 }, after: 4 },
      { grid: { t: 1, h: 6, w: 2 }, after: 0 },
      { grid: { t: 1, h: 2, w: 2 }, after: 7 },
    ];
    const ids = prompt(6, images);
    const grids = images.map((i) => i.grid);
    const ours = rows(mropePositionIds(IMG, grids)(ids, 0, ids.length));
    expect(ours).toEqual(referenceRope(ids, grids).axes);
    expect(ours).toEqual(fixturePositions(ids, IMG, grids.map((g) => [g.t, g.h * 2, g.w * 2] as const)).axes);
    // By hand: text 0–5, start 6; image 1 at 7 (h 7–9, w 7–11); end 12; text 13–16; start 17; image 2 at 18 (h 18–23,
    // w 18–19); end 24 (= 18 + 6), and image 3 right after its start 25, at 26.
    const [t, h, w] = ours as [number[], number[], number[]];
    expect(t.slice(0, 8)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const second = 6 + 1 + 15 + 1 + 4 + 1;
    expect([t[second], h[second + 11], w[second + 11]]).toEqual([18, 23, 19]);
    expect(t[second + 12]).toBe(24);
  });

  it('incremental decoding and uncached recomputation take the same positions, delta = max + 1 − length', () => {
    const grids = [{ t: 1, h: 5, w: 9 }];
    const ids = prompt(11, [{ grid: grids[0]!, after: 6 }]);
    const positions = mropePositionIds(IMG, grids);
    const delta = ropePositions(ids, IMG, grids).next - ids.length;
    expect(delta).toBe(9 - 45);
    const sequence = [...ids];
    for (let step = 0; step < 20; step++) {
      sequence.push(step % 3 === 0 ? IMG : 300 + step); // a generated pad token after the image is just text
      const position = sequence.length - 1 + delta;
      expect(rows(positions(sequence, sequence.length - 1, 1))).toEqual([[position], [position], [position]]);
    }
    // The uncached path: every step recomputes the whole sequence; its rows are the incremental ones.
    const all = rows(positions(sequence, 0, sequence.length));
    for (let i = ids.length; i < sequence.length; i++) expect(all.map((axis) => axis[i])).toEqual([i + delta, i + delta, i + delta]);
  });

  it('follow-ups: positions over the whole conversation repeat what the cached prefix used', () => {
    const grids = [{ t: 1, h: 4, w: 6 }];
    const positions = mropePositionIds(IMG, grids);
    const first = prompt(12, [{ grid: grids[0]!, after: 8 }]);
    const answer = [401, 402, 403, 404];
    const followUp = [151645, 198, 151644, 77, 198, 501, 502, 503, 151645, 198, 151644, 78, 198];
    const whole = [...first, ...answer, ...followUp];
    const full = rows(positions(whole, 0, whole.length));
    // What the first turn computed: prefill, then one row per generated token.
    const used = rows(positions(first, 0, first.length));
    for (let i = 0; i < answer.length; i++) {
      const seq = [...first, ...answer.slice(0, i + 1)];
      rows(positions(seq, seq.length - 1, 1)).forEach((axis, a) => used[a]!.push(axis[0]!));
    }
    expect(full.map((axis) => axis.slice(0, used[0]!.length))).toEqual(used);
    // The follow-up's fresh part, as the conversation asks for it (start = reused length).
    const reused = first.length + answer.length;
    expect(rows(positions(whole, reused, whole.length - reused))).toEqual(full.map((axis) => axis.slice(reused)));
  });

  it('refuses invalid grids and out-of-range requests', () => {
    expect(() => mropePositionIds(IMG, [{ t: 1, h: 0, w: 2 }])).toThrow(/Invalid image grid/);
    expect(() => mropePositionIds(IMG, [])([1, 2], 1, 2)).toThrow(RangeError);
  });

  it('the decoder step refuses positions whose rank differs from what the graph declares, in one line', async () => {
    const run = () => Promise.reject(new Error('the decoder must not run'));
    const graphs = { signature: { positionRank: 3, embedsType: 'float32' }, hiddenSize: 2, decoder: { run } } as unknown as ModelGraphs;
    const cache = { length: 0, feeds: () => ({}) } as unknown as KvCache;
    const flat = mropePositionIds(IMG, []);
    const twoD = new ort.Tensor('int64', BigInt64Array.of(0n), [1, 1]);
    await expect(runDecoder(graphs, new Float32Array(2), 1, twoD, cache)).rejects.toThrow(
      /^The decoder takes 3-D position_ids but this model family computes 2-D ones: config.json's model_type does not match the decoder graph\.$/,
    );
    await expect(runDecoder(graphs, new Float32Array(2), 1, flat([5], 0, 1), cache)).rejects.toThrow(/must not run/);
  });
});
