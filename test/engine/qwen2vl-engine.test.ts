/**
 * The Qwen2-VL / Qwen2.5-VL family end to end on generated models (test/fixtures/qwen2vl): loading, image and
 * text-only questions, cached == uncached, follow-ups == full recomputation, the rewritten decoder == the stock one,
 * and parity with transformers.js 4.3.1 (prompt ids; greedy tokens for the same pixels).
 */
import ort from 'onnxruntime-node';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Answer, type AskOptions, type Conversation, type ImageDetail, type Model, type PreparedImage } from '../../native-models/index.js';
import { createQwen2Vl, type Qwen2VlImageLayout } from '../../native-models/families/qwen2vl/family.js';
import { readModelConfigs } from '../../native-models/model/config.js';
import { loadTokenizer } from '../../native-models/text/tokenizer.js';
import { QWEN2VL_PIXEL_BUDGETS } from '../../native-models/families/qwen2vl/preprocess.js';
import { writeQwen2VlModel, type Qwen2VlFamily, type Qwen2VlFixtureInfo } from '../fixtures/qwen2vl/generate.js';
import { collectAnswer } from '../support/answers.js';
import { writeGradient, writeScreenshotLike, writeSolid } from '../support/images.js';
import { loadTransformersOffline, referenceRun, type ReferenceTensor, type Transformers } from '../support/transformers-js.js';

interface ReferenceInputs {
  input_ids: ReferenceTensor;
  pixel_values: ReferenceTensor;
  image_grid_thw: ReferenceTensor;
}

const FAMILIES: Qwen2VlFamily[] = ['qwen2_vl', 'qwen2_5_vl'];
const question = 'What is on the screen?';
const followUps = ['What is on the screen?', 'And the second line?', 'Which button should I press?'];
const maxNewTokens = 10;
// Greedy, no repetition penalty, in both engines (the fixtures' generation_config.json samples, like Qwen's).
const greedy: AskOptions = { maxNewTokens, temperature: 0, repetitionPenalty: 1 };

let root: string;
let tf: Transformers;
const fixtures = new Map<Qwen2VlFamily, Qwen2VlFixtureInfo>();
const models = new Map<Qwen2VlFamily, Model>();
const images: Record<string, string> = {};

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-qwen2vl-'));
  for (const family of FAMILIES) {
    const info = await writeQwen2VlModel(path.join(root, family), { family, seed: 21, precisions: ['fp32', 'q8', 'fp16'] });
    fixtures.set(family, info);
    models.set(family, await loadModel(info.dir, { precision: 'fp32', device: 'cpu' }));
  }
  images.screenshot = await writeScreenshotLike(path.join(root, 'screenshot.png'));
  images.portrait = await writeGradient(path.join(root, 'portrait.png'), 600, 1400);
  images.tiny = await writeGradient(path.join(root, 'tiny.png'), 20, 12);
  images.red = await writeSolid(path.join(root, 'red.png'), 800, 600, [200, 30, 30]);
  tf = await loadTransformersOffline();
});

afterAll(async () => {
  for (const model of models.values()) await model.dispose();
  if (root) await rm(root, { recursive: true, force: true });
});

const modelOf = (family: Qwen2VlFamily) => models.get(family)!;

async function ask(model: Model, image: string | PreparedImage | undefined, detail: ImageDetail, options: AskOptions = {}): Promise<Answer> {
  const conversation = model.startConversation(image === undefined ? {} : { image, detail });
  return collectAnswer(conversation.ask(question, { ...greedy, ...options }));
}

async function converse(conversation: Conversation, options: AskOptions = {}): Promise<Answer[]> {
  const answers = [];
  for (const q of followUps) answers.push(await collectAnswer(conversation.ask(q, { ...greedy, maxNewTokens: 8, ...options })));
  return answers;
}

