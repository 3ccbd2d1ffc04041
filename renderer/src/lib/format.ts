// Numbers as the views show them. A renderer copy of the model manager's formatBytes (native-models/hub is Node code
// and cannot be bundled into the sandboxed page); same decimal units, so the CLI and the app print the same sizes.
import type { AnswerStatsView, ServerAnswerStatsView } from '../../../electron/shared/ipc.js';
import type { ReadAheadProgress } from '../../../native-models/conversation/answer.js';

export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  const rest = Math.round(seconds % 60);
  if (minutes < 60) return rest ? `${minutes} min ${rest} s` : `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${minutes % 60} min`;
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : formatSeconds(ms / 1000);
}

export function formatRate(tokensPerSecond: number): string {
  return `${tokensPerSecond.toFixed(tokensPerSecond < 10 ? 1 : 0)} tokens/s`;
}

const providerNames: Readonly<Record<string, string>> = {
  cpu: 'CPU',
  webgpu: 'WebGPU',
  cuda: 'CUDA',
  dml: 'DirectML',
  coreml: 'Core ML',
};
export function providerName(provider: string): string {
  return providerNames[provider] ?? provider;
}

const stopNotes: Readonly<Record<string, string>> = {
  'max-new-tokens': 'stopped at the max new tokens limit',
  'context-full': 'stopped: the conversation filled the model’s context',
  cancelled: 'stopped',
};

/** host[:port] of a server's address (the address itself if it does not parse). */
export function serverHost(baseUrl: string): string {
  try {
    return new URL(baseUrl).host;
  } catch {
    return baseUrl;
  }
}

/** "answered by MODEL on HOST": every answer from a server says which one answered. */
export function answeredBy(stats: ServerAnswerStatsView): string {
  return `answered by ${stats.server.model} on ${serverHost(stats.server.baseUrl)}`;
}

/** A server's figures: timed on this computer; tokens as the server counted them (or stream chunks, about one each). */
function serverStatsParts(stats: ServerAnswerStatsView): string[] {
  const tokens = `${stats.generatedTokensFrom === 'chunks' ? 'about ' : ''}${stats.generatedTokens} ${stats.generatedTokens === 1 ? 'token' : 'tokens'}`;
  const parts = [tokens, `first token ${formatMs(stats.timeToFirstTokenMs)}`];
  if (stats.decodeTokensPerSecond > 0) parts.push(formatRate(stats.decodeTokensPerSecond));
  parts.push(answeredBy(stats));
  return parts;
}

/** The parts of an answer's stats line, in reading order (joined with " · " for display). */
export function statsParts(stats: AnswerStatsView | ServerAnswerStatsView): string[] {
  if (stats.provider === 'remote') {
    const parts = serverStatsParts(stats);
    const note = stopNotes[stats.stopReason];
    return note ? [...parts, note] : parts;
  }
  // The token count leads: "N tokens" is the figure people (and tests) look for first.
  const parts = [
    `${stats.generatedTokens} ${stats.generatedTokens === 1 ? 'token' : 'tokens'}`,
    `first token ${formatMs(stats.timeToFirstTokenMs)}`,
    ...(stats.readAhead ? [`screen read ahead (${stats.readAhead.tokens} tokens, ${formatMs(stats.readAhead.ms)})`] : []),
    formatRate(stats.decodeTokensPerSecond),
    `cache ${stats.cache}`,
    providerName(stats.provider),
    stats.precision,
  ];
  const note = stopNotes[stats.stopReason];
  if (note) parts.push(note);
  return parts;
}

export function formatStats(stats: AnswerStatsView | ServerAnswerStatsView): string {
  const text = statsParts(stats).join(' · ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** What the ask window says while the model reads the capture ahead of the question. */
export function readAheadLabel(progress: ReadAheadProgress): string {
  switch (progress.stage) {
    case 'encoding':
      return progress.total > 1 ? `Reading the screen… ${progress.done}/${progress.total}` : 'Reading the screen…';
    case 'prefill':
      return 'Reading the screen… almost done';
    case 'ready':
      return 'Screen read: the answer starts as soon as you ask.';
  }
}

/** A history timestamp in the user's locale; the raw string when it does not parse. */
export function formatWhen(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
