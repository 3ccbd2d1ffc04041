import type { AnswerStats } from '../conversation/answer.js';

const ms = (value: number) => `${Math.round(value)} ms`;

/** One human-readable line of per-answer figures. */
export function formatStats(stats: AnswerStats): string {
  return [
    `image ${ms(stats.imageEncodeMs)}`,
    `prefill ${ms(stats.prefillMs)}`,
    `first token ${ms(stats.timeToFirstTokenMs)}`,
    `${stats.decodeTokensPerSecond.toFixed(1)} tok/s`,
    `${stats.promptTokens} prompt (${stats.imageTokens} image, ${stats.reusedPromptTokens} reused) + ${stats.generatedTokens} new tokens`,
    `cache ${stats.cache}`,
    `${stats.precision} on ${stats.provider}`,
    `stop: ${stats.stopReason}`,
  ].join(' · ');
}
