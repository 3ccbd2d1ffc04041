/**
 * The random-weight Qwen2-VL / Qwen2.5-VL fixture generator (test/fixtures/qwen2vl/generate.ts): the files follow the
 * public onnx-community export contract, the decoder computes multimodal rotary attention as Qwen2-VL defines it
 * (checked against an independent float64 reference, prefill and cached step), the vision encoder keeps the
 * [Npatch, 1176] → [Npatch/4, H] contract with per-image attention, and transformers.js 4.3.1 loads and runs the
 * directory with its Qwen2VL classes.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PRECISIONS as ALL,
  PRECISION_SUFFIX,
  QWEN_EMBED_WEIGHT,
  TINY_DIMS,
  mropePositions,
  writeQwen2VlModel,
  type Precision,
  type Qwen2VlDims,
  type Qwen2VlFamily,
  type Qwen2VlFixtureInfo,
} from './fixtures/qwen2vl/generate.js';
import { buildQwen2VlTokenizer } from './fixtures/qwen2vl/tokenizer.js';
import { VISION_ROPE_THETA } from './fixtures/qwen2vl/vision.js';
import { EMBED_STD } from './fixtures/shared/embed.js';
import { BIAS_STD, NORM_WEIGHT_STD } from './fixtures/shared/layers.js';
import { randomTensor } from './fixtures/shared/rng.js';
import {
  CACHED_STEP_TOLERANCE,
  SessionCache,
  cacheFeeds,
  f32,
  floatTensor,
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
import { qwenReferenceDecoder as referenceDecoder } from './support/reference-decoder.js';
import { layerNorm, matVec, rmsNorm, rotate, silu } from './support/reference-math.js';
import { QWEN2_VL_2B_PREPROCESSOR_CONFIG } from './support/published-configs.js';
import { runScript } from './support/run-script.js';
import { loadTransformersOffline, referenceRun, type ReferenceTensor } from './support/transformers-js.js';

const FAMILIES: Qwen2VlFamily[] = ['qwen2_vl', 'qwen2_5_vl'];

/** What Qwen2VLProcessor returns for one image. */
interface QwenInputs {
  input_ids: ReferenceTensor;
  attention_mask: ReferenceTensor;
  pixel_values: ReferenceTensor;
  image_grid_thw: ReferenceTensor;
}

let root: string;
const fixtures = new Map<Qwen2VlFamily, Qwen2VlFixtureInfo>(); // all precisions, seed 7
let alt: Qwen2VlFixtureInfo; // qwen2_5_vl fp32: external data, num_logits_to_keep, use_cache=false
const sessions = new SessionCache();

function fx(family: Qwen2VlFamily): Qwen2VlFixtureInfo {
  return fixtures.get(family)!;
}

function session(info: Qwen2VlFixtureInfo, graph: string, p: Precision): Promise<ort.InferenceSession> {
  return sessions.get(graphPath(info.dir, graph, p));
}

function readJson(info: Qwen2VlFixtureInfo, file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(info.dir, file), 'utf8')) as Record<string, unknown>;
}

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if ((a[i] as number) > (a[best] as number)) best = i;
  return best;
}

// ---------------------------------------------------------------------------------------------
// Running the graphs.

async function embedIds(info: Qwen2VlFixtureInfo, p: Precision, ids: number[]): Promise<Float32Array> {
  const s = await session(info, 'embed_tokens', p);
  return f32((await s.run({ input_ids: i64(ids, [1, ids.length]) })).inputs_embeds as ort.Tensor);
}

interface DecodeArgs extends CacheArgs {
  /** [S, H] row-major. */
  embeds: Float32Array;
  /** [t, h, w] positions of the S new tokens. */
  positions: [number[], number[], number[]];
}

async function decode(info: Qwen2VlFixtureInfo, p: Precision, a: DecodeArgs): Promise<ort.InferenceSession.OnnxValueMapType> {
  const s = await session(info, 'decoder_model_merged', p);
  const t = info.dims.text;
  const S = a.positions[0].length;
  const past = a.pastLen ?? 0;
  return s.run({
    inputs_embeds: floatTensor(a.embeds, [1, S, t.hiddenSize], isHalf(p)),
    attention_mask: i64(new Array<number>(past + S).fill(1), [1, past + S]),
    position_ids: i64(a.positions.flat(), [3, 1, S]),
    ...cacheFeeds(t, 1, isHalf(p), a),
  });
}

async function encodeImages(info: Qwen2VlFixtureInfo, p: Precision, pixels: Float32Array, grids: number[][]): Promise<ort.Tensor> {
  const s = await session(info, 'vision_encoder', p);
  const out = await s.run({
    pixel_values: new ort.Tensor('float32', pixels, [pixels.length / 1176, 1176]),
    [info.gridInputName]: i64(grids.flat(), [grids.length, 3]),
  });
  return out.image_features as ort.Tensor;
}

