// The ask window's conversation as data: one Turn per question, updated from its answer stream.
import type { AnswerStatsView, ServerAnswerStatsView } from '../../../electron/shared/ipc.js';

export type TurnPhase = 'waiting' | 'streaming' | 'done' | 'stopped' | 'error';

export interface Turn {
  readonly key: number;
  readonly question: string;
  /** The raw answer text as streamed (what Copy copies; the view renders it as Markdown). */
  answer: string;
  askId?: string;
  phase: TurnPhase;
  /** The last progress stage while waiting for the first token. */
  stage?: string;
  warnings: string[];
  /** The answer's figures: the local model's, or a server's (which name the server and model that answered). */
  stats?: AnswerStatsView | ServerAnswerStatsView;
  error?: string;
  /** Stop was pressed, possibly before the ask id was known. */
  stopRequested: boolean;
}

let nextKey = 1;
export function newTurn(question: string): Turn {
  return { key: nextKey++, question, answer: '', phase: 'waiting', warnings: [], stopRequested: false };
}

export function isLive(turn: Turn | undefined): boolean {
  return turn !== undefined && (turn.phase === 'waiting' || turn.phase === 'streaming');
}

/** How a stream's error ends a turn: the main process reports a cancel as an error, which is no error to the user. */
export function endWithError(turn: Turn, message: string): void {
  if (turn.stopRequested) {
    turn.phase = 'stopped';
  } else {
    turn.phase = 'error';
    turn.error = message;
  }
}

export function endWithDone(turn: Turn, stats: AnswerStatsView | ServerAnswerStatsView | undefined): void {
  if (stats) turn.stats = stats;
  turn.phase = turn.stopRequested || stats?.stopReason === 'cancelled' ? 'stopped' : 'done';
}
