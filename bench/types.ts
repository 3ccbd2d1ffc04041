/** Shapes shared by the bench's parent process, its engine workers and the report. */
import type { BenchPrecision } from './model.js';
import type { Noise } from './noise.js';

/** `ours-stock`: our engine running the export exactly as shipped (no load-time decoder rewrite), for comparison. */
export type Engine = 'ours' | 'ours-stock' | 'transformers.js';
export type Detail = 'low' | 'high';

/** The model families the bench can generate and run (`--family`). */
export const BENCH_FAMILIES = ['smolvlm', 'qwen2.5-vl'] as const;
export type BenchFamily = (typeof BENCH_FAMILIES)[number];

/** Where both engines run (`--device`). Only the CPU has a bandwidth roofline: the probe measures host memory. */
export const BENCH_DEVICES = ['cpu', 'webgpu', 'cuda'] as const;
export type BenchDevice = (typeof BENCH_DEVICES)[number];

/** The image each detail level is asked about: one capture for SmolVLM, a pre-sized one per detail for Qwen. */
export type DetailImages = Readonly<Record<Detail, string>>;

/** One generation to time: the same request is sent to both engines. */
export interface Scenario {
  readonly precision: BenchPrecision;
  readonly detail: Detail;
  readonly maxNewTokens: number;
  readonly cache: 'on' | 'off';
  /** Ours only: ask a second question on the same conversation and time it too. */
  readonly followUp?: { readonly question: string; readonly maxNewTokens: number };
  /**
   * Ours only: read the capture ahead (Conversation.readAhead) and ask this many milliseconds after the capture, as a
   * user typing the question would; 0 asks at once (an impatient user). Time to first token counts from the moment
   * the question is due. Absent: no read-ahead.
   */
  readonly readAheadMs?: number;
}

/** The figures of one timed generation. Every time is wall clock in milliseconds. */
export interface RunResult {
  readonly engine: Engine;
  readonly scenario: Scenario;
  /** Image load + preprocessing + vision encoder (ours: the engine's imageEncodeMs, which covers all three). */
  readonly imageEncodeMs: number;
  /** Tokenising, embedding and the prompt's decoder pass: time to first token minus imageEncodeMs. */
  readonly prefillMs: number;
  /** From the call to the first generated token, measured by the bench around the stream. */
  readonly ttftMs: number;
  /** Tokens after the first, per second between the first and last token, measured by the bench. */
  readonly decodeTokensPerSecond: number;
  readonly promptTokens: number;
  readonly imageTokens: number;
  readonly generatedTokens: number;
  readonly stopReason: string;
  /** What the engine itself reported (ours only), to cross-check the bench's own clock. */
  readonly engineStats?: {
    readonly imageEncodeMs: number;
    readonly prefillMs: number;
    readonly timeToFirstTokenMs: number;
    readonly decodeTokensPerSecond: number;
    readonly generatedTokens: number;
    readonly precision: string;
    readonly provider: string;
    readonly cache: string;
  };
  /** The first high-detail question since the model loaded (ours): the cold start a warm-up is meant to remove. */
  readonly firstHighSinceLoad?: boolean;
  /** What the read-ahead did before the question (ours, with `readAheadMs`). */
  readonly readAhead?: { readonly tokens: number; readonly ms: number };
  /** A second ask on the same conversation (ours, when the scenario asks for it). */
  readonly followUp?: {
    readonly ttftMs: number;
    readonly imageEncodeMs: number;
    readonly prefillMs: number;
    readonly promptTokens: number;
    /** Prompt tokens the conversation's KV cache already held. */
    readonly reusedPromptTokens: number;
    readonly engineTtftMs: number;
  };
  /** os.loadavg()[0] just before the run: other work on the machine skews figures. */
  readonly loadAverage: number;
  /** CPU that other processes (and other guests) took while this run was timed; absent off Linux. */
  readonly noise?: Noise;
}

/** A worker's lifetime figures: one worker per (engine, precision), so its peak RSS is that pair's alone. */
export interface WorkerSummary {
  readonly engine: Engine;
  readonly precision: BenchPrecision;
  readonly loadMs: number;
  readonly peakRssBytes: number;
}

/** What an engine is opened with, whichever engine it is. */
export interface EngineSetup {
  readonly modelDir: string;
  readonly precision: BenchPrecision;
  readonly device: BenchDevice;
  readonly threads: number;
  readonly images: DetailImages;
  readonly question: string;
}

/** Parent → worker. */
export type WorkerRequest =
  | ({ readonly type: 'init'; readonly engine: Engine } & EngineSetup)
  | { readonly type: 'run'; readonly scenario: Scenario }
  | { readonly type: 'summary' };

/** Worker → parent. */
export type WorkerReply =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: string };

/** What a worker does for one engine. */
export interface EngineRunner {
  readonly loadMs: number;
  /** An untimed short generation, so the timed runs see warm arenas and code paths. */
  warmUp(): Promise<void>;
  run(scenario: Scenario): Promise<RunResult>;
  dispose(): Promise<void>;
}
