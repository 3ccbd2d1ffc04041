// Response bodies in OpenAI's chat completion schema; the engine's figures ride along under `screenask`.
import { randomUUID } from 'node:crypto';
import type { Answer, AnswerStats } from '../conversation/answer.js';

export type FinishReason = 'stop' | 'length';

export interface CompletionMeta {
  readonly id: string;
  /** Unix seconds. */
  readonly created: number;
  readonly model: string;
}

export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  /** OpenAI's field for prompt tokens served from a cache: the KV cache a follow-up reuses. */
  readonly prompt_tokens_details: { readonly cached_tokens: number };
}

/** The extra field: the answer's figures, its warnings, and whether it continued the kept conversation. */
export interface ScreenAskExtra {
  readonly stats: AnswerStats;
  readonly warnings: readonly string[];
  readonly continued: boolean;
}

export function completionMeta(model: string): CompletionMeta {
  return { id: `chatcmpl-${randomUUID().replaceAll('-', '')}`, created: Math.floor(Date.now() / 1000), model };
}

export function usageOf(stats: AnswerStats): Usage {
  return {
    prompt_tokens: stats.promptTokens,
    completion_tokens: stats.generatedTokens,
    total_tokens: stats.promptTokens + stats.generatedTokens,
    prompt_tokens_details: { cached_tokens: stats.reusedPromptTokens },
  };
}

export function extraOf(answer: Answer, continued: boolean): ScreenAskExtra {
  return { stats: answer.stats, warnings: answer.warnings, continued };
}

export function completionBody(meta: CompletionMeta, text: string, finish: FinishReason, answer: Answer, continued: boolean) {
  return {
    ...meta,
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: finish }],
    usage: usageOf(answer.stats),
    screenask: extraOf(answer, continued),
  };
}

/**
 * One stream chunk. With `stream_options.include_usage`, OpenAI sends `usage: null` on every chunk and the usage in
 * a last chunk with no choices (`usageChunk`).
 */
export function chunkBody(
  meta: CompletionMeta,
  delta: { role?: 'assistant'; content?: string },
  finish: FinishReason | null,
  includeUsage: boolean,
  extra?: ScreenAskExtra,
) {
  return {
    ...meta,
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(includeUsage ? { usage: null } : {}),
    ...(extra ? { screenask: extra } : {}),
  };
}

export function usageChunk(meta: CompletionMeta, stats: AnswerStats) {
  return { ...meta, object: 'chat.completion.chunk', choices: [], usage: usageOf(stats) };
}

export function modelList(id: string, created: number) {
  return { object: 'list', data: [modelEntry(id, created)] };
}

export function modelEntry(id: string, created: number) {
  return { id, object: 'model', created, owned_by: 'screenask' };
}