function testPatches(seed: number, n: number): Float32Array {
  return randomTensor(seed, 'test-patches', n * 1176, 1);
}

// ---------------------------------------------------------------------------------------------
// Independent float64 references, built from the same seeded weight streams.

/** erf to ~1e-12 (Taylor series near 0, continued fraction for the tail). */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 80; n++) {
      term *= (-ax * ax) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * ((2 / Math.sqrt(Math.PI)) * sum);
  }
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (ax + f);
  return Math.sign(x) * (1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f));
}

/**
 * Qwen2-VL / Qwen2.5-VL vision tower of the fixture for one image: patch rows in the processor's order, 2-D rotary
 * positions enumerated the way rot_pos_emb builds hpos/wpos, full attention within the image, then the merger.
 */
function referenceVision(info: Qwen2VlFixtureInfo, family: Qwen2VlFamily, pixels: Float32Array, grid: [number, number, number]): Float64Array[] {
  const seed = info.seed;
  const v = info.dims.vision;
  const E = v.hiddenSize;
  const nH = v.numHeads;
  const hd = E / nH;
  const m = v.spatialMergeSize;
  const H = info.dims.text.hiddenSize;
  const qwen25 = family === 'qwen2_5_vl';
  const W = (name: string, K: number, N: number): Float32Array => randomTensor(seed, `${name}.weight`, K * N, 1 / Math.sqrt(K));
  const B = (name: string, N: number): Float32Array => randomTensor(seed, `${name}.bias`, N, BIAS_STD);
  const norm = (x: Float64Array, name: string): Float64Array =>
    qwen25
      ? rmsNorm(x, randomTensor(seed, `${name}.weight`, E, NORM_WEIGHT_STD, 1), v.layerNormEps)
      : layerNorm(x, randomTensor(seed, `${name}.weight`, E, NORM_WEIGHT_STD, 1), B(name, E), v.layerNormEps);
  const [gt, gh, gw] = grid;
  const pos: [number, number][] = [];
  for (let t = 0; t < gt; t++) {
    for (let bh = 0; bh < gh / m; bh++) {
      for (let bw = 0; bw < gw / m; bw++) {
        for (let mh = 0; mh < m; mh++) for (let mw = 0; mw < m; mw++) pos.push([bh * m + mh, bw * m + mw]);
      }
    }
  }
  const N = pos.length;
  const K = 1176;
  const wp = W('visual.patch_embed.proj', K, E);
  let xs = Array.from({ length: N }, (_, r) => matVec(Float64Array.from(pixels.subarray(r * K, (r + 1) * K)), wp, K, E));
  const quarter = hd / 4;
  const angles = ([row, col]: [number, number]): number[] =>
    Array.from({ length: hd / 2 }, (_, j) => (j < quarter ? row : col) / VISION_ROPE_THETA ** ((2 * (j % quarter)) / (hd / 2)));
  for (let l = 0; l < v.numLayers; l++) {
    const p = `visual.blocks.${l}`;
    const wqkv = W(`${p}.attn.qkv`, E, 3 * E);
    const bqkv = B(`${p}.attn.qkv`, 3 * E);
    const qkv = xs.map((x) => matVec(norm(x, `${p}.norm1`), wqkv, E, 3 * E, bqkv));
    const q = qkv.map((r, s) => rotate(r.slice(0, E), nH, hd, angles(pos[s]!)));
    const k = qkv.map((r, s) => rotate(r.slice(E, 2 * E), nH, hd, angles(pos[s]!)));
    const val = qkv.map((r) => r.slice(2 * E));
    const wo = W(`${p}.attn.proj`, E, E);
    const bo = B(`${p}.attn.proj`, E);
    xs = xs.map((x, s) => {
      const ctx = new Float64Array(E);
      for (let h = 0; h < nH; h++) {
        const scores = k.map((kj) => {
          let d = 0;
          for (let e = 0; e < hd; e++) d += (q[s]![h * hd + e] as number) * (kj[h * hd + e] as number);
          return d / Math.sqrt(hd);
        });
        const mx = Math.max(...scores);
        const ex = scores.map((z) => Math.exp(z - mx));
        const sum = ex.reduce((a, b) => a + b, 0);
        for (let j = 0; j < N; j++) for (let e = 0; e < hd; e++) ctx[h * hd + e] = (ctx[h * hd + e] as number) + ((ex[j] as number) / sum) * (val[j]![h * hd + e] as number);
      }
      const o = matVec(ctx, wo, E, E, bo);
      return x.map((a, i) => a + (o[i] as number));
    });
    const I = v.intermediateSize;
    xs = xs.map((x) => {
      const y = norm(x, `${p}.norm2`);
      let out: Float64Array;
      if (qwen25) {
        const g = matVec(y, W(`${p}.mlp.gate_proj`, E, I), E, I, B(`${p}.mlp.gate_proj`, I));
        const u = matVec(y, W(`${p}.mlp.up_proj`, E, I), E, I, B(`${p}.mlp.up_proj`, I));
        out = matVec(g.map((z, i) => silu(z) * (u[i] as number)), W(`${p}.mlp.down_proj`, I, E), I, E, B(`${p}.mlp.down_proj`, E));
      } else {
        const f1 = matVec(y, W(`${p}.mlp.fc1`, E, I), E, I, B(`${p}.mlp.fc1`, I));
        out = matVec(f1.map((z) => z / (1 + Math.exp(-1.702 * z))), W(`${p}.mlp.fc2`, I, E), I, E, B(`${p}.mlp.fc2`, E));
      }
      return x.map((a, i) => a + (out[i] as number));
    });
  }
  const Km = E * m * m;
  const normed = xs.map((x) => norm(x, 'visual.merger.ln_q'));
  const w0 = W('visual.merger.mlp.0', Km, Km);
  const b0 = B('visual.merger.mlp.0', Km);
  const w2 = W('visual.merger.mlp.2', Km, H);
  const b2 = B('visual.merger.mlp.2', H);
  const tokens: Float64Array[] = [];
  for (let g = 0; g < N / (m * m); g++) {
    const cat = new Float64Array(Km);
    for (let r = 0; r < m * m; r++) cat.set(normed[g * m * m + r]!, r * E);
    const f = matVec(cat, w0, Km, Km, b0).map((z) => 0.5 * z * (1 + erf(z / Math.SQRT2)));
    tokens.push(matVec(f, w2, Km, H, b2));
  }
  return tokens;
}

