/** The bench's pure report logic: medians, the roofline formula, ratios, goals and the consistency checks. */
import { describe, expect, it } from 'vitest';
import { KEY_SCENARIOS } from '../bench/plan.js';
import {
  aggregate,
  buildReport,
  computeRatios,
  consistencyWarnings,
  evaluateGoals,
  formatGoals,
  formatReport,
  formatRows,
  kvBytesPerContextToken,
  median,
  noiseWarnings,
  renderTable,
  rooflineTokensPerSecond,
  summarizeFollowUp,
  type BenchInputs,
} from '../bench/report.js';
import type { Engine, RunResult, Scenario } from '../bench/types.js';

function run(engine: Engine, scenario: Scenario, overrides: Partial<RunResult> = {}): RunResult {
  const base: RunResult = {
    engine,
    scenario,
    imageEncodeMs: 500,
    prefillMs: 100,
    ttftMs: 600,
    decodeTokensPerSecond: 50,
    promptTokens: 90,
    imageTokens: 64,
    generatedTokens: scenario.maxNewTokens,
    stopReason: 'max-new-tokens',
    loadAverage: 2,
  };
  const engineStats =
    engine === 'ours'
      ? {
          imageEncodeMs: 500,
          prefillMs: 100,
          timeToFirstTokenMs: overrides.ttftMs ?? 600,
          decodeTokensPerSecond: overrides.decodeTokensPerSecond ?? 50,
          generatedTokens: overrides.generatedTokens ?? scenario.maxNewTokens,
          precision: scenario.precision,
          provider: 'cpu',
          cache: scenario.cache,
        }
      : undefined;
  return { ...base, ...(engineStats ? { engineStats } : {}), ...overrides };
}

const model = {
  decoderWeightBytes: { fp32: 540e6, q8: 136e6, q4: 84e6 },
  kvBytesPerContextToken: { fp32: 46_080, q8: 46_080, q4: 46_080 },
};

const k = KEY_SCENARIOS;

