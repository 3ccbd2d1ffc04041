/**
 * What a bench run measures. The scenarios the ratios need are the same in both modes; --quick only trims repeats
 * and the runs no ratio depends on, so a quick run still reports every ratio (with less averaging).
 */
import type { BenchPrecision } from './model.js';
import type { Engine, Scenario } from './types.js';

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
export const FOLLOW_UP = { question: 'And where is the button for that?', maxNewTokens: 8 } as const;

/** The figures the ratios are computed from: keep plan and report pointing at the same runs. */
export const KEY_SCENARIOS = {
  /** cachedVsUncached numerator and rooflineFraction. */
  cachedFp32: { precision: 'fp32', detail: 'low', maxNewTokens: 128, cache: 'on' },
  /** cachedVsUncached denominator. Low detail and fp32 keep the uncached run short: every step re-reads the prompt. */
  uncachedFp32: { precision: 'fp32', detail: 'low', maxNewTokens: 128, cache: 'off' },
  /** vsTransformersJsLow, ttftLowMs and the follow-up. */
  q8Low: { precision: 'q8', detail: 'low', maxNewTokens: 128, cache: 'on' },
  /** vsTransformersJsHigh. */
  q8High: { precision: 'q8', detail: 'high', maxNewTokens: 128, cache: 'on' },
} as const satisfies Record<string, Scenario>;

function s(base: Scenario, oursRepeats: number, theirsRepeats: number, extra: Partial<PlannedScenario> = {}): PlannedScenario {
  return { ...base, ...extra, oursRepeats, theirsRepeats };
}

const k = KEY_SCENARIOS;

export function benchPlan(quick: boolean): Phase[] {
  if (quick) {
    return [
      { precision: 'fp32', scenarios: [s(k.cachedFp32, 2, 0), s(k.uncachedFp32, 1, 0)] },
      {
        precision: 'q8',
        scenarios: [
          s(k.q8Low, 3, 3, { followUp: FOLLOW_UP, stockRepeats: 1 }),
          s(k.q8High, 2, 2, { stockRepeats: 1 }),
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
      precision: 'q8',
      scenarios: [
        s(k.q8Low, 3, 3, { followUp: FOLLOW_UP, stockRepeats: 2 }),
        s(k.q8High, 2, 2, { stockRepeats: 2 }),
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

export function sameScenario(a: Scenario, b: Scenario): boolean {
  return a.precision === b.precision && a.detail === b.detail && a.maxNewTokens === b.maxNewTokens && a.cache === b.cache;
}