// A prompt with one image block: 5 text tokens, vision_start, 2×3 merged tokens (grid [1, 4, 6]), vision_end, 3 text.
const GRID: [number, number, number] = [1, 4, 6];

function promptIds(info: Qwen2VlFixtureInfo): number[] {
  const ids = info.ids;
  return [ids.imStart, 40, 41, 300, 7, ids.visionStart, ...new Array<number>(6).fill(ids.imagePad), ids.visionEnd, 99, 512, 23];
}

/** Embeddings of the prompt with the image rows replaced by arbitrary "image features" (std 1). */
function promptEmbeds(info: Qwen2VlFixtureInfo, ids: number[]): Float64Array[] {
  const H = info.dims.text.hiddenSize;
  const table = randomTensor(info.seed, QWEN_EMBED_WEIGHT, info.vocabSize * H, EMBED_STD);
  const image = randomTensor(99, 'test-image-features', 6 * H, 1);
  let k = 0;
  return ids.map((id) =>
    id === info.ids.imagePad ? Float64Array.from(image.subarray(k * H, ++k * H)) : Float64Array.from(table.subarray(id * H, (id + 1) * H)),
  );
}

function flat(rows: Float64Array[]): Float32Array {
  const out = new Float32Array(rows.length * rows[0]!.length);
  rows.forEach((r, i) => out.set(r, i * r.length));
  return out;
}

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'qwen2vl-fixture-'));
  for (const family of FAMILIES) fixtures.set(family, await writeQwen2VlModel(join(root, family), { family, seed: 7, precisions: ALL }));
  alt = await writeQwen2VlModel(join(root, 'alt'), { family: 'qwen2_5_vl', seed: 7, precisions: ['fp32'], ...ALT_FEATURES });
});

