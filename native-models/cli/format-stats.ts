import type { AnyAnswerStats, ServerAnswerStats } from '../conversation/answer.js';

const ms = (value: number) => `${Math.round(value)} ms`;

/** One human-readable line of per-answer figures, from this computer's model or a server. */
export function formatStats(stats: AnyAnswerStats): string {
  if (stats.provider === 'remote') return formatServerStats(stats);
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

/** A server's answer: who answered, what this computer timed, and the token counts only where they are known. */
function formatServerStats(stats: ServerAnswerStats): string {
  const { promptTokens, reusedPromptTokens, generatedTokens, generatedTokensFrom } = stats;
  const generated = generatedTokensFrom === 'server' ? `${generatedTokens} new tokens` : `${generatedTokens} new tokens (counted: the server reported no usage)`;
  const prompt = promptTokens === undefined ? '' : `${promptTokens} prompt${reusedPromptTokens !== undefined ? ` (${reusedPromptTokens} cached)` : ''} + `;
  return [
    `answered by ${stats.server.baseUrl} (${stats.server.model})`,
    `first token ${ms(stats.timeToFirstTokenMs)}`,
    `${stats.decodeTokensPerSecond.toFixed(1)} tok/s`,
    ...(stats.image ? [`image ${stats.image.width}×${stats.image.height} sent`] : []),
    `${prompt}${generated}`,
    `stop: ${stats.stopReason}`,
  ].join(' · ');
}
