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

/**
 * Per-answer figures when a server answered (native-models/remote): what this computer can time, and what the server
 * reported. A separate type rather than optional fields on AnswerStats: the engine-only figures (image encoding,
 * prefill, cache, precision, provider) are unknown here, and a placeholder would be shown as if it were measured.
 */
export interface ServerAnswerStats {
  readonly provider: 'remote';
  /** Who answered: the base URL asked, and the model as the server named it in its reply. */
  readonly server: { readonly baseUrl: string; readonly model: string };
  /** Resizing the capture and encoding it as PNG on this computer (0 on follow-ups: it is sent as prepared). */
  readonly imagePrepareMs: number;
  /** From sending the request to the first answer text (upload, queueing, the server's prefill, the network). */
  readonly timeToFirstTokenMs: number;
  /** Tokens after the first, per second between the first and the last answer text (0 when unknown). */
  readonly decodeTokensPerSecond: number;
  /** From the server's `usage`; undefined when it sent none. */
  readonly promptTokens: number | undefined;
  /** Prompt tokens the server served from its prefix cache (`usage.prompt_tokens_details.cached_tokens`), if reported. */
  readonly reusedPromptTokens: number | undefined;
  /** The image's size as sent (every turn carries it: the server keeps no state between requests). */
  readonly image: { readonly width: number; readonly height: number } | undefined;
  readonly generatedTokens: number;
  /** 'server': `generatedTokens` is the server's usage figure; 'chunks': counted stream chunks (about one token each). */
  readonly generatedTokensFrom: 'server' | 'chunks';
  readonly totalMs: number;
  readonly stopReason: StopReason;
}

/**
 * One answer, from the local engine (`Answer`, stats: AnswerStats) or a server (`Answer<ServerAnswerStats>`). A
 * consumer of either streams `AnswerEvent<AnyAnswerStats>`.
 */
export interface Answer<Stats extends AnyAnswerStats = AnswerStats> {
  readonly text: string;
  /** Generated ids, the eos token included when generation stopped on it; empty from a server (it sends text). */
  readonly tokenIds: readonly number[];
  /** Empty from a server. */
  readonly promptTokenIds: readonly number[];
  readonly stats: Stats;
  readonly warnings: readonly string[];
}

export type AnyAnswerStats = AnswerStats | ServerAnswerStats;

export type AnswerEvent<Stats extends AnyAnswerStats = AnswerStats> =
  | { readonly type: 'warning'; readonly message: string }
  /** A new token; `text` is the visible text it completes (may be empty, never a split character). */
  | { readonly type: 'token'; readonly tokenId: number; readonly text: string }
  /**
   * Text that is no single token of ours: held back at the end (an incomplete character when generation stopped
   * inside one), or a server's streamed text (it sends text, not token ids).
   */
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'done'; readonly answer: Answer<Stats> };

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