afterAll(async () => {
  await sessions.release();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe.each(FAMILIES)('%s fixture directory', (family) => {
  it('has the public file layout and JSON files, with consistent token ids', () => {
    const info = fx(family);
    const qwen25 = family === 'qwen2_5_vl';
    const t = TINY_DIMS.text;
    const json = ['chat_template.json', 'config.json', 'generation_config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json'];
    const onnx = ALL.flatMap((p) => ['embed_tokens', 'vision_encoder', 'decoder_model_merged'].map((g) => `onnx/${g}${PRECISION_SUFFIX[p]}.onnx`));
    expect(info.fileList).toEqual([...json, ...onnx].sort());
    for (const f of info.fileList) expect(existsSync(join(info.dir, f)), f).toBe(true);

    const ids = info.ids;
    const special = info.specialTokenIds;
    expect(ids).toMatchObject({
      endOfText: special['<|endoftext|>'],
      imStart: special['<|im_start|>'],
      imEnd: special['<|im_end|>'],
      visionStart: special['<|vision_start|>'],
      visionEnd: special['<|vision_end|>'],
      imagePad: special['<|image_pad|>'],
      eos: [special['<|im_end|>'], special['<|endoftext|>']],
    });
    const textFields = {
      hidden_size: t.hiddenSize,
      intermediate_size: t.intermediateSize,
      num_hidden_layers: t.numLayers,
      num_attention_heads: t.numHeads,
      num_key_value_heads: t.numKvHeads,
      rms_norm_eps: t.rmsNormEps,
      rope_theta: t.ropeTheta,
      max_position_embeddings: t.maxPositionEmbeddings,
      vocab_size: info.vocabSize,
      rope_scaling: { type: 'mrope', mrope_section: [2, 3, 3] },
      tie_word_embeddings: false,
    };
    const config = readJson(info, 'config.json');
    expect(config).toMatchObject({
      model_type: family,
      architectures: [qwen25 ? 'Qwen2_5_VLForConditionalGeneration' : 'Qwen2VLForConditionalGeneration'],
      ...textFields,
      image_token_id: ids.imagePad,
      video_token_id: ids.videoPad,
      vision_start_token_id: ids.visionStart,
      vision_end_token_id: ids.visionEnd,
      bos_token_id: ids.endOfText,
      eos_token_id: ids.imEnd,
      vision_config: { patch_size: 14, spatial_merge_size: 2, temporal_patch_size: 2, in_chans: 3, num_heads: 2, depth: 1 },
    });
    expect(config).not.toHaveProperty('use_cache');
    expect(config).not.toHaveProperty('head_dim');
    if (qwen25) {
      expect(config.text_config).toMatchObject({ model_type: 'qwen2_5_vl_text', ...textFields });
      expect(config.vision_config).toMatchObject({ hidden_size: 32, out_hidden_size: t.hiddenSize, intermediate_size: 64 });
    } else {
      expect(config).not.toHaveProperty('text_config');
      expect(config.vision_config).toMatchObject({ embed_dim: 32, hidden_size: t.hiddenSize, mlp_ratio: 2 });
    }
    expect(readJson(info, 'generation_config.json')).toMatchObject({
      do_sample: true,
      top_k: 1,
      top_p: 0.001,
      temperature: 0.1,
      repetition_penalty: 1.05,
      eos_token_id: [ids.imEnd, ids.endOfText],
      pad_token_id: ids.endOfText,
    });
    // The published file's values (the generator writes resample, rescale_factor, size and do_convert_rgb besides).
    expect(readJson(info, 'preprocessor_config.json')).toMatchObject({
      ...QWEN2_VL_2B_PREPROCESSOR_CONFIG,
      processor_class: qwen25 ? 'Qwen2_5_VLProcessor' : 'Qwen2VLProcessor',
    });
    const tokConfig = readJson(info, 'tokenizer_config.json');
    expect(tokConfig).toMatchObject({ eos_token: '<|im_end|>', pad_token: '<|endoftext|>', bos_token: null, tokenizer_class: 'Qwen2Tokenizer' });
    expect(tokConfig.chat_template).toContain('<|vision_start|><|image_pad|><|vision_end|>');
    expect(readJson(info, 'chat_template.json')).toEqual({ chat_template: tokConfig.chat_template });
    const tokenizer = readJson(info, 'tokenizer.json') as { added_tokens: { id: number; content: string; special: boolean }[]; model: { vocab: Record<string, number> } };
    for (const tok of tokenizer.added_tokens) expect(special[tok.content]).toBe(tok.id);
    expect(tokenizer.added_tokens.filter((x) => x.special).map((x) => x.content)).toContain('<|image_pad|>');
    expect(tokenizer.added_tokens.length).toBe(qwen25 ? 22 : 14);
    expect(Object.keys(tokenizer.model.vocab).length + tokenizer.added_tokens.length).toBe(info.tokenizerVocabSize);
    expect(info.vocabSize).toBe(info.tokenizerVocabSize);
  });

  it.each(ALL)('%s graphs load in onnxruntime with exactly the contract I/O', async (p) => {
    const info = fx(family);
    const fl = isHalf(p) ? 'float16' : 'float32';
    const t = info.dims.text;
    const meta = async (g: string) => ioSignature(await session(info, g, p));
    expect(await meta('embed_tokens')).toEqual(embedTokensSignature(fl, t.hiddenSize));
    expect(await meta('vision_encoder')).toEqual({
      ins: ['pixel_values:float32[num_patches,1176]', `${family === 'qwen2_vl' ? 'grid_thw' : 'image_grid_thw'}:int64[num_images,3]`],
      outs: [`image_features:${fl}[num_image_tokens,${t.hiddenSize}]`],
    });
    expect(await meta('decoder_model_merged')).toEqual(decoderSignature(t, fl, info.vocabSize, '3,batch_size,sequence_length'));
  });

  it('decoder fp32 matches the float64 mrope reference, and prefill + one cached step equals it too', async () => {
    const info = fx(family);
    const ids = promptIds(info);
    const L = ids.length;
    const { axes, delta } = mropePositions(ids, info.ids.imagePad, [GRID]);
    // Worked by hand: the image block (2 × 3 tokens) starts at 6; text resumes at 6 + max(1, 2, 3) = 9.
    expect(axes[0]).toEqual([0, 1, 2, 3, 4, 5, 6, 6, 6, 6, 6, 6, 9, 10, 11, 12]);
    expect(axes[1]).toEqual([0, 1, 2, 3, 4, 5, 6, 6, 6, 7, 7, 7, 9, 10, 11, 12]);
    expect(axes[2]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 6, 7, 8, 9, 10, 11, 12]);
    expect(delta).toBe(13 - L);
    const embeds = promptEmbeds(info, ids);
    const ref = referenceDecoder(info, embeds, axes);

    const full = await decode(info, 'fp32', { embeds: flat(embeds), positions: axes });
    for (let pos = 0; pos < L; pos++) expect(maxAbsDiff(logitsAt(full, pos), Float32Array.from(ref[pos]!))).toBeLessThan(1e-3);

    const cut = (a: number[], from: number, to: number): number[] => a.slice(from, to);
    const prefill = await decode(info, 'fp32', { embeds: flat(embeds.slice(0, L - 1)), positions: [cut(axes[0], 0, L - 1), cut(axes[1], 0, L - 1), cut(axes[2], 0, L - 1)] });
    expect((prefill['present.0.key'] as ort.Tensor).dims).toEqual([1, info.dims.text.numKvHeads, L - 1, info.dims.text.headDim]);
    // The cached step's position: past length + delta of the prefix, on every axis.
    const stepPos = L - 1 + mropePositions(ids.slice(0, L - 1), info.ids.imagePad, [GRID]).delta;
    expect([axes[0][L - 1], axes[1][L - 1], axes[2][L - 1]]).toEqual([stepPos, stepPos, stepPos]);
    const step = await decode(info, 'fp32', { embeds: flat(embeds.slice(L - 1)), positions: [[stepPos], [stepPos], [stepPos]], past: prefill, pastLen: L - 1 });
    expect((step.logits as ort.Tensor).dims).toEqual([1, 1, info.vocabSize]);
    expect((step['present.1.value'] as ort.Tensor).dims).toEqual([1, info.dims.text.numKvHeads, L, info.dims.text.headDim]);
    expect(maxAbsDiff(logitsAt(step, 0), Float32Array.from(ref[L - 1]!))).toBeLessThan(1e-3);
    expect(maxAbsDiff(logitsAt(step, 0), logitsAt(full, L - 1))).toBeLessThan(1e-4);

    // Every axis matters: swapping the image block's h and w positions (or flattening them to 1-D) changes the logits,
    // and the reference follows the graph there too.
    const swapped: [number[], number[], number[]] = [axes[0], axes[2], axes[1]];
    const outSwapped = await decode(info, 'fp32', { embeds: flat(embeds), positions: swapped });
    expect(maxAbsDiff(logitsAt(outSwapped, L - 1), logitsAt(full, L - 1))).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(logitsAt(outSwapped, L - 1), Float32Array.from(referenceDecoder(info, embeds, swapped)[L - 1]!))).toBeLessThan(1e-3);
    const linear = Array.from({ length: L }, (_, i) => i);
    const outLinear = await decode(info, 'fp32', { embeds: flat(embeds), positions: [linear, linear, linear] });
    expect(maxAbsDiff(logitsAt(outLinear, L - 1), logitsAt(full, L - 1))).toBeGreaterThan(1e-2);
  });

  it.each(ALL)('%s decoder: prefill then one cached step equals the full pass', async (p) => {
    const info = fx(family);
    const ids = promptIds(info);
    const L = ids.length;
    const { axes } = mropePositions(ids, info.ids.imagePad, [GRID]);
    const embeds = flat(promptEmbeds(info, ids));
    const H = info.dims.text.hiddenSize;
    const part = (from: number, to: number): [number[], number[], number[]] => [axes[0].slice(from, to), axes[1].slice(from, to), axes[2].slice(from, to)];
    const full = await decode(info, p, { embeds, positions: axes });
    const prefill = await decode(info, p, { embeds: embeds.slice(0, (L - 1) * H), positions: part(0, L - 1) });
    const step = await decode(info, p, { embeds: embeds.slice((L - 1) * H), positions: part(L - 1, L), past: prefill, pastLen: L - 1 });
    expect(maxAbsDiff(logitsAt(step, 0), logitsAt(full, L - 1))).toBeLessThan(CACHED_STEP_TOLERANCE[p]);
    if (p !== 'fp32') {
      // 4-bit blocks carry ~7% weight noise, which the peaked attention of random weights amplifies.
      const ref = logitsAt(await decode(info, 'fp32', { embeds, positions: axes }), L - 1);
      expect(cosine(logitsAt(full, L - 1), ref)).toBeGreaterThan({ fp16: 0.999, q8: 0.99, q4: 0.8, q4f16: 0.8 }[p]);
    }
  });

  it('vision encoder: [Npatch/4, H] for several grids, images independent, positions from the grid', async () => {
    const info = fx(family);
    const H = info.dims.text.hiddenSize;
    const a = testPatches(1, 24);
    const one = await encodeImages(info, 'fp32', a, [[1, 4, 6]]);
    expect(one.dims).toEqual([6, H]);
    expect((await encodeImages(info, 'fp32', testPatches(2, 4), [[1, 2, 2]])).dims).toEqual([1, H]);
    expect((await encodeImages(info, 'fp32', testPatches(3, 64), [[2, 4, 8]])).dims).toEqual([16, H]);
    // Two images in one call: each attends only to itself, so each equals its own run.
    const b = testPatches(4, 16);
    const two = await encodeImages(info, 'fp32', Float32Array.from([...a, ...b]), [[1, 4, 6], [1, 4, 4]]);
    expect(two.dims).toEqual([10, H]);
    expect(maxAbsDiff(f32(two).subarray(0, 6 * H), f32(one))).toBeLessThan(1e-5);
    expect(maxAbsDiff(f32(two).subarray(6 * H), f32(await encodeImages(info, 'fp32', b, [[1, 4, 4]])))).toBeLessThan(1e-5);
    // Same rows, other layout: rotary positions come from the grid.
    const transposed = f32(await encodeImages(info, 'fp32', a, [[1, 6, 4]]));
    expect(maxAbsDiff(transposed, f32(one))).toBeGreaterThan(1e-2);
    // The output depends on the patch contents.
    const c = Float32Array.from(a);
    c.fill(0.5, 0, 1176);
    expect(maxAbsDiff(f32(await encodeImages(info, 'fp32', c, [[1, 4, 6]])), f32(one))).toBeGreaterThan(1e-2);
    // A patch count that disagrees with the grid is an error, not garbage.
    await expect(encodeImages(info, 'fp32', a, [[1, 4, 4]])).rejects.toThrow();
  });

  it('vision encoder matches the float64 reference (patch rows, 2-D rotary, merger of 4 consecutive rows)', async () => {
    const info = fx(family);
    for (const grid of [[1, 4, 6], [1, 6, 4]] as [number, number, number][]) {
      const px = testPatches(5, grid[0] * grid[1] * grid[2]);
      expectClose(f32(await encodeImages(info, 'fp32', px, [grid])), referenceVision(info, family, px, grid), 1e-3);
    }
    // Lower precisions stay close.
    const px = testPatches(6, 24);
    const ref = f32(await encodeImages(info, 'fp32', px, [[1, 4, 6]]));
    for (const p of ['fp16', 'q8', 'q4', 'q4f16'] as const) {
      expect(cosine(f32(await encodeImages(info, p, px, [[1, 4, 6]])), ref), p).toBeGreaterThan(0.97);
    }
  });
});

