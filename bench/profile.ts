/**
 * `npm run bench -- --profile`: where one decode step of our engine goes, measured, not assumed. One q8 low-detail
 * answer on the bench model, with:
 *   - the step's wall time (between token events),
 *   - the decoder's session.run and the embedding's, timed around the calls,
 *   - the decoder's kernels by op type, from onnxruntime's own trace (enableProfiling) of the decode runs,
 *   - the sampler alone on a logits row of the model's vocabulary size.
 * What is left of a step after the two session calls is JavaScript: building the inputs (mask, positions, cache
 * feeds), taking the last logits row, sampling and the cache's bookkeeping. The session overhead is session.run
 * minus its kernels: feeding inputs, copying outputs out, and dispatching.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel, type Model } from '../native-models/index.js';
import { sampleToken } from '../native-models/generation/sampler.js';
import { textDims } from '../native-models/model/config.js';
import type { LoadedModel } from '../native-models/model/load.js';
import { median } from './report.js';

export interface OpTime {
  readonly op: string;
  /** Kernel time per decode step, and how many such kernels one step runs. */
  readonly msPerStep: number;
  readonly kernelsPerStep: number;
}

export interface StepProfile {
  readonly precision: string;
  readonly detail: string;
  readonly steps: number;
  readonly stepMs: number;
  readonly decoderRunMs: number;
  readonly decoderKernelMs: number;
  readonly sessionOverheadMs: number;
  readonly embedRunMs: number;
  /** The step minus both session calls: inputs, logits row, sampling, bookkeeping. */
  readonly javascriptMs: number;
  /** sampleToken alone (greedy, repetition penalty on) on a row of `vocab` logits. */
  readonly samplerMs: number;
  readonly kernelsPerStep: number;
  readonly ops: readonly OpTime[];
}

interface TraceEvent {
  readonly cat?: string;
  readonly name?: string;
  readonly ts?: number;
  readonly dur?: number;
  readonly args?: { readonly op_name?: string };
}

/** Times every call of an object's `run` (or `embed`) into `sink` (the bench reaches into the loaded model for this). */
function timeRuns<K extends 'run' | 'embed'>(target: Record<K, (...args: never[]) => Promise<unknown>>, sink: number[], method: K): void {
  const run = target[method].bind(target) as (...args: unknown[]) => Promise<unknown>;
  target[method] = (async (...args: unknown[]) => {
    const start = performance.now();
    try {
      return await run(...args);
    } finally {
      sink.push(performance.now() - start);
    }
  }) as (typeof target)[K];
}

/** Kernel time per op type over the decode runs (every model_run after the first, which is the prefill). */
export function kernelsByOp(events: readonly TraceEvent[], decodeRuns: number): { ops: OpTime[]; kernelMs: number; kernelsPerStep: number } {
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts! - b.ts!);
  const decode = runs.slice(1);
  const inDecode = (e: TraceEvent) => decode.some((run) => e.ts! >= run.ts! && e.ts! <= run.ts! + run.dur!);
  const byOp = new Map<string, { us: number; count: number }>();
  for (const event of events) {
    if (event.cat !== 'Node' || !event.name?.endsWith('_kernel_time') || !inDecode(event)) continue;
    const op = event.args?.op_name ?? 'unknown';
    const entry = byOp.get(op) ?? { us: 0, count: 0 };
    entry.us += event.dur ?? 0;
    entry.count++;
    byOp.set(op, entry);
  }
  const steps = Math.max(1, Math.min(decodeRuns, decode.length));
  const ops = [...byOp.entries()]
    .map(([op, { us, count }]) => ({ op, msPerStep: us / 1000 / steps, kernelsPerStep: count / steps }))
    .sort((a, b) => b.msPerStep - a.msPerStep);
  return {
    ops,
    kernelMs: ops.reduce((sum, o) => sum + o.msPerStep, 0),
    kernelsPerStep: ops.reduce((sum, o) => sum + o.kernelsPerStep, 0),
  };
}