describe('a Qwen2.5-VL export with external data, num_logits_to_keep and use_cache: false', () => {
  it('loads, warns about the flag, keeps the cache on, and answers exactly as without the cache', async () => {
    const info = await writeQwen2VlModel(path.join(root, 'alt'), {
      family: 'qwen2_5_vl',
      seed: 4,
      externalData: true,
      numLogitsToKeep: true,
      useCacheFlag: false,
    });
    const model = await loadModel(info.dir, { precision: 'fp32' });
    try {
      expect(model.decoderRewrites.applied).toContain('new-kv-outputs');
      expect(model.decoderRewrites.applied).not.toContain('last-row-logits'); // the graph keeps one row itself
      const cached = await ask(model, images.portrait, 'low');
      const uncached = await ask(model, images.portrait, 'low', { useCache: false });
      expect(cached.stats.cache).toBe('on');
      expect(cached.warnings.join(' ')).toMatch(/use_cache/);
      expect(uncached.tokenIds).toEqual(cached.tokenIds);
    } finally {
      await model.dispose();
    }
  });
});

describe.each(FAMILIES)('%s', (family) => {
  it('loads as the qwen2vl family; the decoder is rewritten; 3-D position_ids', () => {
    const model = modelOf(family);
    expect(model.family).toBe('qwen2vl');
    expect(model.imageTokenId).toBe(fixtures.get(family)!.ids.imagePad);
    expect(model.decoderRewrites.applied).toEqual(['new-kv-outputs', 'cache-read-in-place', 'last-row-logits', 'fused-projections', 'fused-rms-norms']);
  });

  it('answers an image question: the prompt holds vision_start, t·h·w/4 pads, vision_end; the count is imageTokenCount', async () => {
    const model = modelOf(family);
    const { ids } = fixtures.get(family)!;
    for (const [detail, tokens] of [['high', 1980], ['low', 480]] as const) {
      const answer = await ask(model, images.screenshot, detail);
      expect(answer.tokenIds.length).toBeGreaterThan(0);
      expect(answer.stats.imageTokens).toBe(tokens);
      expect(model.imageTokenCount({ width: 1920, height: 1080 }, detail)).toBe(tokens);
      const prompt = answer.promptTokenIds;
      const first = prompt.indexOf(ids.imagePad);
      expect(prompt[first - 1]).toBe(ids.visionStart);
      expect(prompt.slice(first, first + tokens).every((id) => id === ids.imagePad)).toBe(true);
      expect(prompt[first + tokens]).toBe(ids.visionEnd);
      expect(prompt.filter((id) => id === ids.imagePad)).toHaveLength(tokens);
    }
  });

  it('image costs: the budgets by default, an explicit pixel option overrides them; a 201:1 image is refused in one line', async () => {
    const model = modelOf(family);
    expect(model.imageTokenCount({ width: 3840, height: 2160 }, 'high')).toBe(1980);
    expect(model.imageTokenCount({ width: 640, height: 360 }, 'low')).toBe(299);
    expect(() => model.imageTokenCount({ width: 2010, height: 10 }, 'low')).toThrow(/^The image is 2010×10 px, an aspect ratio of 201:1;[^\n]*crop it first\.$/);
    const { dir } = fixtures.get(family)!;
    const context = { dir, configs: await readModelConfigs(dir), tokenizer: await loadTokenizer(dir) };
    const custom = await createQwen2Vl(context, { pixels: { high: { maxPixels: 12_845_056 } } });
    expect(custom.imageTokenCount({ width: 1920, height: 1080 }, 'high')).toBe(2691); // native 1932×1092
    expect(custom.imageTokenCount({ width: 1920, height: 1080 }, 'low')).toBe(480);
  });

  it('takes a pixel budget from the load options, and the answer uses it', async () => {
    const model = await loadModel(fixtures.get(family)!.dir, { precision: 'fp32', imagePixels: { high: 200_000 } });
    try {
      const tokens = model.imageTokenCount({ width: 1920, height: 1080 }, 'high');
      expect(tokens).toBeLessThan(1980);
      expect(tokens * 28 * 28).toBeLessThanOrEqual(200_000);
      expect((await ask(model, images.screenshot, 'high')).stats.imageTokens).toBe(tokens);
      expect(model.imageTokenCount({ width: 1920, height: 1080 }, 'low')).toBe(480);
    } finally {
      await model.dispose();
    }
    await expect(loadModel(fixtures.get(family)!.dir, { imagePixels: { low: 100 } })).rejects.toThrow(
      /^Invalid setting imagePixels\.low: a whole number of pixels, at least 784 \(got 100\)\.$/,
    );
  });

  it('answers a text-only question, cached exactly as uncached', async () => {
    const model = modelOf(family);
    const cached = await ask(model, undefined, 'high');
    const uncached = await ask(model, undefined, 'high', { useCache: false });
    expect(cached.stats.imageTokens).toBe(0);
    expect(cached.promptTokenIds).not.toContain(fixtures.get(family)!.ids.imagePad);
    expect(cached.tokenIds).toHaveLength(maxNewTokens);
    expect(uncached.tokenIds).toEqual(cached.tokenIds);
  });

  it.each([
    ['screenshot', 'low'],
    ['portrait', 'high'],
    ['tiny', 'high'],
  ] as const)('%s, %s detail: the KV cache gives exactly the tokens of recomputing everything', async (name, detail) => {
    const model = modelOf(family);
    const cached = await ask(model, images[name], detail);
    const uncached = await ask(model, images[name], detail, { useCache: false });
    expect([cached.stats.cache, uncached.stats.cache]).toEqual(['on', 'off']);
    expect(uncached.tokenIds).toEqual(cached.tokenIds);
    expect(cached.tokenIds).toHaveLength(maxNewTokens);
  });

  it('follow-ups reuse the cache and answer exactly as a full recomputation (rewritten and stock decoder)', async () => {
    const stock = await loadModel(fixtures.get(family)!.dir, { precision: 'fp32', rewriteDecoder: false });
    try {
      expect(stock.decoderRewrites.applied).toEqual([]);
      const reused = await converse(modelOf(family).startConversation({ image: images.screenshot, detail: 'low' }));
      const recomputed = await converse(modelOf(family).startConversation({ image: images.screenshot, detail: 'low' }), { useCache: false });
      const stockReused = await converse(stock.startConversation({ image: images.screenshot, detail: 'low' }));
      expect(reused.map((a) => a.tokenIds)).toEqual(recomputed.map((a) => a.tokenIds));
      expect(stockReused.map((a) => a.tokenIds)).toEqual(reused.map((a) => a.tokenIds));
      const [first, second, third] = reused as [Answer, Answer, Answer];
      expect(first.stats.reusedPromptTokens).toBe(0);
      expect(second.stats.reusedPromptTokens).toBeGreaterThanOrEqual(first.promptTokenIds.length);
      expect(third.stats.reusedPromptTokens).toBeGreaterThan(second.stats.reusedPromptTokens);
      expect(second.stats.imageEncodeMs).toBe(0);
      expect(recomputed.map((a) => a.stats.reusedPromptTokens)).toEqual([0, 0, 0]);
    } finally {
      await stock.dispose();
    }
  });

  it('text-only follow-ups reuse the cache too', async () => {
    const reused = await converse(modelOf(family).startConversation());
    const recomputed = await converse(modelOf(family).startConversation(), { useCache: false });
    expect(reused.map((a) => a.tokenIds)).toEqual(recomputed.map((a) => a.tokenIds));
    expect(reused[1]!.stats.reusedPromptTokens).toBeGreaterThanOrEqual(reused[0]!.promptTokenIds.length);
  });

  it('q8 and fp16 graphs load and answer, with and without the cache (fp16: float16 embeddings and cache)', async () => {
    // Only fp32 is compared token for token: q8 quantises activations per call (one row vs the whole sequence) and
    // fp16 rounds per call shape, so near-ties may break differently between the two paths.
    for (const precision of ['q8', 'fp16'] as const) {
      const model = await loadModel(fixtures.get(family)!.dir, { precision });
      try {
        expect(model.precision).toBe(precision);
        for (const useCache of [true, false]) {
          const answer = await ask(model, images.screenshot, 'low', { maxNewTokens: 6, useCache });
          expect(answer.tokenIds).toHaveLength(6);
          expect(answer.stats.imageTokens).toBe(480);
          expect(answer.stats.precision).toBe(precision);
        }
      } finally {
        await model.dispose();
      }
    }
  });

  describe('parity with transformers.js', () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- transformers.js types its processor and model loosely
    let processor: any, reference: any;
    beforeAll(async () => {
      const { dir } = fixtures.get(family)!;
      processor = await tf.AutoProcessor.from_pretrained(dir, { local_files_only: true });
      reference = await tf.AutoModelForImageTextToText.from_pretrained(dir, { dtype: 'fp32', local_files_only: true });
    });
    afterAll(async () => {
      await reference?.dispose?.();
    });

    async function referenceAnswer(image: string, detail: ImageDetail) {
      // transformers.js reads max_pixels from the config; give it the budget we use for this detail.
      processor.image_processor.max_pixels = QWEN2VL_PIXEL_BUDGETS[detail];
      return referenceRun<ReferenceInputs>(processor, reference, await tf.RawImage.read(image), question, {
        maxNewTokens,
        generateOptions: { repetition_penalty: 1 },
      });
    }

    /** The reference's pixels and grid, handed to our engine as a prepared image. */
    function preparedFrom(inputs: ReferenceInputs): PreparedImage {
      const [t, h, w] = Array.from(inputs.image_grid_thw.data, Number) as [number, number, number];
      const grid = new ort.Tensor('int64', inputs.image_grid_thw.data as BigInt64Array, [1, 3]);
      const layout: Qwen2VlImageLayout = { grid: [t, h, w], rope: { t, h: h / 2, w: w / 2 } };
      return {
        visionFeeds: {
          pixel_values: new ort.Tensor('float32', inputs.pixel_values.data as Float32Array, inputs.pixel_values.dims),
          grid_thw: grid,
          image_grid_thw: grid,
        },
        tokenCount: (t * h * w) / 4,
        frames: t * h * w,
        layout,
      };
    }

    it.each([
      ['screenshot', 'high', [1, 66, 120]],
      ['screenshot', 'low', [1, 32, 60]],
      ['portrait', 'low', [1, 68, 28]],
      ['tiny', 'high', [1, 4, 6]],
      ['red', 'low', [1, 38, 52]],
    ] as const)('%s, %s detail: same grid and prompt ids; same greedy tokens from the same pixels', async (name, detail, grid) => {
      const model = modelOf(family);
      const theirs = await referenceAnswer(images[name]!, detail);
      expect(Array.from(theirs.inputs.image_grid_thw.data, Number)).toEqual(grid);
      const mine = await ask(model, images[name], detail);
      expect(mine.promptTokenIds).toEqual(theirs.promptIds);
      expect(mine.stats.imageTokens).toBe((grid[0] * grid[1] * grid[2]) / 4);
      // Same pixels in, same tokens out: the vision feeds, the merge, the 3-D positions and decoding agree exactly.
      const samePixels = await ask(model, preparedFrom(theirs.inputs), detail);
      expect(samePixels.promptTokenIds).toEqual(theirs.promptIds);
      expect(samePixels.tokenIds).toEqual(theirs.tokenIds);
      // A solid colour reduced on both axes resamples identically under both resizers: the whole pipeline agrees.
      if (name === 'red') expect(mine.tokenIds).toEqual(theirs.tokenIds);
    });

    it('different images give different answers (the image really reaches the decoder)', async () => {
      const a = await ask(modelOf(family), images.red, 'low');
      const b = await ask(modelOf(family), images.screenshot, 'low');
      expect(a.tokenIds).not.toEqual(b.tokenIds);
    });
  });
});