describe('Qwen2-VL fixture options', () => {
  it('is deterministic per seed and family', async () => {
    const a = await writeQwen2VlModel(join(root, 'det-a'), { seed: 7, graphs: ['decoder_model_merged', 'vision_encoder'] });
    const b = await writeQwen2VlModel(join(root, 'det-b'), { seed: 8, graphs: ['decoder_model_merged'] });
    const bytes = (path: string): Buffer => readFileSync(path);
    expect(bytes(a.files.fp32!.decoder!).equals(bytes(fx('qwen2_vl').files.fp32!.decoder!))).toBe(true);
    expect(bytes(a.files.fp32!.visionEncoder!).equals(bytes(fx('qwen2_vl').files.fp32!.visionEncoder!))).toBe(true);
    expect(bytes(a.files.fp32!.decoder!).equals(bytes(b.files.fp32!.decoder!))).toBe(false);
    // The families differ in their vision towers (and in vocabulary: Qwen2.5-VL has 8 more added tokens).
    expect(bytes(fx('qwen2_5_vl').files.fp32!.visionEncoder!).equals(bytes(a.files.fp32!.visionEncoder!))).toBe(false);
    expect(fx('qwen2_5_vl').vocabSize).toBe(fx('qwen2_vl').vocabSize + 8);
  });

  it('num_logits_to_keep, external data and use_cache', async () => {
    const info = fx('qwen2_5_vl');
    const ids = promptIds(info);
    const { axes } = mropePositions(ids, info.ids.imagePad, [GRID]);
    const embeds = flat(promptEmbeds(info, ids));
    const inline = await decode(info, 'fp32', { embeds, positions: axes });
    const last = await decode(alt, 'fp32', { embeds, positions: axes, keep: 1 });
    expect((last.logits as ort.Tensor).dims).toEqual([1, 1, alt.vocabSize]);
    expect(maxAbsDiff(logitsAt(last, 0), logitsAt(inline, ids.length - 1))).toBe(0);
    const all = await decode(alt, 'fp32', { embeds, positions: axes, keep: 0 });
    expect((all.logits as ort.Tensor).dims).toEqual([1, ids.length, alt.vocabSize]);
    expect(alt.files.fp32!.externalData.length).toBe(3);
    expect(alt.fileList).toContain('onnx/decoder_model_merged.onnx_data');
    expect(readFileSync(alt.files.fp32!.decoder!).length).toBeLessThan(64 * 1024);
    const config = readJson(alt, 'config.json');
    expect(config.use_cache).toBe(false);
    expect((config.text_config as Record<string, unknown>).use_cache).toBe(false);
    expect(config['transformers.js_config']).toEqual({
      use_external_data_format: { 'embed_tokens.onnx': 1, 'vision_encoder.onnx': 1, 'decoder_model_merged.onnx': 1 },
    });
    expect(readJson(alt, 'generation_config.json').use_cache).toBe(false);
  });

  it('the real-shape presets and the layers override (JSON only)', async () => {
    const big = await writeQwen2VlModel(join(root, 'q25-3b'), { family: 'qwen2_5_vl', size: 'qwen2.5-vl-3b', layers: 2, graphs: [], maxPixels: 1003520 });
    const config = readJson(big, 'config.json');
    const text = {
      hidden_size: 2048,
      num_hidden_layers: 2,
      num_attention_heads: 16,
      num_key_value_heads: 2,
      intermediate_size: 11008,
      vocab_size: 151936,
      rope_theta: 1000000,
      rope_scaling: { type: 'mrope', mrope_section: [16, 24, 24] },
    };
    expect(config).toMatchObject({ model_type: 'qwen2_5_vl', ...text, text_config: text, vision_config: { out_hidden_size: 2048, patch_size: 14 } });
    expect(readJson(big, 'preprocessor_config.json')).toMatchObject({ max_pixels: 1003520, min_pixels: 3136 });
    expect(big.dims.text.headDim).toBe(128);
    expect(big.fileList).not.toContain('onnx/decoder_model_merged.onnx');
    const q2 = await writeQwen2VlModel(join(root, 'q2-2b'), { size: 'qwen2-vl-2b', graphs: [] });
    expect(readJson(q2, 'config.json')).toMatchObject({ model_type: 'qwen2_vl', hidden_size: 1536, num_hidden_layers: 28, num_attention_heads: 12 });
    await expect(writeQwen2VlModel(join(root, 'bad'), { dims: { ...TINY_DIMS, text: { ...TINY_DIMS.text, mropeSection: [2, 2, 2] } } as Qwen2VlDims })).rejects.toThrow(
      /mropeSection/,
    );
  });
});

