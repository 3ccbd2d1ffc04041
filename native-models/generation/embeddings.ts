import { ScreenAskError } from '../model/errors.js';
import type { ModelGraphs } from '../model/graphs.js';
import { floatsAs, int64Tensor, type FloatData } from '../runtime/tensors.js';

/** Token ids → embedding rows [ids.length × hidden], in the decoder's inputs_embeds dtype. */
export async function embedTokens(graphs: ModelGraphs, ids: readonly number[]): Promise<FloatData> {
  const out = await graphs.embed.run({ input_ids: int64Tensor(ids, [1, ids.length]) });
  const embeds = out.inputs_embeds ?? Object.values(out)[0]!;
  return floatsAs(embeds, graphs.signature.embedsType);
}

/**
 * Overwrites, in order, the rows whose id is the image token with the image features (one row per image token).
 * `embeds` holds the rows of ids[from:]; the image tokens before `from` (already in the cache) used the first
 * features. The counts must match exactly: a mismatch means the prompt expansion and the vision graph disagree.
 */
export function mergeImageFeatures(
  embeds: FloatData,
  ids: readonly number[],
  imageTokenId: number,
  features: FloatData,
  hidden: number,
  from = 0,
): void {
  const expected = features.length / hidden;
  let row = 0;
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] !== imageTokenId) continue;
    if (i >= from && row < expected) embeds.set(features.subarray(row * hidden, (row + 1) * hidden), (i - from) * hidden);
    row++;
  }
  if (row !== expected) {
    throw new ScreenAskError(
      `The prompt has ${row} image tokens but the vision encoder returned ${expected} feature rows: the model's ` +
        'processor settings (image_seq_len, scale_factor) do not match its vision graph.',
    );
  }
}

export function concatFloats(a: FloatData, b: FloatData): FloatData {
  const out = new (a.constructor as { new (n: number): FloatData })(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
