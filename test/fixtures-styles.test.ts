/**
 * The decoder graph styles (test/fixtures/shared/decoder-styles.ts): the fused and model-builder styles of every family
 * hold the ops of their style, keep the export contract, compute the float64 reference's logits, continue from their
 * own cache, and stay close to fp32 in every precision they have.
 */
import * as ort from 'onnxruntime-node';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGraph } from '../native-models/runtime/onnx/graph-view.js';
import { readFileSync } from 'node:fs';
import type { GraphStyle } from './fixtures/shared/decoder-styles.js';
import { EMBED_STD, EMBED_WEIGHT } from './fixtures/shared/embed.js';
import { randomTensor } from './fixtures/shared/rng.js';
import type { Precision } from './fixtures/shared/layers.js';
import { QWEN_EMBED_WEIGHT, writeQwen2VlModel, type Qwen2VlFixtureInfo } from './fixtures/qwen2vl/generate.js';
import { writeSmolVlmModel, type SmolVlmFixtureInfo } from './fixtures/smolvlm/generate.js';
import { cosine, maxAbsDiff } from './support/float-compare.js';
import {
  CACHED_STEP_TOLERANCE,
  SessionCache,
  cacheFeeds,
  decoderSignature,
  f32,
  graphPath,
  i64,
  ioSignature,
  isHalf,
  logitsAt,
  type CacheArgs,
} from './support/fixture-graphs.js';
import { qwenReferenceDecoder, referenceDecoder } from './support/reference-decoder.js';
import { DEFAULT_DECODER_LAYOUT } from './fixtures/shared/decoder.js';
import { ropeAngles } from './support/reference-math.js';
import { runScript } from './support/run-script.js';

type Family = 'smolvlm' | 'qwen2_vl' | 'qwen2_5_vl';
type Info = SmolVlmFixtureInfo | Qwen2VlFixtureInfo;
const STYLE_PRECISIONS: Record<Exclude<GraphStyle, 'primitive'>, Precision[]> = {
  fused: ['fp32', 'fp16', 'q8', 'q4', 'q4f16'],
  gqa: ['fp32', 'fp16', 'q4', 'q4f16'],
};
const CASES = (['fused', 'gqa'] as const).flatMap((style) => (['smolvlm', 'qwen2_vl', 'qwen2_5_vl'] as const).map((family) => [style, family] as const));
const CASES_BY_PRECISION = CASES.flatMap(([style, family]) => STYLE_PRECISIONS[style].map((p) => [style, family, p] as const));

let root: string;
const dirs = new Map<string, Info>();
const sessions = new SessionCache();
const key = (style: GraphStyle, family: Family) => `${style}/${family}`;

beforeAll(async () => {
  root = await mkdtemp(join(os.tmpdir(), 'screenask-styles-'));
  for (const [style, family] of CASES) {
    const dir = join(root, `${style}-${family}`);
    const common = { seed: 5, precisions: STYLE_PRECISIONS[style], graphStyle: style, graphs: ['embed_tokens', 'decoder_model_merged'] } as const;
    dirs.set(key(style, family), family === 'smolvlm' ? await writeSmolVlmModel(dir, common) : await writeQwen2VlModel(dir, { ...common, family }));
  }
});

afterAll(async () => {
  await sessions.release();
  if (root) await rm(root, { recursive: true, force: true });
});

const isQwen = (info: Info): info is Qwen2VlFixtureInfo => 'gridInputName' in info;

/** Positions of a text prompt at `past`…: SmolVLM [1, S]; Qwen [3, 1, S] with the three axes made to differ. */
function positionsOf(info: Info, S: number, past: number): { tensor: ort.Tensor; axes: [number[], number[], number[]] } {
  const t = Array.from({ length: S }, (_, i) => past + i);
  if (!isQwen(info)) return { tensor: i64(t, [1, S]), axes: [t, t, t] };
  const axes: [number[], number[], number[]] = [t, t.map((p) => p + (p % 3)), t.map((p) => 2 * p)];
  return { tensor: i64(axes.flat(), [3, 1, S]), axes };
}