describe('transformers.js 4.3.1 on the Qwen2-VL fixtures', () => {
  it.each(FAMILIES)('%s: loads with the Qwen2VL classes, tokenizes like the generator, positions match, generates like a hand-written loop', async (family) => {
    const { AutoProcessor, AutoModelForImageTextToText, RawImage } = await loadTransformersOffline();
    const info = fx(family);
    const processor = await AutoProcessor.from_pretrained(info.dir, { local_files_only: true });
    expect(processor.constructor.name).toBe(family === 'qwen2_vl' ? 'Qwen2VLProcessor' : 'Qwen2_5_VLProcessor');

    // The tokenizer.json split + BPE give what the generator's own encoder gives.
    const text = "It's 2025-01-31.\nWhat's on my SCREEN? Café ☕  1920x1080 we've";
    expect(processor.tokenizer!.encode(text)).toEqual(buildQwen2VlTokenizer(family).encode(text));

    const image = new RawImage(new Uint8ClampedArray(60 * 90 * 3).map((_, i) => (i * 37) % 256), 90, 60, 3);
    const answers: number[][] = [];
    for (const question of ['What is in this image?', 'Describe the colours please.']) {
      const model = await AutoModelForImageTextToText.from_pretrained(info.dir, { dtype: 'fp32', local_files_only: true });
      expect(model.constructor.name).toBe(family === 'qwen2_vl' ? 'Qwen2VLForConditionalGeneration' : 'Qwen2_5_VLForConditionalGeneration');
      const run = await referenceRun<QwenInputs>(processor, model, image, question, { maxNewTokens: 6, generateOptions: { repetition_penalty: 1 } });
      expect(run.prompt).toBe(
        `<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>${question}<|im_end|>\n<|im_start|>assistant\n`,
      );
      const { inputs, promptIds: ids, tokenIds: generated } = run;
      // 90×60 → smart_resize 84×56 → 6×4 patches → 6 image tokens.
      expect(inputs.pixel_values.dims).toEqual([24, 1176]);
      expect(inputs.image_grid_thw.tolist()).toEqual([[1n, 4n, 6n]]);
      expect(ids.filter((id) => id === info.ids.imagePad).length).toBe(6);

      const ropeIndex = (model as unknown as { get_rope_index(...a: unknown[]): [{ tolist(): bigint[][][] }, { tolist(): bigint[][] }] }).get_rope_index(
        inputs.input_ids,
        inputs.image_grid_thw,
        null,
        inputs.attention_mask,
      );
      const mine = mropePositions(ids, info.ids.imagePad, [GRID]);
      expect(ropeIndex[0].tolist().map((axis) => axis[0]!.map(Number))).toEqual(mine.axes);
      expect(Number(ropeIndex[1].tolist()[0]![0])).toBe(mine.delta);

      expect(generated.length).toBeGreaterThan(0);
      for (const id of generated) expect(id).toBeLessThan(info.vocabSize);
      await model.dispose();

      // The same greedy tokens from our own loop over the three graphs: image rows replaced in order, 3-D prefill
      // positions, then past length + delta on every axis.
      const features = f32(await encodeImages(info, 'fp32', inputs.pixel_values.data as Float32Array, [[1, 4, 6]]));
      const H = info.dims.text.hiddenSize;
      const embeds = await embedIds(info, 'fp32', ids);
      let k = 0;
      ids.forEach((id, i) => {
        if (id === info.ids.imagePad) embeds.set(features.subarray(k * H, ++k * H), i * H);
      });
      let out2 = await decode(info, 'fp32', { embeds, positions: mine.axes });
      const loop: number[] = [];
      let pastLen = ids.length;
      for (let step = 0; step < 6; step++) {
        const next = argmax(logitsAt(out2, (out2.logits as ort.Tensor).dims[1]! - 1));
        loop.push(next);
        if (info.ids.eos.includes(next)) break;
        const pos = pastLen + mine.delta;
        out2 = await decode(info, 'fp32', { embeds: await embedIds(info, 'fp32', [next]), positions: [[pos], [pos], [pos]], past: out2, pastLen });
        pastLen++;
      }
      expect(generated).toEqual(loop);
      answers.push(generated);
    }
    expect(answers[0]).not.toEqual(answers[1]);
  });
});

