/**
 * Turns raw runs into the bench's figures: medians per scenario, roofline, the ratios and their goals, consistency
 * checks, and the readable table / JSON. Pure functions only (no clocks, no I/O), so they can be unit-tested.
 */
import type { BandwidthResult } from './bandwidth.js';
import type { GraphStyle } from '../test/fixtures/shared/decoder-styles.js';
import type { ImageInfo } from './images.js';
import type { BenchPrecision } from './model.js';
import type { StepProfile } from './profile.js';
import { KEY_SCENARIOS, keyScenarios, sameScenario, type KeyScenarios } from './plan.js';
import type { BenchDevice, BenchFamily, Detail, Engine, RunResult, Scenario, WorkerSummary } from './types.js';

export interface MachineInfo {
  readonly cpuModel: string;
  readonly physicalCores: number;
  readonly logicalCores: number;
  readonly totalMemoryBytes: number;
  readonly lastLevelCacheBytes: number | undefined;
  readonly platform: string;
  readonly arch: string;
  readonly node: string;
  readonly onnxruntimeNode: string;
  readonly transformersJs: string;
  /** os.loadavg() (1, 5, 15 min) when the bench started and ended. */
  readonly loadAverageStart: readonly number[];
  readonly loadAverageEnd: readonly number[];
}

export interface ModelInfo {
  readonly dir: string;
  /** What the random weights are shaped like ("SmolVLM-256M shapes", …). */
  readonly shapes: string;
  readonly generated: boolean;
  readonly generateSeconds: number;
  readonly eosTokenId: number;
  readonly vocabSize: number;
  /** Decoder graph + its external data, per precision (see rooflineTokensPerSecond). */
  readonly decoderWeightBytes: Readonly<Record<BenchPrecision, number>>;
  /** K and V bytes of one context position across all layers, per precision. */
  readonly kvBytesPerContextToken: Readonly<Record<BenchPrecision, number>>;
}

export interface BenchInputs {
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly quick: boolean;
  readonly family: BenchFamily;
  /** The bench model's decoder graph style (absent: primitive). */
  readonly graphStyle?: GraphStyle;
  readonly device: BenchDevice;
  readonly threads: number;
  readonly machine: MachineInfo;
  readonly model: ModelInfo;
  /** The capture asked about (SmolVLM: the file both detail levels read; Qwen: its size, see detailImages). */
  readonly image: { readonly file?: string; readonly width: number; readonly height: number };
  /** Qwen: the capture pre-sized to our engine's budget for each detail level, which both engines read. */
  readonly detailImages?: Readonly<Record<Detail, ImageInfo>>;
  readonly question: string;
  readonly bandwidth: readonly BandwidthResult[];
  readonly runs: readonly RunResult[];
  readonly workers: readonly WorkerSummary[];
  /** Where one decode step's time goes (bench/profile.ts), when it was measured. */
  readonly profile?: StepProfile;
  readonly errors: readonly string[];
}

/** Medians of every run of one (engine, scenario). */
export interface Row
  extends Pick<Scenario, 'precision' | 'detail' | 'maxNewTokens' | 'cache' | 'readAheadMs'>,
    Pick<
      RunResult,
      'engine' | 'imageEncodeMs' | 'prefillMs' | 'ttftMs' | 'decodeTokensPerSecond' | 'promptTokens' | 'imageTokens' | 'generatedTokens'
    > {
  readonly runs: number;
  /** Bandwidth limit for this row's decode; null without the cache (recomputing the prompt is compute-bound). */
  readonly rooflineTokensPerSecond: number | null;
  readonly rooflineFraction: number | null;
  readonly loadAverage: number;
  /** Median share of the machine's CPU that other processes took during these runs (null off Linux). */
  readonly otherCpuFraction: number | null;
}

export const RATIO_NAMES = [
  'cachedVsUncached',
  'vsTransformersJsLow',
  'vsTransformersJsHigh',
  'rooflineFraction',
  'rooflineFractionQ8Low',
  'ttftLowMs',
  'followUpTtftRatio',
  'rewriteSpeedupHigh',
  'preReadTtftHigh',
  'preReadTtftLow',
  'impatientTtftHigh',
  'peakRssHighVsTransformersJs',
  'coldHighTtftPenalty',
  'loadVsTransformersJs',
] as const;
export type RatioName = (typeof RATIO_NAMES)[number];
export type Ratios = Record<RatioName, number | null>;

export interface Goal {
  readonly comparison: '>=' | '<=';
  readonly target: number;
  readonly what: string;
}