async function run(info: Info, p: Precision, ids: number[], cache: CacheArgs = {}): Promise<ort.InferenceSession.OnnxValueMapType> {
  const embed = await sessions.get(graphPath(info.dir, 'embed_tokens', p));
  const embeds = (await embed.run({ input_ids: i64(ids, [1, ids.length]) })).inputs_embeds as ort.Tensor;
  const decoder = await sessions.get(graphPath(info.dir, 'decoder_model_merged', p));
  const past = cache.pastLen ?? 0;
  return decoder.run({
    inputs_embeds: embeds,
    attention_mask: i64(new Array<number>(past + ids.length).fill(1), [1, past + ids.length]),
    position_ids: positionsOf(info, ids.length, past).tensor,
    ...cacheFeeds(info.dims.text, 1, isHalf(p), cache),
  });
}

function reference(info: Info, ids: number[]): Float64Array[] {
  const t = info.dims.text;
  const table = randomTensor(info.seed, isQwen(info) ? QWEN_EMBED_WEIGHT : EMBED_WEIGHT, info.vocabSize * t.hiddenSize, EMBED_STD);
  const embeds = ids.map((id) => Float64Array.from(table.subarray(id * t.hiddenSize, (id + 1) * t.hiddenSize)));
  if (isQwen(info)) return qwenReferenceDecoder(info, embeds, positionsOf(info, ids.length, 0).axes);
  const model = { seed: info.seed, text: t, vocabSize: info.vocabSize, layout: DEFAULT_DECODER_LAYOUT };
  return referenceDecoder(model, embeds, (s) => ropeAngles(s, t.ropeTheta, t.headDim));
}

function opTypes(file: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const node of readGraph(readFileSync(file)).nodes) counts.set(node.opType, (counts.get(node.opType) ?? 0) + 1);
  return counts;
}

const IDS = [1, 17, 250, 36, 4, 411, 90, 61, 5];