export async function profileDecodeStep(options: {
  readonly modelDir: string;
  readonly image: string;
  readonly threads: number;
  readonly precision?: 'fp32' | 'q8' | 'q4';
  readonly steps?: number;
  readonly question: string;
}): Promise<StepProfile> {
  const precision = options.precision ?? 'q8';
  const steps = options.steps ?? 64;
  // Two loads: the times come from an untraced one (tracing every kernel costs several microseconds each, which would
  // inflate a step several-fold), the kernel counts and each op type's share from a traced one.
  const timing = await measureStep(options, precision, steps, undefined);
  const traceDir = mkdtempSync(path.join(os.tmpdir(), 'screenask-profile-'));
  try {
    const traced = await measureStep(options, precision, steps, path.join(traceDir, 'trace'));
    const trace = readdirSync(traceDir).find((f) => f.includes('decoder_model_merged'));
    const events = trace ? (JSON.parse(readFileSync(path.join(traceDir, trace), 'utf8')) as TraceEvent[]) : [];
    // The trace holds the warm-up answer's runs too: keep only the timed answer's (its prefill and decode runs).
    const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts! - b.ts!);
    const firstTimed = runs[runs.length - steps - 1];
    const kernels = kernelsByOp(firstTimed ? events.filter((e) => (e.ts ?? 0) >= firstTimed.ts!) : events, steps);
    // Kernel time untraced: the traced kernels' share of the traced session.run, applied to the untraced one.
    const kernelShare = traced.decoderRunMs > 0 ? Math.min(1, kernels.kernelMs / traced.decoderRunMs) : 0;
    const decoderKernelMs = timing.decoderRunMs * kernelShare;
    const scale = kernels.kernelMs > 0 ? decoderKernelMs / kernels.kernelMs : 0;
    return {
      precision,
      detail: 'low',
      steps,
      ...timing,
      decoderKernelMs,
      sessionOverheadMs: timing.decoderRunMs - decoderKernelMs,
      javascriptMs: timing.stepMs - timing.decoderRunMs - timing.embedRunMs,
      samplerMs: samplerTime(traced.vocabSize),
      kernelsPerStep: kernels.kernelsPerStep,
      ops: kernels.ops.map((o) => ({ ...o, msPerStep: o.msPerStep * scale })),
    };
  } finally {
    rmSync(traceDir, { recursive: true, force: true });
  }
}

/** One load and one timed answer: the step's wall time and both session calls', as medians over the decode steps. */
async function measureStep(
  options: { readonly modelDir: string; readonly image: string; readonly threads: number; readonly question: string },
  precision: 'fp32' | 'q8' | 'q4',
  steps: number,
  profilePrefix: string | undefined,
): Promise<{ stepMs: number; decoderRunMs: number; embedRunMs: number; vocabSize: number }> {
  const model = await loadModel(options.modelDir, { precision, threads: options.threads, ...(profilePrefix ? { profilePrefix } : {}) });
  try {
    const { graphs, configs } = (model as unknown as { loaded: LoadedModel }).loaded;
    // An untimed answer first, as the bench's warm-up does.
    await drain(model, options, 4);
    const decoderRuns: number[] = [];
    const embedRuns: number[] = [];
    timeRuns(graphs.decoder, decoderRuns, 'run');
    timeRuns(graphs.embed, embedRuns, 'embed');
    const tokenTimes = await drain(model, options, steps + 1);
    if (profilePrefix) graphs.decoder.endProfiling();
    // Per decode step: the first token comes from the prefill, each later one from one decoder step.
    return {
      stepMs: median(tokenTimes.slice(1).map((t, i) => t - tokenTimes[i]!)),
      decoderRunMs: median(decoderRuns.slice(-steps)),
      embedRunMs: median(embedRuns.slice(-steps)),
      vocabSize: textDims(configs.config).vocabSize,
    };
  } finally {
    await model.dispose();
  }
}

/** Asks once, greedy, with eos out of reach, and returns when each token arrived. */
async function drain(model: Model, options: { image: string; question: string }, maxNewTokens: number): Promise<number[]> {
  model.clearImageCache();
  const times: number[] = [];
  const conversation = model.startConversation({ image: options.image, detail: 'low' });
  for await (const event of conversation.ask(options.question, { maxNewTokens, temperature: 0 })) {
    if (event.type === 'token') times.push(performance.now());
  }
  return times;
}

/** Median time of the greedy sampler (with a repetition penalty, as the public configs set) on one logits row. */
function samplerTime(vocab: number): number {
  const logits = new Float32Array(vocab).map((_, i) => Math.sin(i));
  const seen = new Set(Array.from({ length: 100 }, (_, i) => i * 7));
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const row = logits.slice();
    const start = performance.now();
    sampleToken(row, seen, { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1.05 }, Math.random);
    times.push(performance.now() - start);
  }
  return median(times);
}