describe('bench report', () => {
  it('median handles odd, even and empty inputs', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('roofline: bandwidth over weight bytes plus KV bytes at the mean context', () => {
    // 30 GB/s over 540 MB of weights and 46,080 B × (90 + 128/2) = 7.1 MB of KV.
    const tps = rooflineTokensPerSecond({
      bandwidthBytesPerSecond: 30e9,
      weightBytes: 540e6,
      kvBytesPerContextToken: 46_080,
      promptTokens: 90,
      generatedTokens: 128,
    });
    expect(tps).toBeCloseTo(30e9 / (540e6 + 46_080 * 154), 6);
    expect(kvBytesPerContextToken({ numLayers: 30, numKvHeads: 3, headDim: 64 }, 2)).toBe(23_040); // 22.5 KB, as in the notes
  });

  it('aggregates medians per engine and scenario, with a roofline only for cached decoding', () => {
    const rows = aggregate(
      [
        run('ours', k.cachedFp32, { decodeTokensPerSecond: 30 }),
        run('ours', k.cachedFp32, { decodeTokensPerSecond: 40 }),
        run('ours', k.cachedFp32, { decodeTokensPerSecond: 35 }),
        run('ours', k.uncachedFp32, { decodeTokensPerSecond: 2 }),
      ],
      model,
      30,
    );
    expect(rows).toHaveLength(2);
    const cached = rows.find((r) => r.cache === 'on')!;
    expect(cached.runs).toBe(3);
    expect(cached.decodeTokensPerSecond).toBe(35);
    expect(cached.rooflineFraction).toBeCloseTo(35 / cached.rooflineTokensPerSecond!, 9);
    expect(rows.find((r) => r.cache === 'off')!.rooflineTokensPerSecond).toBeNull();
  });

  it('computes every ratio from the key scenarios, and null where runs are missing', () => {
    const runs = [
      run('ours', k.cachedFp32, { decodeTokensPerSecond: 40 }),
      run('ours', k.uncachedFp32, { decodeTokensPerSecond: 2 }),
      run('ours', k.q8Low, { decodeTokensPerSecond: 80, ttftMs: 800, followUp: { ttftMs: 40, imageEncodeMs: 0, prefillMs: 40, promptTokens: 250, reusedPromptTokens: 200, engineTtftMs: 40 } }),
      run('transformers.js', k.q8Low, { decodeTokensPerSecond: 40 }),
      run('ours', k.q8High, { decodeTokensPerSecond: 30 }),
    ];
    const rows = aggregate(runs, model, 30);
    const ratios = computeRatios(rows, runs, 30);
    expect(ratios.cachedVsUncached).toBe(20);
    expect(ratios.vsTransformersJsLow).toBe(2);
    expect(ratios.vsTransformersJsHigh).toBeNull(); // no transformers.js high-detail run
    expect(ratios.ttftLowMs).toBe(800);
    expect(ratios.followUpTtftRatio).toBeCloseTo(0.05, 9);
    expect(ratios.rooflineFraction).toBeCloseTo(40 / rows.find((r) => r.cache === 'on' && r.precision === 'fp32')!.rooflineTokensPerSecond!, 9);
    expect(computeRatios(rows, runs, null).rooflineFraction).toBeNull();
    expect(ratios.rooflineFractionQ8Low).toBeCloseTo(80 / rows.find((r) => r.engine === 'ours' && r.precision === 'q8' && r.detail === 'low')!.rooflineTokensPerSecond!, 9);
    expect(ratios.loadVsTransformersJs).toBeNull(); // no workers given
    expect([ratios.preReadTtftHigh, ratios.preReadTtftLow, ratios.impatientTtftHigh, ratios.peakRssHighVsTransformersJs, ratios.coldHighTtftPenalty]).toEqual([
      null,
      null,
      null,
      null,
      null,
    ]);
  });

  it('read-ahead, memory and cold-start ratios: typed vs not read ahead, the first high-detail question vs the later ones', () => {
    const runs = [
      run('ours', k.q8High, { ttftMs: 9000, firstHighSinceLoad: true }),
      run('ours', k.q8High, { ttftMs: 7000 }),
      run('ours', k.q8High, { ttftMs: 8000 }),
      run('ours', { ...k.q8High, readAheadMs: 10_000 }, { ttftMs: 150 }),
      run('ours', { ...k.q8High, readAheadMs: 0 }, { ttftMs: 7600 }),
      run('ours', k.q8Low, { ttftMs: 500 }),
      run('ours', { ...k.q8Low, readAheadMs: 10_000 }, { ttftMs: 40 }),
    ];
    const rows = aggregate(runs, model, 30);
    // The impatient row is its own row, not folded into either.
    expect(rows.filter((r) => r.detail === 'high').map((r) => r.readAheadMs)).toEqual([undefined, 10_000, 0]);
    const workers = [
      { engine: 'ours', precision: 'q8', loadMs: 1200, peakRssBytes: 1.5e9 },
      { engine: 'transformers.js', precision: 'q8', loadMs: 1000, peakRssBytes: 2e9 },
      { engine: 'transformers.js', precision: 'q8', loadMs: 2000, peakRssBytes: 3e9 },
    ] as const;
    const ratios = computeRatios(rows, runs, 30, k, workers);
    expect(ratios.preReadTtftHigh).toBeCloseTo(150 / 8000, 9);
    expect(ratios.preReadTtftLow).toBeCloseTo(40 / 500, 9);
    expect(ratios.impatientTtftHigh).toBeCloseTo(7600 / 8000, 9); // asked at once: the impatient row against the median without read-ahead
    expect(ratios.peakRssHighVsTransformersJs).toBeCloseTo(0.5, 9);
    expect(ratios.loadVsTransformersJs).toBeCloseTo(1200 / 1500, 9); // transformers.js: the median of its two workers
    expect(ratios.coldHighTtftPenalty).toBeCloseTo(9000 / 7500, 9);
    expect(formatRows(rows)).toMatch(/typing/);
  });

  it('evaluates goals in both directions and never fails on a missed or missing one', () => {
    const goals = evaluateGoals(
      {
        cachedVsUncached: 12,
        vsTransformersJsLow: 1.2,
        vsTransformersJsHigh: null,
        rooflineFraction: 0.8,
        rooflineFractionQ8Low: 0.4,
        ttftLowMs: 1200,
        followUpTtftRatio: 0.05,
        rewriteSpeedupHigh: 1.5,
        preReadTtftHigh: 0.02,
        preReadTtftLow: 0.2,
        impatientTtftHigh: 1.02,
        peakRssHighVsTransformersJs: 0.7,
        coldHighTtftPenalty: 1.1,
        loadVsTransformersJs: 1,
      },
      { vsTransformersJsHigh: 'transformers.js failed' },
    );
    const byName = Object.fromEntries(goals.map((g) => [g.name, g]));
    expect(byName.cachedVsUncached!.met).toBe(true);
    expect(byName.vsTransformersJsLow!.met).toBe(false);
    expect(byName.vsTransformersJsHigh!.met).toBeNull();
    expect(byName.vsTransformersJsHigh!.reason).toBe('transformers.js failed');
    expect(byName.ttftLowMs!.met).toBe(false); // ≤ 1000 ms
    expect(byName.followUpTtftRatio!.met).toBe(true); // ≤ 0.1
    expect([byName.preReadTtftHigh!.met, byName.preReadTtftLow!.met, byName.impatientTtftHigh!.met]).toEqual([true, false, false]); // ≤ 0.05, ≤ 0.1, ≤ 1
    expect([byName.peakRssHighVsTransformersJs!.met, byName.coldHighTtftPenalty!.met]).toEqual([false, true]); // ≤ 0.6, ≤ 1.2
    expect([byName.rooflineFraction!.met, byName.rooflineFractionQ8Low!.met, byName.loadVsTransformersJs!.met]).toEqual([true, false, true]); // ≥ 0.8, ≥ 0.45, ≤ 1
    const table = formatGoals(goals);
    expect(table).toContain('NOT met');
    expect(table).toContain('not measured');
    expect(table).toContain('≤ 1000 ms');
  });

  it('flags early stops, stats that disagree with the bench clock, and prompts that differ between engines', () => {
    const warnings = consistencyWarnings([
      run('ours', k.q8Low, { generatedTokens: 17, stopReason: 'eos' }),
      run('ours', k.q8High, { engineStats: { ...run('ours', k.q8High).engineStats!, decodeTokensPerSecond: 80 } }),
      run('transformers.js', k.q8High, { promptTokens: 91 }),
    ]);
    expect(warnings.some((w) => w.includes('produced 17 tokens, not 128'))).toBe(true);
    expect(warnings.some((w) => w.includes('stats decodeTokensPerSecond 80.0 vs 50.0'))).toBe(true);
    expect(warnings.some((w) => w.includes('transformers.js 91'))).toBe(true);
    expect(consistencyWarnings([run('ours', k.q8Low), run('transformers.js', k.q8Low)])).toEqual([]);
  });

  it('flags rows measured while other processes took a large share of the machine', () => {
    const noisy = run('ours', k.cachedFp32, { noise: { otherCpuFraction: 0.39, stealFraction: 0 } });
    const quiet = run('ours', k.q8Low, { noise: { otherCpuFraction: 0.01, stealFraction: 0 } });
    const rows = aggregate([noisy, quiet], model, 30);
    expect(rows.find((r) => r.precision === 'fp32')!.otherCpuFraction).toBe(0.39);
    expect(noiseWarnings(rows)).toEqual([expect.stringContaining('other processes took 39% of the machine')]);
  });

  it('reports a follow-up as not measured when no run asked one, and says how much came from the cache', () => {
    expect(summarizeFollowUp([run('ours', k.q8Low)]).measured).toBe(false);
    const followUp = summarizeFollowUp([
      run('ours', k.q8Low, {
        followUp: { ttftMs: 50, imageEncodeMs: 0, prefillMs: 50, promptTokens: 111, reusedPromptTokens: 90, engineTtftMs: 50 },
      }),
    ]);
    expect(followUp.measured).toBe(true);
    expect(followUp.reusedPromptTokens).toBe(90);
    expect(followUp.note).toContain("90 of the follow-up's 111 prompt tokens came from it");
  });

  it('renders aligned tables and a full report with every goal', () => {
    expect(renderTable(['a', 'n'], [['x', '1'], ['yy', '22']], [false, true]).split('\n')).toEqual([
      'a    n',
      '--  --',
      'x    1',
      'yy  22',
    ]);
    const inputs: BenchInputs = {
      startedAt: '2026-01-01T00:00:00.000Z',
      durationSeconds: 100,
      quick: true,
      family: 'smolvlm',
      device: 'cpu',
      threads: 2,
      machine: {
        cpuModel: 'Test CPU',
        physicalCores: 2,
        logicalCores: 2,
        totalMemoryBytes: 8 * 2 ** 30,
        lastLevelCacheBytes: 32 * 2 ** 20,
        platform: 'linux',
        arch: 'x64',
        node: 'v20.0.0',
        onnxruntimeNode: '1.30.0',
        transformersJs: '4.3.1',
        loadAverageStart: [1, 1, 1],
        loadAverageEnd: [2, 2, 2],
      },
      model: { dir: '/m', shapes: 'SmolVLM-256M shapes', generated: false, generateSeconds: 0, eosTokenId: 49279, vocabSize: 49280, ...model },
      image: { file: '/i.png', width: 1920, height: 1080 },
      question: 'q',
      bandwidth: [
        { bytes: 2 ** 28, shape: [8192, 8192], lastLevelCacheBytes: 2 ** 25, repeats: 10, medianMs: 10, bestMs: 9, gbPerSecond: 26.8, bestGbPerSecond: 29.8 },
        { bytes: 2 ** 28, shape: [8192, 8192], lastLevelCacheBytes: 2 ** 25, repeats: 10, medianMs: 9, bestMs: 9, gbPerSecond: 29.8, bestGbPerSecond: 29.8 },
      ],
      runs: [run('ours', k.cachedFp32), run('ours', k.uncachedFp32, { decodeTokensPerSecond: 5 })],
      workers: [{ engine: 'ours', precision: 'fp32', loadMs: 1000, peakRssBytes: 2e9 }],
      errors: [],
    };
    const report = buildReport(inputs);
    expect(report.bandwidthGbPerSecond).toBe(29.8); // the quietest probe
    expect(report.ratios.cachedVsUncached).toBe(10);
    const text = formatReport(report);
    for (const name of ['cachedVsUncached', 'vsTransformersJsLow', 'vsTransformersJsHigh', 'rooflineFraction', 'ttftLowMs', 'followUpTtftRatio']) {
      expect(text).toContain(name);
    }
    expect(JSON.parse(JSON.stringify(report)).ratios.followUpTtftRatio).toBeNull();
  });
});

describe('decode-step profile', () => {
  it('counts kernels per op type over the decode runs only (not the prefill), per step', async () => {
    const { kernelsByOp } = await import('../bench/profile.js');
    const run = (ts: number, dur: number) => ({ cat: 'Session', name: 'model_run', ts, dur });
    const kernel = (ts: number, op: string, dur: number) => ({ cat: 'Node', name: `n${ts}_kernel_time`, ts, dur, args: { op_name: op } });
    const events = [
      run(0, 100), kernel(10, 'MatMul', 90), // the prefill: left out
      run(200, 50), kernel(210, 'MatMul', 20), kernel(230, 'Add', 4),
      run(300, 50), kernel(310, 'MatMul', 30), kernel(330, 'Add', 6),
      { cat: 'Node', name: 'n400_fence_before', ts: 320, dur: 1 },
    ];
    const { ops, kernelMs, kernelsPerStep } = kernelsByOp(events, 2);
    expect(ops).toEqual([
      { op: 'MatMul', msPerStep: 0.025, kernelsPerStep: 1 },
      { op: 'Add', msPerStep: 0.005, kernelsPerStep: 1 },
    ]);
    expect(kernelMs).toBeCloseTo(0.03, 9);
    expect(kernelsPerStep).toBe(2);
  });
});