describe('decoder graph styles', () => {
  it.each(CASES)('%s %s: the ops of the style, and the contract I/O', async (style, family) => {
    const info = dirs.get(key(style, family))!;
    const layers = info.dims.text.numLayers;
    const ops = opTypes(graphPath(info.dir, 'decoder_model_merged', 'fp32'));
    // One plain norm on the embeddings; every later norm fused with the residual add before it (2 per layer).
    expect(ops.get('SimplifiedLayerNormalization')).toBe(1);
    expect(ops.get('SkipSimplifiedLayerNormalization')).toBe(2 * layers);
    expect(ops.get('ReduceMean')).toBeUndefined();
    if (style === 'fused') {
      expect(ops.get('RotaryEmbedding')).toBe(family === 'smolvlm' ? 2 * layers : undefined);
      expect(ops.get('Softmax')).toBe(layers);
      expect(ops.get('GroupQueryAttention')).toBeUndefined();
    } else {
      expect(ops.get('GroupQueryAttention')).toBe(layers);
      expect(ops.get('Softmax')).toBeUndefined();
      expect(ops.get('Expand')).toBeUndefined();
      // Packed QKV for Llama (q, k, v, o, gate, up, down → 5 MatMuls a layer, + LM head); Qwen keeps q, k, v apart.
      expect(ops.get('MatMul')).toBe((family === 'smolvlm' ? 5 : 7) * layers + 1);
      expect(opTypes(graphPath(info.dir, 'embed_tokens', 'q4')).get('GatherBlockQuantized')).toBe(1);
      expect(opTypes(graphPath(info.dir, 'decoder_model_merged', 'q4')).get('MatMulNBits')).toBe((family === 'smolvlm' ? 5 : 7) * layers + 1);
    }
    for (const p of STYLE_PRECISIONS[style]) {
      const float = isHalf(p) ? 'float16' : 'float32';
      const signature = ioSignature(await sessions.get(graphPath(info.dir, 'decoder_model_merged', p)));
      expect(signature).toEqual(decoderSignature(info.dims.text, float, info.vocabSize, isQwen(info) ? '3,batch_size,sequence_length' : 'batch_size,sequence_length'));
    }
  });

  it.each(CASES)('%s %s: fp32 logits equal the float64 reference at every position', async (style, family) => {
    const info = dirs.get(key(style, family))!;
    const out = await run(info, 'fp32', IDS);
    const ref = reference(info, IDS);
    for (let pos = 0; pos < IDS.length; pos++) expect(maxAbsDiff(logitsAt(out, pos), Float32Array.from(ref[pos]!))).toBeLessThan(1e-3);
  });

  it.each(CASES_BY_PRECISION)('%s %s %s: prefill then two cached steps equal the full pass, and stay close to fp32', async (style, family, p) => {
    const info = dirs.get(key(style, family))!;
    const t = info.dims.text;
    const L = IDS.length - 2;
    const full = await run(info, p, IDS);
    const prefill = await run(info, p, IDS.slice(0, L));
    const step = await run(info, p, IDS.slice(L, L + 1), { past: prefill, pastLen: L });
    expect((step['present.0.key'] as ort.Tensor).dims).toEqual([1, t.numKvHeads, L + 1, t.headDim]);
    const last = await run(info, p, IDS.slice(L + 1), { past: step, pastLen: L + 1 });
    expect(maxAbsDiff(logitsAt(step, 0), logitsAt(full, L))).toBeLessThan(CACHED_STEP_TOLERANCE[p]);
    expect(maxAbsDiff(logitsAt(last, 0), logitsAt(full, L + 1))).toBeLessThan(CACHED_STEP_TOLERANCE[p]);
    // As the primitive fixtures' precisions: 4-bit blocks (weights and, in gqa, embeddings) carry the most noise.
    const minCos: Record<Precision, number> = { fp32: 1 - 1e-9, fp16: 0.999, q8: 0.995, q4: 0.85, q4f16: 0.85 };
    const fp32 = logitsAt(await run(info, 'fp32', IDS), IDS.length - 1);
    expect(cosine(logitsAt(full, IDS.length - 1), fp32)).toBeGreaterThan(minCos[p]);
  });

  it('gqa q4 embeddings: GatherBlockQuantized rows are the 4-bit blocks of the float table', async () => {
    const info = dirs.get(key('gqa', 'smolvlm'))!;
    const embed = async (p: Precision) =>
      f32((await (await sessions.get(graphPath(info.dir, 'embed_tokens', p))).run({ input_ids: i64(IDS, [1, IDS.length]) })).inputs_embeds as ort.Tensor);
    const exact = await embed('fp32');
    for (const p of ['q4', 'q4f16'] as const) {
      const got = await embed(p);
      expect(cosine(got, exact), p).toBeGreaterThan(0.98);
      // Within half a quantisation step of each block (max |x| / 7 / 2, and |x| ≤ 4 for these N(0, 1) rows).
      expect(maxAbsDiff(got, exact), p).toBeLessThan(0.35);
    }
  });

  it('the CLI writes each style and refuses q8 for gqa and an unknown style', async () => {
    const ok = await runScript('test/fixtures/cli.ts', ['--out', join(root, 'cli'), '--graph-style', 'gqa', '--precision', 'q4', '--family', 'qwen2_vl']);
    expect(ok.stdout).toMatch(/^wrote .*: qwen2_vl; q4; gqa graphs;/);
    const q8 = await runScript('test/fixtures/cli.ts', ['--out', join(root, 'cli-q8'), '--graph-style', 'gqa', '--precision', 'q8']);
    expect(q8.stderr.split('\n')[0]).toBe('fixtures: the gqa graph style has no q8 (the model builder writes fp32, fp16, q4 and q4f16)');
    const bad = await runScript('test/fixtures/cli.ts', ['--out', join(root, 'cli-bad'), '--graph-style', 'onnx']);
    expect(bad.stderr.split('\n')[0]).toBe("fixtures: unknown graph style 'onnx' (expected primitive, fused, gqa)");
  });
});
