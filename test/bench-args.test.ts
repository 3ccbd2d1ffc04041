/**
 * The bench's command line, its per-family plans and key scenarios, the model cache's stamp and eos patch, and the
 * Qwen images' token parity with transformers.js. Nothing here runs a model.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Qwen2VLImageProcessor, type RawImage } from '@huggingface/transformers';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../bench/args.js';
import { CAPTURE, qwenDetailSizes } from '../bench/images.js';
import { BENCH_PRECISIONS, ensureBenchModel, graphPath, qwenSource, type BenchModelSource } from '../bench/model.js';
import { benchPlan, DEFAULT_TYPING_MS, KEY_SCENARIOS, keyScenarios, QWEN_KEY_SCENARIOS, repeatsOf, sameScenario, type KeyScenarios, type Phase } from '../bench/plan.js';
import { aggregate, computeRatios, formatImageLine, goalsFor, GOALS, imageTokenParity } from '../bench/report.js';
import type { BenchFamily, Engine, RunResult, Scenario } from '../bench/types.js';

const root = mkdtempSync(path.join(tmpdir(), 'bench-args-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('bench arguments', () => {
  it('defaults to SmolVLM on the CPU with its cached model, as before', () => {
    const args = parseBenchArgs([])!;
    expect(args).toMatchObject({ quick: false, reliability: false, json: false, family: 'smolvlm', layers: undefined, device: 'cpu' });
    expect(parseBenchArgs(['--reliability'])!.reliability).toBe(true);
    expect(args.modelDir).toBe(path.resolve('.cache/bench/smolvlm-256m'));
    expect(parseBenchArgs(['--help'])).toBeUndefined();
  });

  it('Qwen defaults to 4 layers, cached per layer count; --model-dir and --device pass through', () => {
    const qwen = parseBenchArgs(['--family', 'qwen2.5-vl', '--quick'])!;
    expect(qwen).toMatchObject({ quick: true, family: 'qwen2.5-vl', layers: 4, device: 'cpu' });
    expect(qwen.modelDir).toBe(path.resolve('.cache/bench/qwen2.5-vl-3b-L4'));
    expect(parseBenchArgs(['--family', 'qwen2.5-vl', '--layers', '36'])!.modelDir).toBe(path.resolve('.cache/bench/qwen2.5-vl-3b-L36'));
    expect(parseBenchArgs(['--family', 'qwen2.5-vl', '--model-dir', 'x'])!.modelDir).toBe(path.resolve('x'));
    expect(parseBenchArgs(['--device', 'cuda', '--threads', '3'])).toMatchObject({ device: 'cuda', threads: 3 });
    expect(parseBenchArgs([])!.typingMs).toBe(10_000);
    expect(parseBenchArgs(['--typing-ms', '2500'])!.typingMs).toBe(2500);
    expect(() => parseBenchArgs(['--typing-ms=-1'])).toThrow(/--typing-ms must be a whole number of milliseconds/);
  });

  it('refuses bad values in one line', () => {
    expect(() => parseBenchArgs(['--layers', '8'])).toThrow('--layers applies to --family qwen2.5-vl only');
    for (const layers of ['0', '37', '2.5', 'four']) {
      expect(() => parseBenchArgs(['--family', 'qwen2.5-vl', '--layers', layers])).toThrow(/--layers must be a whole number from 1 to 36/);
    }
    expect(() => parseBenchArgs(['--family', 'qwen2-vl'])).toThrow('--family must be one of smolvlm, qwen2.5-vl, got qwen2-vl');
    expect(() => parseBenchArgs(['--device', 'auto'])).toThrow('--device must be one of cpu, webgpu, cuda, got auto');
    expect(() => parseBenchArgs(['--threads', '0'])).toThrow(/--threads/);
    expect(() => parseBenchArgs(['--frobnicate'])).toThrow();
    expect(() => qwenSource(0)).toThrow(/1 to 36/);
  });
});

/** Planned runs per engine of one scenario, over every phase. */
function planned(plan: Phase[], engine: Engine, scenario: Scenario): number {
  return plan
    .flatMap((phase) => phase.scenarios)
    .filter((s) => sameScenario(s, scenario))
    .reduce((sum, s) => sum + repeatsOf(engine, s), 0);
}

