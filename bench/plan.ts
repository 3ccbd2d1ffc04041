/**
 * What a bench run measures. The scenarios the ratios need are the same in both modes; --quick only trims repeats
 * and the runs no ratio depends on, so a quick run still reports every ratio (with less averaging). Each family has
 * its own key scenarios (the runs its ratios are computed from) and plan.
 */
import type { BenchPrecision } from './model.js';
import type { GraphStyle } from '../test/fixtures/shared/decoder-styles.js';
import type { BenchFamily, Engine, Scenario } from './types.js';

export interface PlannedScenario extends Scenario {
  readonly oursRepeats: number;
  readonly theirsRepeats: number;
  /** Runs of our engine on the stock graph (what the load-time rewrite buys); 0 for most scenarios. */
  readonly stockRepeats?: number;
}

export function repeatsOf(engine: Engine, scenario: PlannedScenario): number {
  return engine === 'ours' ? scenario.oursRepeats : engine === 'ours-stock' ? (scenario.stockRepeats ?? 0) : scenario.theirsRepeats;
}

export interface Phase {
  readonly precision: BenchPrecision;
  readonly scenarios: readonly PlannedScenario[];
}

export const QUESTION = 'What is on the screen, and what should I do next?';
/** How long a user takes to type the question, by default (`--typing-ms`). */
export const DEFAULT_TYPING_MS = 10_000;
export const FOLLOW_UP = { question: 'And where is the button for that?', maxNewTokens: 8 } as const;

/** The runs every ratio is computed from, one set per family: keep plan and report pointing at the same runs. */
export interface KeyScenarios {
  /** cachedVsUncached numerator and rooflineFraction. */
  readonly cachedFp32: Scenario;
  /** cachedVsUncached denominator. */
  readonly uncachedFp32: Scenario;
  /** vsTransformersJsLow, ttftLowMs and the follow-up. */
  readonly q8Low: Scenario;
  /** vsTransformersJsHigh and rewriteSpeedupHigh. */
  readonly q8High: Scenario;
}

/** SmolVLM-256M's key scenarios. */
export const KEY_SCENARIOS = {
  /** cachedVsUncached numerator and rooflineFraction. */
  cachedFp32: { precision: 'fp32', detail: 'low', maxNewTokens: 128, cache: 'on' },
  /** cachedVsUncached denominator. Low detail and fp32 keep the uncached run short: every step re-reads the prompt. */
  uncachedFp32: { precision: 'fp32', detail: 'low', maxNewTokens: 128, cache: 'off' },
  /** vsTransformersJsLow, ttftLowMs and the follow-up. */
  q8Low: { precision: 'q8', detail: 'low', maxNewTokens: 128, cache: 'on' },
  /** vsTransformersJsHigh. */
  q8High: { precision: 'q8', detail: 'high', maxNewTokens: 128, cache: 'on' },
} as const satisfies KeyScenarios;

/**
 * Qwen2.5-VL-3B's (reduced depth). Without the cache every step re-reads the ~500-token low-detail prompt through
 * 2048-wide layers, over a second per token on a 2-core CPU, so the fp32 pair decodes 32 tokens, not 128; the q8
 * comparisons keep 128.
 */
export const QWEN_KEY_SCENARIOS = {
  cachedFp32: { precision: 'fp32', detail: 'low', maxNewTokens: 32, cache: 'on' },
  uncachedFp32: { precision: 'fp32', detail: 'low', maxNewTokens: 32, cache: 'off' },
  q8Low: { precision: 'q8', detail: 'low', maxNewTokens: 128, cache: 'on' },
  q8High: { precision: 'q8', detail: 'high', maxNewTokens: 128, cache: 'on' },
} as const satisfies KeyScenarios;

/** The family's key scenarios; the model builder's graphs have no q8, so there the quantized ones run q4. */
export function keyScenarios(family: BenchFamily, style: GraphStyle = 'primitive'): KeyScenarios {
  const k: KeyScenarios = family === 'smolvlm' ? KEY_SCENARIOS : QWEN_KEY_SCENARIOS;
  if (style !== 'gqa') return k;
  return { ...k, q8Low: { ...k.q8Low, precision: 'q4' }, q8High: { ...k.q8High, precision: 'q4' } };
}

function s(base: Scenario, oursRepeats: number, theirsRepeats: number, extra: Partial<PlannedScenario> = {}): PlannedScenario {
  return { ...base, ...extra, oursRepeats, theirsRepeats };
}

export function benchPlan(quick: boolean, family: BenchFamily = 'smolvlm', typingMs: number = DEFAULT_TYPING_MS, style: GraphStyle = 'primitive'): Phase[] {
  if (family !== 'smolvlm') return qwenPlan(quick, typingMs);
  const k = keyScenarios(family, style);
  const phases = smolVlmPlan(quick, typingMs, k);
  // Where the key scenarios already run q4, the extra q4 phase would repeat them.
  return k.q8Low.precision === 'q4' ? phases.filter((phase, i) => phase.precision !== 'q4' || phases.findIndex((p) => p.precision === 'q4') === i) : phases;
}

/**
 * The read-ahead runs (ours only): the capture read while the user types for `typingMs`, at both detail levels, and
 * one impatient user who asks at once (must be no slower than without the read-ahead).
 */
export function readAheadScenarios(k: KeyScenarios, typingMs: number, repeats: number): { low: PlannedScenario; high: PlannedScenario; impatient: PlannedScenario } {
  return {
    low: s({ ...k.q8Low, readAheadMs: typingMs }, repeats, 0),
    high: s({ ...k.q8High, readAheadMs: typingMs }, repeats, 0),
    impatient: s({ ...k.q8High, readAheadMs: 0 }, 1, 0),
  };
}