/** The goals, described with the key scenarios their figures come from (the targets are the same for every family). */
export function goalsFor(k: KeyScenarios): Readonly<Record<RatioName, Goal>> {
  const decode = (s: Scenario) => `decode tok/s, ${s.precision}, ${s.detail} detail, ${s.maxNewTokens} new`;
  return {
    cachedVsUncached: { comparison: '>=', target: 10, what: `${decode(k.cachedFp32)}: cache on / cache off` },
    vsTransformersJsLow: { comparison: '>=', target: 2, what: `${decode(k.q8Low)}: ours / transformers.js` },
    vsTransformersJsHigh: { comparison: '>=', target: 3, what: `${decode(k.q8High)}: ours / transformers.js` },
    rooflineFraction: { comparison: '>=', target: 0.8, what: `${decode(k.cachedFp32)}: ours / bandwidth roofline` },
    rooflineFractionQ8Low: { comparison: '>=', target: 0.45, what: `${decode(k.q8Low)}: ours / bandwidth roofline` },
    ttftLowMs: { comparison: '<=', target: 1000, what: `time to first token, ours, ${k.q8Low.precision}, ${k.q8Low.detail} detail (ms)` },
    followUpTtftRatio: {
      comparison: '<=',
      target: 0.1,
      what: `second ask on the same conversation: TTFT / first TTFT (ours, ${k.q8Low.precision}, ${k.q8Low.detail})`,
    },
    rewriteSpeedupHigh: { comparison: '>=', target: 1, what: `${decode(k.q8High)}: rewritten decoder / stock graph` },
    preReadTtftHigh: {
      comparison: '<=',
      target: 0.05,
      what: `TTFT from the ask, ours, ${k.q8High.precision}, ${k.q8High.detail} detail: capture read while typing / not read ahead`,
    },
    preReadTtftLow: {
      comparison: '<=',
      target: 0.1,
      what: `TTFT from the ask, ours, ${k.q8Low.precision}, ${k.q8Low.detail} detail: capture read while typing / not read ahead`,
    },
    impatientTtftHigh: {
      comparison: '<=',
      target: 1,
      what: `TTFT, ours, ${k.q8High.precision}, ${k.q8High.detail} detail: asked at once after the capture (read-ahead under way) / not read ahead`,
    },
    peakRssHighVsTransformersJs: {
      comparison: '<=',
      target: 0.6,
      what: `peak RSS, ${k.q8High.precision} (runs up to ${k.q8High.detail} detail): ours / transformers.js`,
    },
    coldHighTtftPenalty: {
      comparison: '<=',
      target: 1.2,
      what: `TTFT of the first ${k.q8High.detail}-detail question after the load / the later ones (ours, ${k.q8High.precision}, no read-ahead)`,
    },
    loadVsTransformersJs: {
      comparison: '<=',
      target: 1,
      what: `load time, ${k.q8Low.precision} (loadModel / from_pretrained, median over workers): ours / transformers.js`,
    },
  };
}

/** SmolVLM's goals (the default family). */
export const GOALS: Readonly<Record<RatioName, Goal>> = goalsFor(KEY_SCENARIOS);

export interface GoalResult extends Goal {
  readonly name: RatioName;
  readonly value: number | null;
  /** null when the figure could not be measured. */
  readonly met: boolean | null;
  readonly reason?: string;
}

export interface FollowUpSummary {
  readonly measured: boolean;
  readonly runs: number;
  readonly firstTtftMs: number | null;
  readonly followUpTtftMs: number | null;
  readonly followUpPromptTokens: number | null;
  /** Follow-up prompt tokens the conversation's KV cache already held. */
  readonly reusedPromptTokens: number | null;
  readonly imageReEncoded: boolean;
  readonly note: string;
}

