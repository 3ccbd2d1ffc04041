import type { Precision } from '../model/layout.js';
import type { StopReason } from '../generation/generate.js';
import type { Device } from '../runtime/session.js';

/** Per-answer figures, as the CLI prints them and the app shows them. */
export interface AnswerStats {
  /** Vision encoder time for this answer; 0 when the conversation had already encoded its image. */
  readonly imageEncodeMs: number;
  /** Tokenising, embedding and the first decoder pass over the prompt. */
  readonly prefillMs: number;
  /** From the question to the first answer token. */
  readonly timeToFirstTokenMs: number;
  /** Tokens after the first, per second of decoding. */
  readonly decodeTokensPerSecond: number;
  readonly promptTokens: number;
  /** Prompt tokens served from the conversation's KV cache instead of being read again (0 with the cache off). */
  readonly reusedPromptTokens: number;
  readonly imageTokens: number;
  readonly generatedTokens: number;
  readonly totalMs: number;
  readonly cache: 'on' | 'off';
  readonly precision: Precision;
  readonly provider: Exclude<Device, 'auto'>;
  readonly stopReason: StopReason;
  /**
   * Present when the conversation read its capture ahead of this question (`Conversation.readAhead`): how many prompt
   * tokens were already in the KV cache from it, and how long that work took before the question arrived.
   */
  readonly readAhead?: { readonly tokens: number; readonly ms: number };
}

export interface Answer {
  readonly text: string;
  /** Generated ids, the eos token included when generation stopped on it. */
  readonly tokenIds: readonly number[];
  readonly promptTokenIds: readonly number[];
  readonly stats: AnswerStats;
  readonly warnings: readonly string[];
}

export type AnswerEvent =
  | { readonly type: 'warning'; readonly message: string }
  /** A new token; `text` is the visible text it completes (may be empty, never a split character). */
  | { readonly type: 'token'; readonly tokenId: number; readonly text: string }
  /** Text held back at the end (an incomplete character when generation stopped inside one). */
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'done'; readonly answer: Answer };

/** How reading a capture ahead of the question is going: the vision encoder's calls, then the image's prefill. */
export type ReadAheadProgress =
  | { readonly stage: 'encoding'; readonly done: number; readonly total: number }
  | { readonly stage: 'prefill'; readonly tokens: number }
  | { readonly stage: 'ready'; readonly tokens: number };

/** What a finished (or stopped) read-ahead did. */
export interface ReadAheadResult {
  /** Prompt tokens now in the KV cache (0 when stopped before the prefill, or with the cache off). */
  readonly tokens: number;
  readonly ms: number;
  /** True when its signal stopped it; what it had done is kept and the first question continues from there. */
  readonly stopped: boolean;
}