function smolVlmPlan(quick: boolean, typingMs: number, k: KeyScenarios): Phase[] {
  const ahead = readAheadScenarios(k, typingMs, quick ? 1 : 2);
  if (quick) {
    return [
      { precision: 'fp32', scenarios: [s(k.cachedFp32, 2, 0), s(k.uncachedFp32, 1, 0)] },
      {
        precision: k.q8Low.precision,
        scenarios: [
          s(k.q8Low, 3, 3, { followUp: FOLLOW_UP, stockRepeats: 1 }),
          // Three of ours: the first high-detail question after the load is compared with the later ones.
          s(k.q8High, 3, 2, { stockRepeats: 1 }),
          ahead.low,
          ahead.high,
          ahead.impatient,
          s({ ...k.q8Low, maxNewTokens: 512 }, 1, 0),
        ],
      },
      { precision: 'q4', scenarios: [s({ ...k.q8Low, precision: 'q4' }, 1, 0)] },
    ];
  }
  return [
    {
      precision: 'fp32',
      scenarios: [
        s(k.cachedFp32, 3, 2),
        s(k.uncachedFp32, 2, 0),
        s({ ...k.cachedFp32, maxNewTokens: 512 }, 1, 1),
        s({ ...k.cachedFp32, detail: 'high' }, 1, 1),
      ],
    },
    {
      precision: k.q8Low.precision,
      scenarios: [
        s(k.q8Low, 3, 3, { followUp: FOLLOW_UP, stockRepeats: 2 }),
        s(k.q8High, 3, 2, { stockRepeats: 2 }),
        ahead.low,
        ahead.high,
        ahead.impatient,
        s({ ...k.q8Low, maxNewTokens: 512 }, 2, 1),
      ],
    },
    {
      precision: 'q4',
      scenarios: [
        s({ ...k.q8Low, precision: 'q4' }, 2, 2),
        s({ ...k.q8High, precision: 'q4' }, 1, 1),
        s({ ...k.q8Low, precision: 'q4', maxNewTokens: 512 }, 1, 0),
      ],
    },
  ];
}

const ENGINES: readonly Engine[] = ['ours', 'ours-stock', 'transformers.js'];

/**
 * One phase per engine for `scenario`, so that only one engine's process is alive while it runs: for a scenario that
 * needs more memory than the machine has for three processes at once. Gives up the run-by-run interleaving.
 */
export function oneEngineAtATime(precision: BenchPrecision, scenario: PlannedScenario): Phase[] {
  const only = (engine: Engine): PlannedScenario => ({
    ...scenario,
    oursRepeats: engine === 'ours' ? scenario.oursRepeats : 0,
    theirsRepeats: engine === 'transformers.js' ? scenario.theirsRepeats : 0,
    stockRepeats: engine === 'ours-stock' ? (scenario.stockRepeats ?? 0) : 0,
  });
  return ENGINES.filter((engine) => repeatsOf(engine, scenario) > 0).map((engine) => ({ precision, scenarios: [only(engine)] }));
}

/**
 * Qwen: every ratio's runs, and little else. High detail (1,196 image tokens, see bench/images.ts) sends ~4,800
 * patches through the fixture's vision tower at once, 5–9 GB per process at the peak, which onnxruntime's arena keeps:
 * three processes at once would not fit a 24 GB machine, so high detail runs one engine at a time.
 */
function qwenPlan(quick: boolean, typingMs: number): Phase[] {
  const k = QWEN_KEY_SCENARIOS;
  const ahead = readAheadScenarios(k, typingMs, 1);
  // Our high-detail runs, their read-ahead included, in our own phase (one engine at a time for memory).
  const highPhases = (high: PlannedScenario) =>
    oneEngineAtATime('q8', high).map((phase) =>
      phase.scenarios[0]!.oursRepeats > 0 ? { ...phase, scenarios: [...phase.scenarios, ahead.high, ahead.impatient] } : phase,
    );
  if (quick) {
    return [
      { precision: 'fp32', scenarios: [s(k.cachedFp32, 2, 0), s(k.uncachedFp32, 1, 0)] },
      { precision: 'q8', scenarios: [s(k.q8Low, 3, 3, { followUp: FOLLOW_UP, stockRepeats: 1 }), ahead.low] },
      ...highPhases(s(k.q8High, 2, 1, { stockRepeats: 1 })),
      { precision: 'q4', scenarios: [s({ ...k.q8Low, precision: 'q4' }, 1, 0)] },
    ];
  }
  return [
    {
      precision: 'fp32',
      scenarios: [s(k.cachedFp32, 3, 1), s(k.uncachedFp32, 2, 0), s({ ...k.cachedFp32, maxNewTokens: 128 }, 1, 0)],
    },
    {
      precision: 'q8',
      scenarios: [s(k.q8Low, 3, 3, { followUp: FOLLOW_UP, stockRepeats: 2 }), ahead.low, s({ ...k.q8Low, maxNewTokens: 512 }, 1, 0)],
    },
    ...highPhases(s(k.q8High, 3, 2, { stockRepeats: 2 })),
    { precision: 'q4', scenarios: [s({ ...k.q8Low, precision: 'q4' }, 2, 2)] },
  ];
}

export function sameScenario(a: Scenario, b: Scenario): boolean {
  return (
    a.precision === b.precision && a.detail === b.detail && a.maxNewTokens === b.maxNewTokens && a.cache === b.cache && a.readAheadMs === b.readAheadMs
  );
}