describe('bench plans', () => {
  it('the SmolVLM plan is the default one', () => {
    for (const quick of [true, false]) expect(benchPlan(quick, 'smolvlm')).toEqual(benchPlan(quick));
    expect(keyScenarios('smolvlm')).toBe(KEY_SCENARIOS);
    expect(keyScenarios('qwen2.5-vl')).toBe(QWEN_KEY_SCENARIOS);
  });

  const cases: [BenchFamily, boolean][] = [
    ['smolvlm', true],
    ['smolvlm', false],
    ['qwen2.5-vl', true],
    ['qwen2.5-vl', false],
  ];
  it.each(cases)('%s (quick %s) runs every key scenario with the engines its ratios need', (family, quick) => {
    const plan = benchPlan(quick, family);
    const k = keyScenarios(family);
    expect(planned(plan, 'ours', k.cachedFp32)).toBeGreaterThan(0);
    expect(planned(plan, 'ours', k.uncachedFp32)).toBeGreaterThan(0);
    for (const s of [k.q8Low, k.q8High]) {
      expect(planned(plan, 'ours', s)).toBeGreaterThan(0);
      expect(planned(plan, 'transformers.js', s)).toBeGreaterThan(0);
    }
    expect(planned(plan, 'ours-stock', k.q8High)).toBeGreaterThan(0);
    const followUps = plan.flatMap((p) => p.scenarios).filter((s) => s.followUp);
    expect(followUps.some((s) => sameScenario(s, k.q8Low) && s.oursRepeats > 0)).toBe(true);
    // A phase loads the engines at one precision: its scenarios must all be at that precision.
    for (const phase of plan) for (const s of phase.scenarios) expect(s.precision).toBe(phase.precision);
    // The read-ahead runs: typed at both details, and an impatient one, ours only; a first high question to compare.
    for (const s of [{ ...k.q8Low, readAheadMs: DEFAULT_TYPING_MS }, { ...k.q8High, readAheadMs: DEFAULT_TYPING_MS }, { ...k.q8High, readAheadMs: 0 }]) {
      expect(planned(plan, 'ours', s)).toBeGreaterThan(0);
      expect(planned(plan, 'transformers.js', s) + planned(plan, 'ours-stock', s)).toBe(0);
    }
    expect(planned(plan, 'ours', k.q8High)).toBeGreaterThanOrEqual(2);
    expect(planned(benchPlan(quick, family, 2500), 'ours', { ...k.q8Low, readAheadMs: 2500 })).toBeGreaterThan(0);
  });

  it('Qwen runs high detail one engine at a time, and its uncached pair decodes 32 tokens', () => {
    for (const quick of [true, false]) {
      const high = benchPlan(quick, 'qwen2.5-vl').filter((p) => p.scenarios.some((s) => s.detail === 'high'));
      expect(high.length).toBe(3);
      for (const phase of high) {
        const engines = (['ours', 'ours-stock', 'transformers.js'] as const).filter((e) => phase.scenarios.some((s) => repeatsOf(e, s) > 0));
        expect(engines).toHaveLength(1);
      }
    }
    expect(QWEN_KEY_SCENARIOS.uncachedFp32).toEqual({ ...QWEN_KEY_SCENARIOS.cachedFp32, cache: 'off' });
    expect(QWEN_KEY_SCENARIOS.cachedFp32.maxNewTokens).toBe(32);
  });
});

