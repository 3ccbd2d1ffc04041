/**
 * The random-weight SmolVLM fixture generator (test/fixtures/smolvlm/generate.ts): the files follow
 * the public HuggingFaceTB/SmolVLM-256M-Instruct ONNX contract, the graphs compute what they claim
 * (checked against an independent JS reference), and transformers.js loads and runs the directory.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PRECISIONS as ALL,
  TINY_DIMS,
  writeSmolVlmModel,
  type Precision,
  type SmolVlmDims,
  type SmolVlmFixtureInfo,
} from './fixtures/smolvlm/generate.js';
import { BIAS_STD, NORM_WEIGHT_STD } from './fixtures/shared/layers.js';
import { randomTensor } from './fixtures/shared/rng.js';
import { POSITION_EMBEDDING_STD } from './fixtures/smolvlm/vision.js';
import {
  CACHED_STEP_TOLERANCE,
  SessionCache,
  cacheFeeds,
  f32,
  graphPath,
  i64,
  ALT_FEATURES,
  decoderSignature,
  embedTokensSignature,
  ioSignature,
  isHalf,
  logitsAt,
  type CacheArgs,
} from './support/fixture-graphs.js';
import { cosine, expectClose, maxAbsDiff } from './support/float-compare.js';
import { smolVlmReferenceLogits } from './support/reference-decoder.js';
import { layerNorm, matVec } from './support/reference-math.js';
import { runScript } from './support/run-script.js';
import { loadTransformersOffline, referenceRun, type ReferenceTensor } from './support/transformers-js.js';

let root: string;
let main: SmolVlmFixtureInfo; // all precisions, inline weights, no num_logits_to_keep
let alt: SmolVlmFixtureInfo; // fp32 + q8, external data, num_logits_to_keep, use_cache=false
const sessions = new SessionCache();

function session(info: SmolVlmFixtureInfo, graph: string, p: Precision): Promise<ort.InferenceSession> {
  return sessions.get(graphPath(info.dir, graph, p));
}

async function embed(info: SmolVlmFixtureInfo, p: Precision, rows: number[][]): Promise<ort.Tensor> {
  const s = await session(info, 'embed_tokens', p);
  const out = await s.run({ input_ids: i64(rows.flat(), [rows.length, rows[0]!.length]) });
  return out.inputs_embeds as ort.Tensor;
}

interface DecodeArgs extends CacheArgs {
  ids: number[][];
  /** Defaults to all ones over past + new tokens. */
  mask?: number[][];
  /** Defaults to past … past + S − 1. */
  positions?: number[][];
}

async function decode(info: SmolVlmFixtureInfo, p: Precision, a: DecodeArgs): Promise<ort.InferenceSession.OnnxValueMapType> {
  const s = await session(info, 'decoder_model_merged', p);
  const B = a.ids.length;
  const S = a.ids[0]!.length;
  const past = a.pastLen ?? 0;
  const t = info.dims.text;
  const mask = a.mask ?? a.ids.map(() => new Array<number>(past + S).fill(1));
  const positions = a.positions ?? a.ids.map(() => Array.from({ length: S }, (_, i) => past + i));
  return s.run({
    inputs_embeds: await embed(info, p, a.ids),
    attention_mask: i64(mask.flat(), [B, past + S]),
    position_ids: i64(positions.flat(), [B, S]),
    ...cacheFeeds(t, B, isHalf(p), a),
  });
}

// ---------------------------------------------------------------------------------------------
// Independent float64 references, built from the same seeded weight streams.


