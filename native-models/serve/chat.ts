// One chat completion: the engine's answer events, through the stop sequences, out as one JSON body or as a stream.
import type { ServerResponse } from 'node:http';
import type { Answer } from '../conversation/answer.js';
import type { Model } from '../index.js';
import type { ConversationKeeper } from './conversation-keeper.js';
import { toApiError } from './errors.js';
import { undecodableImage } from './images.js';
import type { ConversationPlan } from './messages.js';
import { chunkBody, completionBody, completionMeta, extraOf, usageChunk, type FinishReason } from './openai-format.js';
import type { AnswerSettings } from './settings.js';
import { SseWriter } from './sse.js';
import { StopMatcher } from './stop.js';

/** What happened to one completion, for the server's log (and the tests). */
export interface CompletionRecord {
  readonly id: string;
  readonly stream: boolean;
  /** True when it continued the kept conversation (its KV cache reused). */
  readonly continued: boolean;
  /** Undefined when the client hung up before the end. */
  readonly finishReason: FinishReason | undefined;
  readonly answer: Answer;
}

export interface ChatJob {
  readonly model: Model;
  readonly modelId: string;
  readonly keeper: ConversationKeeper;
  readonly plan: ConversationPlan;
  readonly settings: AnswerSettings;
  /** Aborted when the client hangs up: the answer stops and the model is free for the next request. */
  readonly signal: AbortSignal;
}

/**
 * Answers `job` into `res`. Errors before the first streamed byte are thrown (the caller sends their status); after
 * it, they end the stream with an error event.
 */
export async function answerChat(job: ChatJob, res: ServerResponse): Promise<CompletionRecord> {
  const { model, modelId, keeper, plan, settings, signal } = job;
  const meta = completionMeta(modelId);
  const { conversation, continued } = keeper.take(model, plan);
  // A stop sequence ends generation the way a hang-up does: the engine stops at the next token.
  const stopped = new AbortController();
  const matcher = new StopMatcher(settings.stop);
  const sse = settings.stream ? new SseWriter(res) : undefined;
  let text = '';
  const emit = (delta: string): void => {
    if (!delta) return;
    text += delta;
    sse?.send(chunkBody(meta, { content: delta }, null, settings.includeUsage));
  };

  let answer: Answer | undefined;
  try {
    const events = conversation.ask(plan.question, { ...settings.generation, signal: AbortSignal.any([signal, stopped.signal]) });
    for await (const event of events) {
      if (event.type === 'done') answer = event.answer;
      if (event.type !== 'token' && event.type !== 'text') continue;
      if (sse && !sse.open) sse.send(chunkBody(meta, { role: 'assistant', content: '' }, null, settings.includeUsage));
      const step = matcher.push(event.text);
      emit(step.text);
      if (step.stopped) stopped.abort();
    }
  } catch (error) {
    const failure = undecodableImage(error, plan.image);
    if (!sse?.open) throw failure;
    sse.fail(toApiError(failure).body);
    throw failure;
  }
  if (!answer) throw new Error('the answer ended without a done event');
  emit(matcher.flush());

  const byClient = signal.aborted && !stopped.signal.aborted;
  const finishReason: FinishReason | undefined = byClient ? undefined : stopped.signal.aborted || answer.stats.stopReason === 'eos' ? 'stop' : 'length';
  if (finishReason === undefined) return { id: meta.id, stream: settings.stream, continued, finishReason, answer };
  keeper.keep(conversation, plan, answer);

  if (!sse) {
    const body = JSON.stringify(completionBody(meta, text, finishReason, answer, continued));
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
  } else {
    if (!sse.open) sse.send(chunkBody(meta, { role: 'assistant', content: '' }, null, settings.includeUsage));
    sse.send(chunkBody(meta, {}, finishReason, settings.includeUsage, extraOf(answer, continued)));
    if (settings.includeUsage) sse.send(usageChunk(meta, answer.stats));
    sse.done();
  }
  return { id: meta.id, stream: settings.stream, continued, finishReason, answer };
}