describe('goals and ratios per family', () => {
  it("describes SmolVLM's goals and Qwen's with its own scenarios", () => {
    expect(goalsFor(KEY_SCENARIOS)).toEqual(GOALS);
    expect(Object.fromEntries(Object.entries(GOALS).map(([name, g]) => [name, g.what]))).toEqual({
      cachedVsUncached: 'decode tok/s, fp32, low detail, 128 new: cache on / cache off',
      vsTransformersJsLow: 'decode tok/s, q8, low detail, 128 new: ours / transformers.js',
      vsTransformersJsHigh: 'decode tok/s, q8, high detail, 128 new: ours / transformers.js',
      rooflineFraction: 'decode tok/s, fp32, low detail, 128 new: ours / bandwidth roofline',
      rooflineFractionQ8Low: 'decode tok/s, q8, low detail, 128 new: ours / bandwidth roofline',
      ttftLowMs: 'time to first token, ours, q8, low detail (ms)',
      followUpTtftRatio: 'second ask on the same conversation: TTFT / first TTFT (ours, q8, low)',
      rewriteSpeedupHigh: 'decode tok/s, q8, high detail, 128 new: rewritten decoder / stock graph',
      preReadTtftHigh: 'TTFT from the ask, ours, q8, high detail: capture read while typing / not read ahead',
      preReadTtftLow: 'TTFT from the ask, ours, q8, low detail: capture read while typing / not read ahead',
      impatientTtftHigh: 'TTFT, ours, q8, high detail: asked at once after the capture (read-ahead under way) / not read ahead',
      peakRssHighVsTransformersJs: 'peak RSS, q8 (runs up to high detail): ours / transformers.js',
      coldHighTtftPenalty: 'TTFT of the first high-detail question after the load / the later ones (ours, q8, no read-ahead)',
      loadVsTransformersJs: 'load time, q8 (loadModel / from_pretrained, median over workers): ours / transformers.js',
    });
    const qwen = goalsFor(QWEN_KEY_SCENARIOS);
    expect(qwen.cachedVsUncached.what).toBe('decode tok/s, fp32, low detail, 32 new: cache on / cache off');
    expect(qwen.cachedVsUncached.target).toBe(GOALS.cachedVsUncached.target);
  });

  it('computes the ratios from the key scenarios it is given', () => {
    const run = (engine: Engine, scenario: Scenario, decodeTokensPerSecond: number): RunResult => ({
      engine,
      scenario,
      imageEncodeMs: 400,
      prefillMs: 300,
      ttftMs: 700,
      decodeTokensPerSecond,
      promptTokens: 530,
      imageTokens: 480,
      generatedTokens: scenario.maxNewTokens,
      stopReason: 'max-new-tokens',
      loadAverage: 1,
    });
    const k: KeyScenarios = QWEN_KEY_SCENARIOS;
    const runs = [run('ours', k.cachedFp32, 11), run('ours', k.uncachedFp32, 1), run('ours', k.q8Low, 40), run('transformers.js', k.q8Low, 20)];
    const model = { decoderWeightBytes: { fp32: 2.48e9, q8: 0.62e9, q4: 0.39e9 }, kvBytesPerContextToken: { fp32: 8192, q8: 8192, q4: 8192 } };
    const rows = aggregate(runs, model, 28);
    const ratios = computeRatios(rows, runs, 28, k);
    expect(ratios.cachedVsUncached).toBe(11);
    expect(ratios.vsTransformersJsLow).toBe(2);
    expect(ratios.ttftLowMs).toBe(700);
    // With SmolVLM's key scenarios (128 new tokens) none of these runs match.
    expect(computeRatios(rows, runs, 28).cachedVsUncached).toBeNull();
  });
});

