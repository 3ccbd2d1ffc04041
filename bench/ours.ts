/** Our engine, driven through its public API exactly as the app does, timed from the outside. */
import path from 'node:path';
import { loadModel, type AnswerEvent, type AnswerStats, type Model } from '../native-models/index.js';
import { cpuSnapshot, loadAverage as currentLoad, noiseBetween } from './noise.js';
import type { EngineRunner, EngineSetup, RunResult, Scenario } from './types.js';

interface StreamTiming {
  readonly stats: AnswerStats;
  readonly ttftMs: number;
  readonly decodeTokensPerSecond: number;
  readonly tokens: number;
}

/**
 * Drains one answer stream, stamping the first and last token events with the bench's own clock. The engine's stats
 * are kept beside them: the report compares the two, so a stats bug shows up instead of being copied into the table.
 */
async function timeStream(events: AsyncGenerator<AnswerEvent>, started: number): Promise<StreamTiming> {
  let first = 0;
  let last = 0;
  let tokens = 0;
  for await (const event of events) {
    if (event.type === 'token') {
      last = performance.now();
      if (tokens === 0) first = last;
      tokens++;
    }
    if (event.type === 'done') {
      return {
        stats: event.answer.stats,
        ttftMs: first - started,
        decodeTokensPerSecond: tokens > 1 && last > first ? ((tokens - 1) * 1000) / (last - first) : 0,
        tokens,
      };
    }
  }
  throw new Error('the answer stream ended without a done event');
}

export async function openOurs(options: EngineSetup & { readonly rewriteDecoder: boolean }): Promise<EngineRunner> {
  const start = performance.now();
  const model: Model = await loadModel(options.modelDir, {
    precision: options.precision,
    device: options.device,
    threads: options.threads,
    rewriteDecoder: options.rewriteDecoder,
    // As the app does: the rewritten decoder is kept beside the bench models (the first run after a change rewrites).
    cacheDir: path.join(path.dirname(options.modelDir), 'rewrite-cache'),
  });
  const loadMs = performance.now() - start;
  /** High-detail questions asked since the load: the first one is the cold start. */
  let highRuns = 0;

  // Greedy: temperature 0 makes the sampler take the argmax, like transformers.js's do_sample: false.
  const askOptions = (maxNewTokens: number, useCache: boolean) => ({ maxNewTokens, temperature: 0, useCache });

  return {
    loadMs,
    async warmUp() {
      const conversation = model.startConversation({ image: options.images.low, detail: 'low' });
      await timeStream(conversation.ask(options.question, askOptions(4, true)), performance.now());
    },
    async run(scenario: Scenario): Promise<RunResult> {
      const loadAverage = currentLoad();
      const before = cpuSnapshot();
      // Every run looks at the capture for the first time, as a new screenshot would.
      model.clearImageCache();
      const useCache = scenario.cache === 'on';
      const conversation = model.startConversation({ image: options.images[scenario.detail], detail: scenario.detail });
      const firstHighSinceLoad = scenario.detail === 'high' && highRuns++ === 0;
      let started = performance.now();
      if (scenario.readAheadMs !== undefined) {
        // The capture exists: read it while the user types. The question is due `readAheadMs` after the capture, and
        // time to first token counts from then, also when this process was busy with a frame at that moment.
        void conversation.readAhead({ useCache });
        started += scenario.readAheadMs;
        await new Promise((resolve) => setTimeout(resolve, scenario.readAheadMs));
      }
      const first = await timeStream(conversation.ask(options.question, askOptions(scenario.maxNewTokens, useCache)), started);
      const noise = noiseBetween(before, cpuSnapshot());
      const s = first.stats;
      let followUp: RunResult['followUp'];
      if (scenario.followUp) {
        // The same conversation: the image stays encoded and the KV cache holds what the follow-up shares with the
        // first turn, so only the rest is read.
        const followStart = performance.now();
        const second = await timeStream(conversation.ask(scenario.followUp.question, askOptions(scenario.followUp.maxNewTokens, useCache)), followStart);
        followUp = {
          ttftMs: second.ttftMs,
          imageEncodeMs: second.stats.imageEncodeMs,
          prefillMs: second.ttftMs - second.stats.imageEncodeMs,
          promptTokens: second.stats.promptTokens,
          reusedPromptTokens: second.stats.reusedPromptTokens,
          engineTtftMs: second.stats.timeToFirstTokenMs,
        };
      }
      return {
        engine: options.rewriteDecoder ? 'ours' : 'ours-stock',
        scenario,
        imageEncodeMs: s.imageEncodeMs,
        prefillMs: first.ttftMs - s.imageEncodeMs,
        ttftMs: first.ttftMs,
        decodeTokensPerSecond: first.decodeTokensPerSecond,
        promptTokens: s.promptTokens,
        imageTokens: s.imageTokens,
        generatedTokens: first.tokens,
        stopReason: s.stopReason,
        engineStats: {
          imageEncodeMs: s.imageEncodeMs,
          prefillMs: s.prefillMs,
          timeToFirstTokenMs: s.timeToFirstTokenMs,
          decodeTokensPerSecond: s.decodeTokensPerSecond,
          generatedTokens: s.generatedTokens,
          precision: s.precision,
          provider: s.provider,
          cache: s.cache,
        },
        ...(followUp ? { followUp } : {}),
        ...(firstHighSinceLoad ? { firstHighSinceLoad } : {}),
        ...(s.readAhead ? { readAhead: s.readAhead } : {}),
        loadAverage,
        ...(noise ? { noise } : {}),
      };
    },
    dispose: () => model.dispose(),
  };
}