describe('the fixtures CLI with --family', () => {
  it('writes Qwen directories and rejects bad flags with one line', async () => {
    const run = (...args: string[]) => runScript('test/fixtures/cli.ts', args, 60_000);
    const bad = await run('--out', join(root, 'cli'), '--family', 'qwen3_vl');
    expect(bad.code).toBe(2);
    expect(bad.stderr.split('\n')[0]).toBe("fixtures: unknown family 'qwen3_vl' (expected smolvlm, qwen2_vl, qwen2_5_vl)");
    expect((await run('--out', join(root, 'cli'), '--family', 'qwen2_vl', '--scripted-answer', 'hi')).code).toBe(2);
    expect((await run('--out', join(root, 'cli'), '--family', 'qwen2_vl', '--size', 'smolvlm-256m')).code).toBe(2);
    const ok = await run('--out', join(root, 'cli'), '--family', 'qwen2_5_vl', '--precision', 'q8', '--layers', '1', '--max-pixels', '200704', '--num-logits-to-keep');
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^wrote .*: qwen2_5_vl; q8;/);
    expect(existsSync(join(root, 'cli', 'onnx', 'vision_encoder_quantized.onnx'))).toBe(true);
    const config = JSON.parse(readFileSync(join(root, 'cli', 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ model_type: 'qwen2_5_vl', num_hidden_layers: 1 });
    expect(JSON.parse(readFileSync(join(root, 'cli', 'preprocessor_config.json'), 'utf8')).max_pixels).toBe(200704);
  });
});
