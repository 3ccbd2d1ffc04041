import ort from 'onnxruntime-node';
import { ScreenAskError } from '../model/errors.js';
import type { ModelGraphs } from '../model/graphs.js';
import { floatTensor, int64Scalar, type FloatData } from '../runtime/tensors.js';
import type { KvCache } from './kv-cache.js';
import { lastLogits } from './logits.js';

/**
 * One decoder call: `count` new embedding rows on top of what `cache` holds. Feeds only the optional inputs the graph
 * declares, advances the cache, and returns the last position's logits.
 */
export async function runDecoder(
  graphs: ModelGraphs,
  embeds: FloatData,
  count: number,
  positionIds: ort.Tensor,
  cache: KvCache,
): Promise<Float32Array> {
  const { signature, hiddenSize } = graphs;
  // 2-D [B, S] (Llama-style) or 3-D [3, B, S] (multimodal rotary): the family must match what the graph declares.
  if (signature.positionRank > 0 && positionIds.dims.length !== signature.positionRank) {
    throw new ScreenAskError(
      `The decoder takes ${signature.positionRank}-D position_ids but this model family computes ${positionIds.dims.length}-D ones: ` +
        "config.json's model_type does not match the decoder graph.",
    );
  }
  const feeds: Record<string, ort.Tensor> = {
    inputs_embeds: floatTensor(signature.embedsType, embeds, [1, count, hiddenSize]),
    position_ids: positionIds,
    ...cache.feeds(count),
  };
  // Only the last row is ever sampled: keeping one avoids a [1, S, vocab] float32 output at prefill.
  if (signature.hasNumLogitsToKeep) feeds.num_logits_to_keep = int64Scalar(1);
  if (signature.hasUseCacheBranch) feeds.use_cache_branch = new ort.Tensor('bool', Uint8Array.of(cache.length > 0 ? 1 : 0), [1]);
  const fetches = cache.fetches?.(count);
  const outputs = fetches ? await graphs.decoder.run(feeds, fetches) : await graphs.decoder.run(feeds);
  cache.absorb(outputs, count);
  return lastLogits(outputs.logits!);
}
