/**
 * The engine on every decoder graph style (test/fixtures/shared/decoder-styles.ts) × family × precision the style has:
 * the same greedy tokens as transformers.js 4.3.1 on the same files (with the stock decoder and with the engine's
 * load-time path for that style), cached == uncached, follow-ups == recomputation. fp32 must agree token for token;
 * the other precisions round differently when a computation is split differently, so there a first difference must be
 * a near tie in our own logits (support/near-tie.ts), within the per-precision rounding the fixtures already allow.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type AskOptions, type Conversation, type Model } from '../../native-models/index.js';
import { QWEN2VL_PIXEL_BUDGETS } from '../../native-models/families/qwen2vl/preprocess.js';
import { GRAPH_STYLES, type GraphStyle } from '../fixtures/shared/decoder-styles.js';
import type { Precision } from '../fixtures/shared/layers.js';
import { writeQwen2VlModel } from '../fixtures/qwen2vl/generate.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { collectAnswer } from '../support/answers.js';
import { writeSolid } from '../support/images.js';
import { CACHED_STEP_TOLERANCE } from '../support/fixture-graphs.js';
import { expectSameGreedy, recordLogits } from '../support/near-tie.js';
import { loadTransformersOffline, referenceRun, type ReferenceTensor, type Transformers } from '../support/transformers-js.js';

type Family = 'smolvlm' | 'qwen2_vl' | 'qwen2_5_vl';
const FAMILIES: Family[] = ['smolvlm', 'qwen2_vl', 'qwen2_5_vl'];
const PRECISIONS: Record<GraphStyle, Precision[]> = {
  primitive: ['fp32', 'fp16', 'q8', 'q4', 'q4f16'],
  fused: ['fp32', 'fp16', 'q8', 'q4', 'q4f16'],
  gqa: ['fp32', 'fp16', 'q4', 'q4f16'],
};
/**
 * How far apart (in logits) two greedy choices may be and still count as a tie that rounding decides: the fixtures'
 * cached-step rounding per precision, and for 4-bit weights 0.05, since MatMulNBits (accuracy_level 4) re-quantises
 * each activation row to int8, so a one-ulp difference upstream moves a logit by a quantum (gqa qwen2_5_vl q4 shows a
 * 0.022 gap at one step between our stock run and transformers.js's, on the same graph and call shapes).
 */
const NEAR_TIE: Record<Precision, number> = { ...CACHED_STEP_TOLERANCE, fp32: 0, q4: 0.05, q4f16: Math.max(CACHED_STEP_TOLERANCE.q4f16, 0.05) };
const CASES = GRAPH_STYLES.flatMap((style) => FAMILIES.flatMap((family) => PRECISIONS[style].map((p) => [style, family, p] as const)));

const question = 'What is on the screen?';
const followUps = [question, 'And the second line?'];
const maxNewTokens = 8;
// Greedy, no repetition penalty, in both engines (the Qwen fixtures' generation_config.json samples).
const greedy: AskOptions = { maxNewTokens, temperature: 0, repetitionPenalty: 1 };

let root: string;
let tf: Transformers;
let image: string;
const dirs = new Map<string, string>();

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-styles-engine-'));
  // A solid colour resamples identically under both engines' resizers, so the whole pipeline can agree token for token.
  image = await writeSolid(path.join(root, 'red.png'), 800, 600, [200, 30, 30]);
  for (const style of GRAPH_STYLES) {
    for (const family of FAMILIES) {
      const dir = path.join(root, `${style}-${family}`);
      const options = { seed: 31, precisions: PRECISIONS[style], graphStyle: style };
      if (family === 'smolvlm') await writeSmolVlmModel(dir, options);
      else await writeQwen2VlModel(dir, { ...options, family });
      dirs.set(`${style}/${family}`, dir);
    }
  }
  tf = await loadTransformersOffline();
}, 120_000);

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

async function theirTokens(dir: string, family: Family, precision: Precision): Promise<number[]> {
  const processor = await tf.AutoProcessor.from_pretrained(dir, { local_files_only: true });
  const Auto = family === 'smolvlm' ? tf.AutoModelForVision2Seq : tf.AutoModelForImageTextToText;
  const model = await Auto.from_pretrained(dir, { dtype: precision, local_files_only: true });
  try {
    // transformers.js reads Qwen's max_pixels from the config: give it the budget we use for low detail.
    if (family !== 'smolvlm') processor.image_processor!.max_pixels = QWEN2VL_PIXEL_BUDGETS.low;
    const run = await referenceRun<{ input_ids: ReferenceTensor }>(processor, model, await tf.RawImage.read(image), question, {
      maxNewTokens,
      processorOptions: family === 'smolvlm' ? { do_image_splitting: false } : {},
      generateOptions: { repetition_penalty: 1 },
    });
    return run.tokenIds;
  } finally {
    await model.dispose();
  }
}

/** A conversation's answers, each with the logits of its steps. */
async function converse(conversation: Conversation, options: AskOptions): Promise<{ ids: readonly number[]; logits: Float32Array[] }[]> {
  const answers = [];
  for (const q of followUps) {
    const { result, logits } = await recordLogits(() => collectAnswer(conversation.ask(q, { ...greedy, maxNewTokens: 6, ...options })));
    answers.push({ ids: result.tokenIds, logits });
  }
  return answers;
}

async function withModel<T>(dir: string, precision: Precision, rewriteDecoder: boolean, use: (model: Model) => Promise<T>): Promise<T> {
  const model = await loadModel(dir, { precision, device: 'cpu', rewriteDecoder });
  try {
    return await use(model);
  } finally {
    await model.dispose();
  }
}

describe.each(CASES)('%s graphs, %s, %s', (style, family, precision) => {
  it('greedy tokens equal transformers.js (stock and load-time decoder); cached == uncached; follow-ups == recomputation', async () => {
    const dir = dirs.get(`${style}/${family}`)!;
    const theirs = await theirTokens(dir, family, precision);
    expect(theirs).toHaveLength(maxNewTokens);
    const tolerance = NEAR_TIE[precision];
    const ask = async (model: Model, useCache = true) => {
      const { result, logits } = await recordLogits(() => collectAnswer(model.startConversation({ image, detail: 'low' }).ask(question, { ...greedy, useCache })));
      expect(result.stats.cache).toBe(useCache ? 'on' : 'off');
      return { ids: result.tokenIds, logits };
    };

    const stock = await withModel(dir, precision, false, (model) => ask(model));
    expectSameGreedy(stock.ids, stock.logits, theirs, tolerance, 'stock decoder vs transformers.js');

    await withModel(dir, precision, true, async (model) => {
      // The fast path of the style: attention straight from the host cache, or the cache shared with GroupQueryAttention.
      expect(model.decoderRewrites.applied).toContain(style === 'gqa' ? 'shared-kv-buffer' : 'cache-read-in-place');
      expect(model.decoderRewrites.applied).toContain('last-row-logits');
      const cached = await ask(model);
      expectSameGreedy(cached.ids, cached.logits, theirs, tolerance, 'load-time decoder vs transformers.js');
      const uncached = await ask(model, false);
      expectSameGreedy(uncached.ids, uncached.logits, cached.ids, tolerance, 'uncached vs cached');
      const reused = await converse(model.startConversation({ image, detail: 'low' }), {});
      const recomputed = await converse(model.startConversation({ image, detail: 'low' }), { useCache: false });
      reused.forEach((turn, k) => expectSameGreedy(turn.ids, turn.logits, recomputed[k]!.ids, tolerance, `follow-up ${k}: reused vs recomputed`));
    });
  });
});