describe('Qwen images', () => {
  it("are the capture at our per-detail size, which transformers.js's default max_pixels keeps: equal image tokens", () => {
    const dir = path.join(root, 'qwen-pre');
    mkdirSync(dir);
    const config = { min_pixels: 3136, max_pixels: 12845056, patch_size: 14, merge_size: 2, temporal_patch_size: 2, resample: 3 };
    writeFileSync(path.join(dir, 'preprocessor_config.json'), JSON.stringify(config));
    const sizes = qwenDetailSizes(dir, CAPTURE['qwen2.5-vl']);
    expect(sizes).toEqual({ low: { width: 840, height: 448 }, high: { width: 1288, height: 728 } });
    const theirs = new Qwen2VLImageProcessor({ ...config, do_resize: true, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] });
    for (const { width, height } of Object.values(sizes)) {
      expect(theirs.get_resize_output_image_size({ width, height } as RawImage, undefined)).toEqual([width, height]);
    }
    // Image tokens: one per 28×28 block.
    expect((sizes.low.width / 28) * (sizes.low.height / 28)).toBe(480);
    expect((sizes.high.width / 28) * (sizes.high.height / 28)).toBe(1196);
  });

  it('the report states the per-detail token counts of both engines, and flags a difference', () => {
    const r = (engine: Engine, detail: 'low' | 'high', imageTokens: number) =>
      ({ engine, imageTokens, scenario: { ...QWEN_KEY_SCENARIOS.q8Low, detail } }) as RunResult;
    const equal = imageTokenParity([r('ours', 'low', 480), r('transformers.js', 'low', 480), r('ours-stock', 'high', 1196), r('ours', 'high', 1196)]);
    expect(equal).toEqual([
      { detail: 'low', ours: [480], transformersJs: [480], equal: true },
      { detail: 'high', ours: [1196], transformersJs: [], equal: null },
    ]);
    const line = formatImageLine({
      image: { width: 1280, height: 720 },
      detailImages: { low: { file: 'l', width: 840, height: 448 }, high: { file: 'h', width: 1288, height: 728 } },
      question: 'q',
      imageTokenParity: imageTokenParity([r('ours', 'low', 480), r('transformers.js', 'low', 480), r('ours', 'high', 1196), r('transformers.js', 'high', 2691)]),
    });
    expect(line).toContain('low 840×448, high 1288×728');
    expect(line).toContain('low 480 ours, 480 transformers.js (equal); high 1,196 ours, 2,691 transformers.js (DIFFERENT)');
    expect(formatImageLine({ image: { file: 'x', width: 1920, height: 1080 }, question: 'q', imageTokenParity: [] })).toBe(
      'image: 1920×1080 screenshot-like PNG; question: "q"',
    );
  });
});

describe('bench model cache', () => {
  /** A stand-in source: tiny files in the layout, with Qwen's eos fields (top level and text_config). */
  function fakeSource(seed: number, calls: { n: number }): BenchModelSource {
    return {
      options: { benchFormat: 1, seed, size: 'fake', family: 'qwen2_5_vl', layers: 2, precisions: BENCH_PRECISIONS },
      shapes: 'fake shapes',
      vocabSize: 100,
      text: { numLayers: 2, numKvHeads: 1, headDim: 4 },
      jsonFiles: ['config.json', 'generation_config.json', 'chat_template.json'],
      async generate(dir) {
        calls.n++;
        mkdirSync(path.join(dir, 'onnx'), { recursive: true });
        writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ eos_token_id: 7, text_config: { eos_token_id: 7, hidden_size: 8 } }));
        writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [7, 8], do_sample: true }));
        writeFileSync(path.join(dir, 'chat_template.json'), '{}');
        for (const p of BENCH_PRECISIONS) {
          for (const g of ['embed_tokens', 'vision_encoder', 'decoder_model_merged'] as const) writeFileSync(graphPath(dir, g, p), 'x');
        }
        return { vocabSize: 100, onnxBytes: 9, seconds: 0 };
      },
    };
  }

  it('generates once, points every eos field at the last LM-head row, and regenerates when the options change', async () => {
    const dir = path.join(root, 'model');
    const calls = { n: 0 };
    const first = await ensureBenchModel(dir, fakeSource(1, calls));
    expect(first).toMatchObject({ generated: true, eosTokenId: 99, shapes: 'fake shapes' });
    const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(config.eos_token_id).toBe(99);
    expect(config.text_config).toEqual({ eos_token_id: 99, hidden_size: 8 });
    expect(JSON.parse(readFileSync(path.join(dir, 'generation_config.json'), 'utf8'))).toEqual({ eos_token_id: 99, do_sample: true });
    expect((await ensureBenchModel(dir, fakeSource(1, calls))).generated).toBe(false);
    expect(calls.n).toBe(1);
    expect((await ensureBenchModel(dir, fakeSource(2, calls))).generated).toBe(true);
    expect(calls.n).toBe(2);
    // A missing graph is rebuilt too.
    rmSync(graphPath(dir, 'decoder_model_merged', 'q4'));
    expect((await ensureBenchModel(dir, fakeSource(2, calls))).generated).toBe(true);
  });
});