export interface BenchReport extends BenchInputs {
  /** The highest of the probes' medians: the machine's bandwidth when it was quietest (see buildReport). */
  readonly bandwidthGbPerSecond: number | null;
  readonly rows: readonly Row[];
  readonly ratios: Ratios;
  readonly goals: readonly GoalResult[];
  readonly followUp: FollowUpSummary;
  /** Image tokens per detail level, ours against transformers.js, over every run. */
  readonly imageTokenParity: readonly ImageTokenParity[];
  /** Things in the figures that look wrong (engine stats that disagree with the bench's clock, early eos, …). */
  readonly warnings: readonly string[];
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Decode is memory-bound: each new token streams every decoder weight once and reads the K/V of every earlier
 * position once, so
 *
 *   roofline tok/s = bandwidth / (decoder weight bytes per token + KV bytes per context position × context length).
 *
 * Decoder weight bytes = the size of the decoder ONNX file plus its external data: initializers are nearly all of
 * it, all of them are read for every token (the LM head included, all vocab rows), and the embedding table is a
 * separate graph of which a token reads one row, so it is left out. Quantized files hold their scales and zero points
 * too, which the kernels do read. The KV term uses the mean context over the decode steps: step j (1 … N-1) attends
 * over prompt + j positions, and summing the per-step times gives tok/s = bandwidth / (W + kv × (prompt + N/2)).
 * It counts the ideal single read of the cache; an engine that copies K/V around each step pays more than this.
 */
export function rooflineTokensPerSecond(args: {
  readonly bandwidthBytesPerSecond: number;
  readonly weightBytes: number;
  readonly kvBytesPerContextToken: number;
  readonly promptTokens: number;
  readonly generatedTokens: number;
}): number {
  const meanContext = args.promptTokens + args.generatedTokens / 2;
  return args.bandwidthBytesPerSecond / (args.weightBytes + args.kvBytesPerContextToken * meanContext);
}

/** K and V, every layer, one position: layers × 2 × kv heads × head dim × element bytes. */
export function kvBytesPerContextToken(dims: { numLayers: number; numKvHeads: number; headDim: number }, elementBytes: number): number {
  return dims.numLayers * 2 * dims.numKvHeads * dims.headDim * elementBytes;
}

function scenarioKey(engine: Engine, s: Scenario): string {
  return `${engine}|${s.precision}|${s.detail}|${s.maxNewTokens}|${s.cache}|${s.readAheadMs ?? ''}`;
}

export function aggregate(
  runs: readonly RunResult[],
  model: Pick<ModelInfo, 'decoderWeightBytes' | 'kvBytesPerContextToken'>,
  bandwidthGbPerSecond: number | null,
): Row[] {
  const groups = new Map<string, RunResult[]>();
  for (const run of runs) {
    const key = scenarioKey(run.engine, run.scenario);
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  return [...groups.values()].map((group) => {
    const { engine, scenario } = group[0]!;
    const m = (pick: (r: RunResult) => number) => median(group.map(pick));
    const promptTokens = m((r) => r.promptTokens);
    const generatedTokens = m((r) => r.generatedTokens);
    const decodeTokensPerSecond = m((r) => r.decodeTokensPerSecond);
    const roofline =
      scenario.cache === 'on' && bandwidthGbPerSecond !== null
        ? rooflineTokensPerSecond({
            bandwidthBytesPerSecond: bandwidthGbPerSecond * 1e9,
            weightBytes: model.decoderWeightBytes[scenario.precision],
            kvBytesPerContextToken: model.kvBytesPerContextToken[scenario.precision],
            promptTokens,
            generatedTokens,
          })
        : null;
    return {
      engine,
      precision: scenario.precision,
      detail: scenario.detail,
      maxNewTokens: scenario.maxNewTokens,
      cache: scenario.cache,
      ...(scenario.readAheadMs !== undefined ? { readAheadMs: scenario.readAheadMs } : {}),
      runs: group.length,
      imageEncodeMs: m((r) => r.imageEncodeMs),
      prefillMs: m((r) => r.prefillMs),
      ttftMs: m((r) => r.ttftMs),
      decodeTokensPerSecond,
      promptTokens,
      imageTokens: m((r) => r.imageTokens),
      generatedTokens,
      rooflineTokensPerSecond: roofline,
      rooflineFraction: roofline ? decodeTokensPerSecond / roofline : null,
      loadAverage: m((r) => r.loadAverage),
      otherCpuFraction: group.every((r) => r.noise) ? m((r) => r.noise!.otherCpuFraction) : null,
    };
  });
}

function findRow(rows: readonly Row[], engine: Engine, s: Scenario): Row | undefined {
  return rows.find((r) => r.engine === engine && sameScenario(r, s));
}

function ratio(a: number | undefined, b: number | undefined): number | null {
  return a === undefined || b === undefined || !(b > 0) || !Number.isFinite(a) ? null : a / b;
}

export function summarizeFollowUp(runs: readonly RunResult[]): FollowUpSummary {
  const pairs = runs.filter((r) => r.engine === 'ours' && r.followUp);
  if (pairs.length === 0) {
    return {
      measured: false,
      runs: 0,
      firstTtftMs: null,
      followUpTtftMs: null,
      followUpPromptTokens: null,
      reusedPromptTokens: null,
      imageReEncoded: false,
      note: 'not measured: no run asked a follow-up question',
    };
  }
  const imageReEncoded = pairs.some((r) => r.followUp!.imageEncodeMs > 0);
  const followUpPromptTokens = median(pairs.map((r) => r.followUp!.promptTokens));
  const reusedPromptTokens = median(pairs.map((r) => r.followUp!.reusedPromptTokens));
  return {
    measured: true,
    runs: pairs.length,
    firstTtftMs: median(pairs.map((r) => r.ttftMs)),
    followUpTtftMs: median(pairs.map((r) => r.followUp!.ttftMs)),
    followUpPromptTokens,
    reusedPromptTokens,
    imageReEncoded,
    note:
      'second conversation.ask on the same conversation. The engine keeps the encoded image ' +
      (imageReEncoded ? '(but this run re-encoded it!) ' : '(image encode 0 ms) ') +
      `and its KV cache: ${reusedPromptTokens} of the follow-up's ${followUpPromptTokens} prompt tokens came from it ` +
      '(the image and the first question; the answer is read again as the chat template writes it).',
  };
}

/** TTFT with the capture read while the user typed (the longest pause run) over TTFT without (ours). */
function preReadRatio(rows: readonly Row[], s: Scenario): number | null {
  const typed = rows.filter((r) => r.engine === 'ours' && (r.readAheadMs ?? 0) > 0 && sameScenario({ ...r, readAheadMs: undefined }, s));
  const longest = typed.sort((a, b) => (b.readAheadMs ?? 0) - (a.readAheadMs ?? 0))[0];
  return ratio(longest?.ttftMs, findRow(rows, 'ours', s)?.ttftMs);
}

/** Highest peak RSS of an engine's workers at a precision (Qwen's high detail runs each engine in a worker of its own). */
export function peakRss(workers: readonly WorkerSummary[], engine: Engine, precision: Scenario['precision']): number | undefined {
  const peaks = workers.filter((w) => w.engine === engine && w.precision === precision).map((w) => w.peakRssBytes);
  return peaks.length ? Math.max(...peaks) : undefined;
}

/** Median load time of an engine's workers at a precision (each worker loads once). */
export function loadMs(workers: readonly WorkerSummary[], engine: Engine, precision: Scenario['precision']): number | undefined {
  const loads = workers.filter((w) => w.engine === engine && w.precision === precision).map((w) => w.loadMs);
  return loads.length ? median(loads) : undefined;
}

export function computeRatios(
  rows: readonly Row[],
  runs: readonly RunResult[],
  bandwidthGbPerSecond: number | null,
  k: KeyScenarios = KEY_SCENARIOS,
  workers: readonly WorkerSummary[] = [],
): Ratios {
  const tps = (engine: Engine, s: Scenario) => findRow(rows, engine, s)?.decodeTokensPerSecond;
  const q8LowTtft = runs
    .filter(
      (r) =>
        r.engine === 'ours' &&
        r.scenario.precision === k.q8Low.precision &&
        r.scenario.detail === k.q8Low.detail &&
        r.scenario.cache === k.q8Low.cache,
    )
    .map((r) => r.ttftMs);
  const followUp = runs.filter((r) => r.engine === 'ours' && r.followUp).map((r) => r.followUp!.ttftMs / r.ttftMs);
  const cachedFp32 = findRow(rows, 'ours', k.cachedFp32);
  const highRuns = runs.filter((r) => r.engine === 'ours' && sameScenario(r.scenario, k.q8High));
  const cold = highRuns.filter((r) => r.firstHighSinceLoad).map((r) => r.ttftMs);
  const later = highRuns.filter((r) => !r.firstHighSinceLoad).map((r) => r.ttftMs);
  return {
    cachedVsUncached: ratio(tps('ours', k.cachedFp32), tps('ours', k.uncachedFp32)),
    vsTransformersJsLow: ratio(tps('ours', k.q8Low), tps('transformers.js', k.q8Low)),
    vsTransformersJsHigh: ratio(tps('ours', k.q8High), tps('transformers.js', k.q8High)),
    rooflineFraction: bandwidthGbPerSecond === null ? null : (cachedFp32?.rooflineFraction ?? null),
    rooflineFractionQ8Low: bandwidthGbPerSecond === null ? null : (findRow(rows, 'ours', k.q8Low)?.rooflineFraction ?? null),
    ttftLowMs: q8LowTtft.length ? median(q8LowTtft) : null,
    followUpTtftRatio: followUp.length ? median(followUp) : null,
    rewriteSpeedupHigh: ratio(tps('ours', k.q8High), tps('ours-stock', k.q8High)),
    preReadTtftHigh: preReadRatio(rows, k.q8High),
    preReadTtftLow: preReadRatio(rows, k.q8Low),
    impatientTtftHigh: ratio(findRow(rows, 'ours', { ...k.q8High, readAheadMs: 0 })?.ttftMs, findRow(rows, 'ours', k.q8High)?.ttftMs),
    peakRssHighVsTransformersJs: ratio(peakRss(workers, 'ours', k.q8High.precision), peakRss(workers, 'transformers.js', k.q8High.precision)),
    coldHighTtftPenalty: ratio(cold[0], later.length ? median(later) : undefined),
    loadVsTransformersJs: ratio(loadMs(workers, 'ours', k.q8Low.precision), loadMs(workers, 'transformers.js', k.q8Low.precision)),
  };
}

export function evaluateGoals(
  ratios: Ratios,
  reasons: Partial<Record<RatioName, string>> = {},
  goals: Readonly<Record<RatioName, Goal>> = GOALS,
): GoalResult[] {
  return RATIO_NAMES.map((name) => {
    const goal = goals[name];
    const value = ratios[name];
    const met = value === null ? null : goal.comparison === '>=' ? value >= goal.target : value <= goal.target;
    const reason = value === null ? (reasons[name] ?? 'not measured (its runs are missing or failed)') : reasons[name];
    return { name, ...goal, value, met, ...(reason ? { reason } : {}) };
  });
}

const describe = (engine: Engine, s: Scenario) => `${engine} ${s.precision} ${s.detail} ${s.maxNewTokens} new, cache ${s.cache}`;

/** Figures that disagree with each other: the bench reports them rather than silently trusting either side. */
export function consistencyWarnings(runs: readonly RunResult[]): string[] {
  const warnings = new Set<string>();
  for (const run of runs) {
    const label = describe(run.engine, run.scenario);
    if (run.generatedTokens !== run.scenario.maxNewTokens) {
      warnings.add(`${label}: produced ${run.generatedTokens} tokens, not ${run.scenario.maxNewTokens} (stop: ${run.stopReason})`);
    }
    const e = run.engineStats;
    if (!e) continue;
    if (e.generatedTokens !== run.generatedTokens) {
      warnings.add(`${label}: stats say ${e.generatedTokens} generated tokens, the stream carried ${run.generatedTokens}`);
    }
    const tpsGap = Math.abs(e.decodeTokensPerSecond - run.decodeTokensPerSecond) / Math.max(run.decodeTokensPerSecond, 1e-9);
    if (tpsGap > 0.1) {
      warnings.add(
        `${label}: stats decodeTokensPerSecond ${e.decodeTokensPerSecond.toFixed(1)} vs ${run.decodeTokensPerSecond.toFixed(1)} ` +
          'between token events',
      );
    }
    const ttftGap = Math.abs(e.timeToFirstTokenMs - run.ttftMs);
    if (ttftGap > Math.max(50, 0.1 * run.ttftMs)) {
      warnings.add(`${label}: stats timeToFirstTokenMs ${e.timeToFirstTokenMs.toFixed(0)} vs ${run.ttftMs.toFixed(0)} by the bench's clock`);
    }
    if (e.precision !== run.scenario.precision) warnings.add(`${label}: stats say precision ${e.precision}`);
    if (e.cache !== run.scenario.cache) warnings.add(`${label}: stats say cache ${e.cache}`);
    if (e.prefillMs > e.timeToFirstTokenMs + 1) {
      warnings.add(`${label}: stats prefillMs ${e.prefillMs.toFixed(0)} exceeds timeToFirstTokenMs ${e.timeToFirstTokenMs.toFixed(0)}`);
    }
  }
  // Both engines must see the same prompt, or the comparison is not like for like.
  for (const ours of runs.filter((r) => r.engine === 'ours')) {
    const theirs = runs.find((r) => r.engine === 'transformers.js' && sameScenario(r.scenario, ours.scenario));
    if (!theirs) continue;
    if (theirs.promptTokens !== ours.promptTokens || theirs.imageTokens !== ours.imageTokens) {
      warnings.add(
        `${describe('ours', ours.scenario)}: prompt ${ours.promptTokens} (${ours.imageTokens} image) tokens, ` +
          `transformers.js ${theirs.promptTokens} (${theirs.imageTokens} image)`,
      );
    }
  }
  return [...warnings];
}

export interface ImageTokenParity {
  readonly detail: Detail;
  /** The distinct image token counts each engine's runs reported at this detail level. */
  readonly ours: readonly number[];
  readonly transformersJs: readonly number[];
  /** One count, the same for both engines (null when transformers.js did not run at this detail). */
  readonly equal: boolean | null;
}

/** Whether both engines saw the same number of image tokens at each detail level (ours includes ours-stock). */
export function imageTokenParity(runs: readonly RunResult[]): ImageTokenParity[] {
  const counts = (detail: Detail, theirs: boolean) =>
    [...new Set(runs.filter((r) => r.scenario.detail === detail && (r.engine === 'transformers.js') === theirs).map((r) => r.imageTokens))].sort(
      (a, b) => a - b,
    );
  return (['low', 'high'] as const)
    .map((detail) => ({ detail, ours: counts(detail, false), transformersJs: counts(detail, true) }))
    .filter((p) => p.ours.length > 0 || p.transformersJs.length > 0)
    .map((p) => ({
      ...p,
      equal: p.transformersJs.length === 0 ? null : p.ours.length === 1 && p.transformersJs.length === 1 && p.ours[0] === p.transformersJs[0],
    }));
}

/** Share of the machine other processes may take before a row's figures are called into question. */
export const NOISY_OTHER_CPU = 0.1;

export function noiseWarnings(rows: readonly Row[]): string[] {
  return rows
    .filter((r) => r.otherCpuFraction !== null && r.otherCpuFraction > NOISY_OTHER_CPU)
    .map(
      (r) =>
        `${describe(r.engine, r)}: other processes took ${Math.round(r.otherCpuFraction! * 100)}% of the machine during ` +
        'these runs; its figures (and the ratios built on them) are skewed: rerun on a quieter machine',
    );
}

export function buildReport(inputs: BenchInputs): BenchReport {
  // A roofline is what the machine can do. Other work on a 2-core machine only ever lowers a probe (a descheduled
  // thread stalls the whole parallel GEMV), so the quietest probe is the best estimate of that limit. Within a probe
  // the median, not the best run, so that a single lucky run does not set it.
  const probes = inputs.bandwidth.map((b) => b.gbPerSecond);
  const bandwidthGbPerSecond = probes.length ? Math.max(...probes) : null;
  const keys = keyScenarios(inputs.family, inputs.graphStyle);
  const rows = aggregate(inputs.runs, inputs.model, bandwidthGbPerSecond);
  const ratios = computeRatios(rows, inputs.runs, bandwidthGbPerSecond, keys, inputs.workers);
  const followUp = summarizeFollowUp(inputs.runs);
  const reasons: Partial<Record<RatioName, string>> = {
    followUpTtftRatio: followUp.note,
    ...(inputs.device !== 'cpu'
      ? { rooflineFraction: `not measured: decoding ran on ${inputs.device}, and the probe measures host memory bandwidth` }
      : bandwidthGbPerSecond === null
        ? { rooflineFraction: 'not measured: the bandwidth probe failed', rooflineFractionQ8Low: 'not measured: the bandwidth probe failed' }
        : {}),
    ...(inputs.device !== 'cpu' ? { rooflineFractionQ8Low: `not measured: decoding ran on ${inputs.device}` } : {}),
  };
  return {
    ...inputs,
    bandwidthGbPerSecond,
    rows,
    ratios,
    goals: evaluateGoals(ratios, reasons, goalsFor(keys)),
    followUp,
    imageTokenParity: imageTokenParity(inputs.runs),
    warnings: [
      ...consistencyWarnings(inputs.runs),
      ...noiseWarnings(rows),
      ...(followUp.measured && followUp.reusedPromptTokens === 0
        ? ['the follow-up reused nothing from the KV cache: followUpTtftRatio measures a full re-read (see follow-up)']
        : []),
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

export function formatNumber(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const MB = 1e6;

/** Left-aligns text columns and right-aligns numeric ones. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[], numeric: readonly boolean[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function formatGoalValue(name: RatioName, value: number | null): string {
  if (name === 'preReadTtftHigh' || name === 'preReadTtftLow' || name === 'impatientTtftHigh') return value === null ? '—' : `${formatNumber(value, 3)}×`;
  if (name === 'ttftLowMs') return value === null ? '—' : `${formatNumber(value)} ms`;
  return value === null ? '—' : `${formatNumber(value, 2)}${name === 'rooflineFraction' || name === 'rooflineFractionQ8Low' ? '' : '×'}`;
}

export function formatGoals(goals: readonly GoalResult[]): string {
  return renderTable(
    ['ratio', 'value', 'goal', 'status', 'what'],
    goals.map((g) => [
      g.name,
      formatGoalValue(g.name, g.value),
      `${g.comparison === '>=' ? '≥' : '≤'} ${g.name === 'ttftLowMs' ? `${g.target} ms` : g.target}`,
      g.met === null ? 'not measured' : g.met ? 'met' : 'NOT met',
      g.what,
    ]),
    [false, true, false, false, false],
  );
}

export function formatRows(rows: readonly Row[]): string {
  const order = (r: Row) =>
    [['fp32', 'q8', 'q4'].indexOf(r.precision), r.detail === 'low' ? 0 : 1, r.cache === 'on' ? 0 : 1, r.maxNewTokens, r.engine === 'ours' ? 0 : 1, r.readAheadMs ?? -1];
  const sorted = [...rows].sort((a, b) => {
    const x = order(a);
    const y = order(b);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
    return 0;
  });
  return renderTable(
    ['engine', 'prec', 'detail', 'new', 'cache', 'typing', 'runs', 'image ms', 'prefill ms', 'TTFT ms', 'tok/s', 'roofline', 'of roof', 'prompt (image)', 'load', 'others'],
    sorted.map((r) => [
      r.engine,
      r.precision,
      r.detail,
      String(r.maxNewTokens),
      r.cache,
      r.readAheadMs === undefined ? '—' : `${formatNumber(r.readAheadMs / 1000, 1)} s`,
      String(r.runs),
      formatNumber(r.imageEncodeMs),
      formatNumber(r.prefillMs),
      formatNumber(r.ttftMs),
      formatNumber(r.decodeTokensPerSecond, 1),
      formatNumber(r.rooflineTokensPerSecond, 1),
      r.rooflineFraction === null ? '—' : `${formatNumber(r.rooflineFraction * 100)}%`,
      `${formatNumber(r.promptTokens)} (${formatNumber(r.imageTokens)})`,
      formatNumber(r.loadAverage, 2),
      r.otherCpuFraction === null ? '—' : `${formatNumber(r.otherCpuFraction * 100)}%`,
    ]),
    [false, false, false, true, false, true, true, true, true, true, true, true, true, true, true, true],
  );
}

/** The image line: the capture, and for pre-sized images what each detail level read and whether the tokens agree. */
export function formatImageLine(report: Pick<BenchReport, 'image' | 'detailImages' | 'question' | 'imageTokenParity'>): string {
  const question = `question: "${report.question}"`;
  const images = report.detailImages;
  if (!images) return `image: ${report.image.width}×${report.image.height} screenshot-like PNG; ${question}`;
  const parity = report.imageTokenParity
    .map((p) => {
      const list = (counts: readonly number[]) => (counts.length ? counts.map((c) => formatNumber(c)).join('/') : '—');
      const verdict = p.equal === null ? 'transformers.js not run' : p.equal ? 'equal' : 'DIFFERENT';
      return `${p.detail} ${list(p.ours)} ours, ${list(p.transformersJs)} transformers.js (${verdict})`;
    })
    .join('; ');
  return (
    `image: a ${report.image.width}×${report.image.height} capture, fed to both engines already at the size our per-detail pixel ` +
    `budget gives it (low ${images.low.width}×${images.low.height}, high ${images.high.width}×${images.high.height}), which ` +
    `transformers.js's default max_pixels keeps as it is; image tokens: ${parity || 'no runs'}; ${question}`
  );
}

export function formatReport(report: BenchReport): string {
  const m = report.machine;
  const out: string[] = [];
  out.push(
    `ScreenAsk bench (${report.quick ? 'quick' : 'full'}), ${report.startedAt}, ${formatNumber(report.durationSeconds)} s`,
    `machine: ${m.cpuModel}, ${m.physicalCores} physical / ${m.logicalCores} logical cores, ` +
      `${formatNumber(m.totalMemoryBytes / 2 ** 30, 1)} GiB, LLC ${m.lastLevelCacheBytes ? `${formatNumber(m.lastLevelCacheBytes / 2 ** 20)} MiB` : '?'}; ` +
      `${m.platform}-${m.arch}, node ${m.node}, onnxruntime-node ${m.onnxruntimeNode}, transformers.js ${m.transformersJs}`,
    `load average (1/5/15 min): start ${m.loadAverageStart.map((v) => v.toFixed(2)).join(' ')}, ` +
      `end ${m.loadAverageEnd.map((v) => v.toFixed(2)).join(' ')}; threads per engine: ${report.threads}` +
      (report.device === 'cpu' ? '' : `; device: ${report.device}`),
    `model: ${report.model.dir} (random weights, ${report.model.shapes}; eos → id ${report.model.eosTokenId}, never a real token)` +
      (report.model.generated ? `, generated this run in ${formatNumber(report.model.generateSeconds)} s` : ''),
    `decoder weight bytes: ${(['fp32', 'q8', 'q4'] as const)
      .map((p) => `${p} ${formatNumber(report.model.decoderWeightBytes[p] / MB)} MB`)
      .join(', ')}; KV per context token ${formatNumber(report.model.kvBytesPerContextToken.fp32)} B (fp32)`,
    formatImageLine(report),
    `memory bandwidth (ORT fp32 GEMV over ${report.bandwidth[0] ? formatNumber(report.bandwidth[0].bytes / 2 ** 20) : '?'} MiB): ` +
      `${report.bandwidth.map((b) => `${formatNumber(b.gbPerSecond, 1)} GB/s (best ${formatNumber(b.bestGbPerSecond, 1)})`).join(', ')}` +
      ` → ${formatNumber(report.bandwidthGbPerSecond, 1)} GB/s (quietest probe) used for the roofline`,
    '',
    formatRows(report.rows),
    '',
    'image = load + preprocess + vision encoder; prefill = TTFT − image; tok/s = tokens after the first per second;',
    'typing = the capture read ahead while the question is typed for that long (0 s: asked at once); TTFT then counts',
    'from the moment the question was due, and image/prefill are what was left to do after it;',
    'roofline = bandwidth / (decoder weight bytes + KV bytes × mean context); figures are medians of the runs;',
    `load = 1-min load average before the run (the bench alone keeps it near its ${report.threads} threads); others = share of`,
    "the machine's CPU (all cores) that processes other than the timed engine took during the run, from /proc/stat.",
    '',
    formatGoals(report.goals),
    '',
    `follow-up: ${
      report.followUp.measured
        ? `TTFT ${formatNumber(report.followUp.followUpTtftMs)} ms vs first ${formatNumber(report.followUp.firstTtftMs)} ms ` +
          `(${formatNumber(report.followUp.followUpPromptTokens)} prompt tokens, ${report.followUp.runs} runs); ${report.followUp.note}`
        : report.followUp.note
    }`,
    `peak RSS: ${report.workers
      .map((w) => `${w.engine} ${w.precision} ${formatNumber(w.peakRssBytes / MB)} MB (load ${formatNumber(w.loadMs)} ms)`)
      .join('; ')}`,
  );
  if (report.profile) out.push('', formatProfile(report.profile));
  if (report.warnings.length) out.push('', 'warnings:', ...report.warnings.map((w) => `  - ${w}`));
  if (report.errors.length) out.push('', 'errors:', ...report.errors.map((e) => `  - ${e}`));
  return out.join('\n');
}

/** The decode-step breakdown as a few lines of text. */
export function formatProfile(p: StepProfile): string {
  const ms = (v: number) => `${v.toFixed(2)} ms`;
  const share = (v: number) => `${((100 * v) / p.stepMs).toFixed(0)}%`;
  const lines = [
    `decode step, ours ${p.precision} ${p.detail} detail, median of ${p.steps} steps: ${ms(p.stepMs)}`,
    `  decoder session.run   ${ms(p.decoderRunMs).padStart(10)}  ${share(p.decoderRunMs).padStart(4)}  (${p.kernelsPerStep.toFixed(0)} kernels)`,
    `    kernels             ${ms(p.decoderKernelMs).padStart(10)}  ${share(p.decoderKernelMs).padStart(4)}  (estimated: the traced run's kernel share of session.run)`,
    `    session overhead    ${ms(p.sessionOverheadMs).padStart(10)}  ${share(p.sessionOverheadMs).padStart(4)}  (inputs in, outputs copied out, dispatch)`,
    `  embedding lookup      ${ms(p.embedRunMs).padStart(10)}  ${share(p.embedRunMs).padStart(4)}`,
    `  JavaScript            ${ms(p.javascriptMs).padStart(10)}  ${share(p.javascriptMs).padStart(4)}  (inputs, logits row, sampling, cache bookkeeping)`,
    `    of which sampling   ${ms(p.samplerMs).padStart(10)}  ${share(p.samplerMs).padStart(4)}  (greedy + repetition penalty, measured alone)`,
    '  kernels by op type (per step; times scaled from the traced run, counts exact):',
    ...p.ops.slice(0, 12).map((o) => `    ${o.op.padEnd(24)} ${ms(o.msPerStep).padStart(10)}  ×${o.kernelsPerStep.toFixed(0)}`),
  ];
  return lines.join('\n');
}

/** The --json object: every input figure, the aggregated rows, ratios, goals and warnings. */
export function reportJson(report: BenchReport): string {
  return JSON.stringify(report, null, 2);
}