/** The vision tower without encoder layers: patch Conv + positions → post LayerNorm → pixel shuffle → projection. */
function referenceShallowVision(seed: number, dims: SmolVlmDims, frame: Float32Array): Float64Array[] {
  const v = dims.vision;
  const P = v.patchSize;
  const S = v.imageSize;
  const side = S / P;
  const E = v.hiddenSize;
  const s = dims.scaleFactor;
  const pe = 'model.vision_model.embeddings.patch_embedding';
  const cw = randomTensor(seed, `${pe}.weight`, E * 3 * P * P, 1 / Math.sqrt(3 * P * P));
  const cb = randomTensor(seed, `${pe}.bias`, E, BIAS_STD);
  const pos = randomTensor(seed, 'model.vision_model.embeddings.position_embedding.weight', side * side * E, POSITION_EMBEDDING_STD);
  const lnW = randomTensor(seed, 'model.vision_model.post_layernorm.weight', E, NORM_WEIGHT_STD, 1);
  const lnB = randomTensor(seed, 'model.vision_model.post_layernorm.bias', E, BIAS_STD);
  const patches: Float64Array[] = [];
  for (let pr = 0; pr < side; pr++) {
    for (let pc = 0; pc < side; pc++) {
      const out = new Float64Array(E);
      for (let o = 0; o < E; o++) {
        let acc = cb[o] as number;
        for (let ch = 0; ch < 3; ch++) {
          for (let ky = 0; ky < P; ky++) {
            const rowBase = ch * S * S + (pr * P + ky) * S + pc * P;
            const wBase = ((o * 3 + ch) * P + ky) * P;
            for (let kx = 0; kx < P; kx++) acc += (cw[wBase + kx] as number) * (frame[rowBase + kx] as number);
          }
        }
        out[o] = acc + (pos[(pr * side + pc) * E + o] as number);
      }
      patches.push(layerNorm(out, lnW, lnB, v.layerNormEps));
    }
  }
  // Idefics3Connector.pixel_shuffle, written out index by index.
  const tokSide = side / s;
  const K = E * s * s;
  const proj = randomTensor(seed, 'model.connector.modality_projection.proj.weight', K * dims.text.hiddenSize, 1 / Math.sqrt(K));
  const tokens: Float64Array[] = [];
  for (let tr = 0; tr < tokSide; tr++) {
    for (let tc = 0; tc < tokSide; tc++) {
      const feat = new Float64Array(K);
      for (let f = 0; f < K; f++) {
        const r = tr * s + Math.floor(f / (E * s));
        const c = tc * s + Math.floor((f % (E * s)) / E);
        feat[f] = patches[r * side + c]![f % E] as number;
      }
      tokens.push(matVec(feat, proj, K, dims.text.hiddenSize));
    }
  }
  return tokens;
}

function testImage(seed: number, S: number): Float32Array {
  const px = randomTensor(seed, 'test-image', 3 * S * S, 0.5);
  return px.map((x) => Math.max(-1, Math.min(1, x)));
}

async function encodeFrames(info: SmolVlmFixtureInfo, p: Precision, frames: Float32Array[], masks: Uint8Array[]): Promise<ort.Tensor> {
  const S = info.dims.vision.imageSize;
  const s = await session(info, 'vision_encoder', p);
  const px = new Float32Array(frames.length * 3 * S * S);
  frames.forEach((f, i) => px.set(f, i * 3 * S * S));
  const mask = new Uint8Array(frames.length * S * S);
  masks.forEach((m, i) => mask.set(m, i * S * S));
  const out = await s.run({
    pixel_values: new ort.Tensor('float32', px, [1, frames.length, 3, S, S]),
    pixel_attention_mask: new ort.Tensor('bool', mask, [1, frames.length, S, S]),
  });
  return out.image_features as ort.Tensor;
}

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'smolvlm-fixture-'));
  main = await writeSmolVlmModel(join(root, 'main'), { seed: 7, precisions: ALL });
  alt = await writeSmolVlmModel(join(root, 'alt'), { seed: 7, precisions: ['fp32', 'q8'], ...ALT_FEATURES });
});

