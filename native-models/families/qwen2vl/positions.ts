/**
 * Qwen2-VL's multimodal rotary positions (M-RoPE): position_ids [3, 1, S], one row per axis (t, h, w).
 *
 * Text gets the same position on all three axes. An image of llm grid t × h × w (the patch grid divided by the merge
 * size on h and w) whose first token is preceded by position `offset − 1` gets, for its i-th token,
 * t = offset + ⌊i / (h·w)⌋, h = offset + ⌊i / w⌋ mod h, w = offset + i mod w; the text after it continues at the
 * block's maximum + 1. So after the last image every token sits at index + delta, delta = max + 1 − length, which is
 * exactly what incremental decoding uses (position = past length + delta on all axes).
 *
 * Positions are a function of the ids before them and the images' grids only, so a prefix's positions never change
 * when tokens are appended: a follow-up that recomputes them over the whole conversation gets what the cached tokens
 * were computed with, and the cached and uncached paths agree. This follows transformers' `get_rope_index` (Python),
 * not transformers.js 4.3.1, whose text-only path adds the sequence length to delta instead of subtracting it (its
 * decode positions then jump by 2·length) and which handles one image per call.
 */
import ort from 'onnxruntime-node';
import type { PositionIds } from '../../generation/generate.js';
import { ScreenAskError } from '../../model/errors.js';

/** An image's grid as the language model sees it: temporal patches × merged rows × merged columns. */
export interface RopeGrid {
  readonly t: number;
  readonly h: number;
  readonly w: number;
}

export interface RopePositions {
  /** Positions of ids[0:end] on the t, h and w axes. */
  readonly axes: readonly [Int32Array, Int32Array, Int32Array];
  /** max + 1: where the next text token goes. */
  readonly next: number;
}

/**
 * 3-D positions of ids[0:end]. Images are matched to `grids` in order: each starts at the first image token at or
 * after the end of the previous one and covers t·h·w tokens (as transformers finds them); image tokens past the last
 * image (none in a well-formed prompt) count as text, as they do there.
 */
export function ropePositions(
  ids: readonly number[],
  imageTokenId: number,
  grids: readonly RopeGrid[],
  end = ids.length,
): RopePositions {
  const axes: [Int32Array, Int32Array, Int32Array] = [new Int32Array(end), new Int32Array(end), new Int32Array(end)];
  const [tAxis, hAxis, wAxis] = axes;
  let next = 0; // position of the next text token
  let st = 0; // index of the next token to place
  const text = (until: number) => {
    for (; st < until; st++) tAxis[st] = hAxis[st] = wAxis[st] = next++;
  };
  for (const { t, h, w } of grids) {
    let ed = st;
    while (ed < end && ids[ed] !== imageTokenId) ed++;
    text(ed);
    if (ed >= end) break;
    const offset = next;
    const area = h * w;
    const size = Math.min(t * area, end - st);
    for (let i = 0; i < size; i++, st++) {
      tAxis[st] = offset + Math.floor(i / area);
      hAxis[st] = offset + (Math.floor(i / w) % h);
      wAxis[st] = offset + (i % w);
    }
    next = offset + Math.max(t, h, w);
  }
  text(end);
  return { axes, next };
}

function validGrid({ t, h, w }: RopeGrid): boolean {
  return [t, h, w].every((n) => Number.isInteger(n) && n > 0);
}

/**
 * The family's PositionIds: positions of ids[start:start+count] as an int64 [3, 1, count] tensor. Prefill, each
 * cached decode step (start = length − 1, count = 1) and each uncached step (start = 0, count = length) all take
 * their rows from the same positions of the whole sequence.
 */
export function mropePositionIds(imageTokenId: number, grids: readonly RopeGrid[]): PositionIds {
  if (!grids.every(validGrid)) {
    throw new ScreenAskError(`Invalid image grid ${JSON.stringify(grids)}: every t, h, w is a whole number above 0.`);
  }
  return (ids, start, count) => {
    const end = start + count;
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || end > ids.length) {
      throw new RangeError(`positions ${start}..${end} are outside the ${ids.length}-token sequence`);
    }
    const { axes } = ropePositions(ids, imageTokenId, grids, end);
    const data = new BigInt64Array(3 * count);
    axes.forEach((axis, a) => {
      for (let i = 0; i < count; i++) data[a * count + i] = BigInt(axis[start + i]!);
    });
    return new ort.Tensor('int64', data, [3, 1, count]);
  };
}
