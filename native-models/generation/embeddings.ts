import type ort from 'onnxruntime-node';
import { ScreenAskError } from '../model/errors.js';
import type { ModelGraphs } from '../model/graphs.js';
import { floatsAs, type FloatData } from '../runtime/tensors.js';

/** Token ids → embedding rows [ids.length × hidden], in the decoder's inputs_embeds dtype. */
export async function embedTokens(graphs: ModelGraphs, ids: readonly number[]): Promise<FloatData> {
  return floatsAs(await graphs.embed.embed(ids), graphs.signature.embedsType);
}

/** One vision graph call (feeding the inputs it declares) → its image features, in the decoder's embeds dtype. */
export async function encodeVisionCall(graphs: ModelGraphs, call: Readonly<Record<string, ort.Tensor>>): Promise<FloatData> {
  const { vision, signature } = graphs;
  const outputs = await vision.run(Object.fromEntries(Object.entries(call).filter(([name]) => vision.inputNames.includes(name))));
  return floatsAs(outputs.image_features ?? Object.values(outputs)[0]!, signature.embedsType);
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

/** The arrays one after the other, in one new array of the first one's type. */
export function concatFloats(first: FloatData, ...rest: FloatData[]): FloatData {
  const out = new (first.constructor as { new (n: number): FloatData })(rest.reduce((n, part) => n + part.length, first.length));
  out.set(first);
  let at = first.length;
  for (const part of rest) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