afterAll(async () => {
  await sessions.release();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('SmolVLM fixture directory', () => {
  it('has the public file layout and JSON files', () => {
    const t = TINY_DIMS.text;
    for (const f of ['config.json', 'generation_config.json', 'preprocessor_config.json', 'processor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
      expect(existsSync(join(main.dir, f)), f).toBe(true);
    }
    for (const p of ALL) {
      for (const g of ['embed_tokens', 'vision_encoder', 'decoder_model_merged']) expect(existsSync(graphPath(main.dir, g, p))).toBe(true);
    }
    const config = JSON.parse(readFileSync(join(main.dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      model_type: 'idefics3',
      architectures: ['Idefics3ForConditionalGeneration'],
      image_token_id: main.specialTokenIds['<image>'],
      scale_factor: 4,
      text_config: {
        model_type: 'llama',
        hidden_size: t.hiddenSize,
        num_hidden_layers: t.numLayers,
        num_attention_heads: t.numHeads,
        num_key_value_heads: t.numKvHeads,
        head_dim: t.headDim,
        intermediate_size: t.intermediateSize,
        vocab_size: main.vocabSize,
        tie_word_embeddings: false,
      },
      vision_config: { hidden_size: 32, image_size: 512, patch_size: 16 },
    });
    expect(config).not.toHaveProperty('use_cache');
    expect(config.text_config).not.toHaveProperty('use_cache');
    const gen = JSON.parse(readFileSync(join(main.dir, 'generation_config.json'), 'utf8'));
    expect(gen.eos_token_id).toBe(main.specialTokenIds['<end_of_utterance>']);
    expect(gen).not.toHaveProperty('use_cache');
    expect(JSON.parse(readFileSync(join(main.dir, 'processor_config.json'), 'utf8'))).toEqual({ image_seq_len: 64, processor_class: 'Idefics3Processor' });
    const pre = JSON.parse(readFileSync(join(main.dir, 'preprocessor_config.json'), 'utf8'));
    expect(pre).toMatchObject({
      processor_class: 'Idefics3Processor',
      image_processor_type: 'Idefics3ImageProcessor',
      size: { longest_edge: 2048 },
      max_image_size: { longest_edge: 512 },
      do_image_splitting: true,
      image_mean: [0.5, 0.5, 0.5],
      image_std: [0.5, 0.5, 0.5],
    });
    expect(JSON.parse(readFileSync(join(main.dir, 'tokenizer_config.json'), 'utf8')).chat_template).toContain('<end_of_utterance>');
    expect(main.imageTokensPerFrame).toBe(64);

    const altConfig = JSON.parse(readFileSync(join(alt.dir, 'config.json'), 'utf8'));
    expect(altConfig.use_cache).toBe(false);
    expect(JSON.parse(readFileSync(join(alt.dir, 'generation_config.json'), 'utf8')).use_cache).toBe(false);
  });

  it('is deterministic per seed', async () => {
    const a = await writeSmolVlmModel(join(root, 'det-a'), { seed: 7, graphs: ['decoder_model_merged'] });
    const b = await writeSmolVlmModel(join(root, 'det-b'), { seed: 8, graphs: ['decoder_model_merged'] });
    const bytes = (info: SmolVlmFixtureInfo): Buffer => readFileSync(info.files.fp32!.decoder!);
    expect(bytes(a).equals(readFileSync(main.files.fp32!.decoder!))).toBe(true);
    expect(bytes(a).equals(bytes(b))).toBe(false);
  });

  it.each(ALL)('%s graphs load in onnxruntime with the contract I/O', async (p) => {
    const fl = isHalf(p) ? 'float16' : 'float32';
    const t = main.dims.text;
    const meta = async (g: string) => ioSignature(await session(main, g, p));
    expect(await meta('embed_tokens')).toEqual(embedTokensSignature(fl, t.hiddenSize));
    expect(await meta('vision_encoder')).toEqual({
      ins: ['pixel_values:float32[batch_size,num_images,3,512,512]', 'pixel_attention_mask:bool[batch_size,num_images,512,512]'],
      outs: [`image_features:${fl}[num_frames,64,${t.hiddenSize}]`],
    });
    expect(await meta('decoder_model_merged')).toEqual(decoderSignature(t, fl, main.vocabSize, 'batch_size,sequence_length'));
  });

  it('decoder fp32 matches an independent Llama reference (RoPE, GQA, causal mask, untied head)', async () => {
    const ids = [1, 40, 41, 300, 7, 99, 512, 23];
    const out = await decode(main, 'fp32', { ids: [ids] });
    const ref = smolVlmReferenceLogits(main, ids);
    for (let pos = 0; pos < ids.length; pos++) {
      expect(maxAbsDiff(logitsAt(out, pos), Float32Array.from(ref[pos]!))).toBeLessThan(1e-3);
    }
  });

  it.each(ALL)('%s decoder: prefill then one cached step equals the full pass', async (p) => {
    const ids = [1, 17, 250, 36, 4, 411, 90, 61, 5];
    const L = ids.length - 1;
    const full = await decode(main, p, { ids: [ids] });
    const prefill = await decode(main, p, { ids: [ids.slice(0, L)] });
    expect((prefill['present.0.key'] as ort.Tensor).dims).toEqual([1, main.dims.text.numKvHeads, L, main.dims.text.headDim]);
    const step = await decode(main, p, { ids: [ids.slice(L)], past: prefill, pastLen: L });
    expect((step.logits as ort.Tensor).dims).toEqual([1, 1, main.vocabSize]);
    expect((step['present.1.value'] as ort.Tensor).dims).toEqual([1, main.dims.text.numKvHeads, L + 1, main.dims.text.headDim]);
    expect(maxAbsDiff(logitsAt(step, 0), logitsAt(full, L))).toBeLessThan(CACHED_STEP_TOLERANCE[p]);
  });

  it('decoder is causal: a later token never changes earlier logits', async () => {
    const a = [1, 50, 60, 70, 80, 90];
    const b = [1, 50, 60, 71, 80, 90];
    const ra = await decode(main, 'fp32', { ids: [a] });
    const rb = await decode(main, 'fp32', { ids: [b] });
    for (let pos = 0; pos < 3; pos++) expect(maxAbsDiff(logitsAt(ra, pos), logitsAt(rb, pos))).toBeLessThan(1e-5);
    for (let pos = 3; pos < 6; pos++) expect(maxAbsDiff(logitsAt(ra, pos), logitsAt(rb, pos))).toBeGreaterThan(1e-2);
  });

  it('decoder honours attention_mask: a left-padded batch row equals the unpadded run', async () => {
    const ids = [1, 33, 44, 55, 66];
    const pad = main.ids.pad;
    const alone = await decode(main, 'fp32', { ids: [ids] });
    const batch = await decode(main, 'fp32', {
      ids: [[pad, pad, ...ids], [1, 2, 3, 4, 5, 6, 7]],
      mask: [[0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1]],
      positions: [[1, 1, 0, 1, 2, 3, 4], [0, 1, 2, 3, 4, 5, 6]],
    });
    expect(maxAbsDiff(logitsAt(batch, 6, 0), logitsAt(alone, 4))).toBeLessThan(1e-4);
  });

  it('decoder num_logits_to_keep keeps the last k rows (0 keeps all)', async () => {
    const ids = [1, 9, 8, 7, 6];
    const all = await decode(alt, 'fp32', { ids: [ids], keep: 0 });
    expect((all.logits as ort.Tensor).dims).toEqual([1, 5, alt.vocabSize]);
    const last = await decode(alt, 'fp32', { ids: [ids], keep: 1 });
    expect((last.logits as ort.Tensor).dims).toEqual([1, 1, alt.vocabSize]);
    expect(maxAbsDiff(logitsAt(last, 0), logitsAt(all, 4))).toBeLessThan(1e-5);
    const two = await decode(alt, 'fp32', { ids: [ids], keep: 2 });
    expect(maxAbsDiff(logitsAt(two, 0), logitsAt(all, 3))).toBeLessThan(1e-5);
    const s = await session(alt, 'decoder_model_merged', 'fp32');
    const keepMeta = s.inputMetadata.find((m) => m.name === 'num_logits_to_keep');
    expect(keepMeta && keepMeta.isTensor ? [keepMeta.type, keepMeta.shape] : null).toEqual(['int64', []]);
  });

  it('external data files load and give the same results as inline weights', async () => {
    for (const p of ['fp32', 'q8'] as Precision[]) {
      expect(alt.files[p]!.externalData.length).toBe(3);
      for (const f of alt.files[p]!.externalData) expect(existsSync(f)).toBe(true);
    }
    expect(readFileSync(alt.files.fp32!.decoder!).length).toBeLessThan(64 * 1024);
    const ids = [1, 5, 6, 7];
    const inline = await decode(main, 'fp32', { ids: [ids] });
    const external = await decode(alt, 'fp32', { ids: [ids], keep: 0 });
    expect(maxAbsDiff(logitsAt(inline, 3), logitsAt(external, 3))).toBe(0);
  });

  it('lower precisions stay close to fp32', async () => {
    const ids = [1, 12, 300, 45, 46, 47, 200, 9, 10, 11];
    const ref = logitsAt(await decode(main, 'fp32', { ids: [ids] }), ids.length - 1);
    // 4-bit blocks carry ~7% weight noise, which the peaked attention of these random weights
    // amplifies (cosine ≈ 0.92–0.99 over prompts); a packing or scale bug would give ≈ 0.
    const minCos = { fp16: 0.999, q8: 0.995, q4: 0.85, q4f16: 0.85 };
    for (const p of ['fp16', 'q8', 'q4', 'q4f16'] as const) {
      const got = logitsAt(await decode(main, p, { ids: [ids] }), ids.length - 1);
      expect(cosine(got, ref), p).toBeGreaterThan(minCos[p]);
    }
    const S = main.dims.vision.imageSize;
    const frame = testImage(1, S);
    const full = new Uint8Array(S * S).fill(1);
    const vref = f32(await encodeFrames(main, 'fp32', [frame], [full]));
    for (const p of ['fp16', 'q8', 'q4', 'q4f16'] as const) {
      expect(cosine(f32(await encodeFrames(main, p, [frame], [full])), vref), p).toBeGreaterThan(Math.max(minCos[p], 0.97));
    }
  });

  it('vision encoder: pixel shuffle and projection match the Idefics3 reference', async () => {
    const dims: SmolVlmDims = { ...TINY_DIMS, vision: { ...TINY_DIMS.vision, numLayers: 0 } };
    const shallow = await writeSmolVlmModel(join(root, 'shallow'), { seed: 3, dims, graphs: ['vision_encoder'] });
    const S = dims.vision.imageSize;
    const frame = testImage(2, S);
    const got = f32(await encodeFrames(shallow, 'fp32', [frame], [new Uint8Array(S * S).fill(1)]));
    expect(got.length).toBe(64 * dims.text.hiddenSize);
    expectClose(got, referenceShallowVision(3, dims, frame), 1e-3);
  });

  it('vision encoder uses the mask: padding frames are dropped, masked pixels are ignored', async () => {
    const S = main.dims.vision.imageSize;
    const a = testImage(4, S);
    const b = testImage(5, S);
    const full = new Uint8Array(S * S).fill(1);
    const none = new Uint8Array(S * S);
    const one = await encodeFrames(main, 'fp32', [a], [full]);
    expect(one.dims).toEqual([1, 64, main.dims.text.hiddenSize]);
    const padded = await encodeFrames(main, 'fp32', [a, new Float32Array(3 * S * S)], [full, none]);
    expect(padded.dims).toEqual([1, 64, main.dims.text.hiddenSize]);
    expect(maxAbsDiff(f32(padded), f32(one))).toBeLessThan(1e-5);
    const two = await encodeFrames(main, 'fp32', [a, b], [full, full]);
    expect(two.dims).toEqual([2, 64, main.dims.text.hiddenSize]);
    expect(maxAbsDiff(f32(two).subarray(0, f32(one).length), f32(one))).toBeLessThan(1e-5);

    // Bottom half masked: what is under the mask no longer matters, and the output differs from the unmasked frame.
    const half = new Uint8Array(S * S);
    half.fill(1, 0, (S * S) / 2);
    const noisy = Float32Array.from(a);
    for (let ch = 0; ch < 3; ch++) noisy.fill(0.9, ch * S * S + (S * S) / 2, (ch + 1) * S * S);
    const m1 = f32(await encodeFrames(main, 'fp32', [a], [half]));
    const m2 = f32(await encodeFrames(main, 'fp32', [noisy], [half]));
    expect(maxAbsDiff(m1, m2)).toBeLessThan(1e-5);
    expect(maxAbsDiff(m1, f32(one))).toBeGreaterThan(1e-2);
  });

  it('transformers.js loads the directory (fp32, q8, fp16, q4f16) and generates; different questions give different answers', async () => {
    const { AutoProcessor, AutoModelForVision2Seq, RawImage } = await loadTransformersOffline();
    const processor = await AutoProcessor.from_pretrained(main.dir, { local_files_only: true });
    const image = new RawImage(new Uint8ClampedArray(48 * 32 * 3).map((_, i) => (i * 37) % 256), 48, 32, 3);
    const generation = { maxNewTokens: 6, processorOptions: { do_image_splitting: false } };
    const answers = new Map<string, number[][]>();
    for (const dtype of ['fp32', 'q8', 'fp16', 'q4f16'] as const) {
      const model = await AutoModelForVision2Seq.from_pretrained(main.dir, { dtype, local_files_only: true });
      const runs: number[][] = [];
      for (const question of ['What is in this image?', 'Describe the colours please.']) {
        const run = await referenceRun<{ input_ids: ReferenceTensor }>(processor, model, image, question, generation);
        expect(run.prompt).toBe(`<|im_start|>User:<image>${question}<end_of_utterance>\nAssistant:`);
        expect(run.promptIds.filter((id) => id === main.ids.image).length).toBe(64);
        expect(run.tokenIds.length).toBeGreaterThan(0);
        for (const id of run.tokenIds) expect(id).toBeLessThan(main.vocabSize);
        runs.push(run.tokenIds);
      }
      if (dtype === 'fp32' || dtype === 'q8') expect(runs[0]).not.toEqual(runs[1]);
      answers.set(dtype, runs);
      await model.dispose();
    }
    // Same seed with external data + num_logits_to_keep (transformers.js feeds 1 at each step): same tokens.
    const altModel = await AutoModelForVision2Seq.from_pretrained(alt.dir, { dtype: 'fp32', local_files_only: true });
    const altProcessor = await AutoProcessor.from_pretrained(alt.dir, { local_files_only: true });
    const altRun = await referenceRun<{ input_ids: ReferenceTensor }>(altProcessor, altModel, image, 'What is in this image?', generation);
    expect(altRun.tokenIds).toEqual(answers.get('fp32')![0]);
    await altModel.dispose();
  });

  it('the CLI writes a directory and rejects bad flags with one line', async () => {
    const run = (...args: string[]) => runScript('test/fixtures/cli.ts', args, 60_000);
    const bad = await run('--out', join(root, 'cli'), '--precision', 'fp32,q9');
    expect(bad.code).toBe(2);
    expect(bad.stderr.split('\n')[0]).toBe("fixtures: unknown precision 'q9' (expected fp32, fp16, q8, q4, q4f16)");
    expect(bad.stderr).not.toMatch(/\bat .*\.ts:\d+/);
    expect((await run('--out', join(root, 'cli'), '--frobnicate')).code).toBe(2);
    expect((await run('--seed', '3')).code).toBe(2);
    const ok = await run('--out', join(root, 'cli'), '--seed', '7', '--precision', 'q4', '--num-logits-to-keep', '--use-cache-false');
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^wrote .*: q4;/);
    expect(existsSync(join(root, 'cli', 'onnx', 'decoder_model_merged_q4.onnx'))).toBe(true);
    expect(JSON.parse(readFileSync(join(root, 'cli', 'config.json'), 'utf8')).use_cache).toBe(false);
  });
});
