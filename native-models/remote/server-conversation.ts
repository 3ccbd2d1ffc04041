// One capture and the questions asked about it, answered by a server. A server keeps no state between requests, so
// every question sends the whole conversation: the image (first user turn), each question and each answer so far.
import type { Answer, AnswerEvent, ServerAnswerStats } from '../conversation/answer.js';
import type { AskOptions } from '../conversation/conversation.js';
import { OneAnswerAtATime } from '../conversation/one-answer.js';
import type { ImageDetail } from '../families/family.js';
import { validateGenerationOptions } from '../generation/settings.js';
import type { StopReason } from '../generation/stop-reason.js';
import { ScreenAskError } from '../model/errors.js';
import { chatRequest, optionalFieldsIn, refusesOptionalField, type ChatContentPart, type ChatTurn } from './chat-request.js';
import { failureOf, send, type ServerEndpoint, type Started } from './http.js';
import { readAnswer, type StreamedAnswer } from './read-answer.js';
import type { ServerImage, ServerImageInput, ServerImagePreparer } from './image-preparer.js';
import { ServerError } from './server-errors.js';

export interface RemoteConversationOptions {
  readonly image?: ServerImageInput;
  /** The pixel budget the image is resized to, as for a local Qwen2-VL model (default high). */
  readonly detail?: ImageDetail;
  /** Most pixels the image keeps, overriding the detail's budget (the CLI's --max-pixels). */
  readonly maxPixels?: number;
}

/** What a conversation needs of its model: where to send, which model, and the model's standing warnings. */
export interface ServerTarget {
  readonly endpoint: ServerEndpoint;
  readonly model: string;
  readonly warnings: readonly string[];
  readonly disposed: boolean;
  /** Sizes and encodes the capture (connectServer's `prepareImage`). */
  readonly prepareImage: ServerImagePreparer;
}

const isAbort = (error: unknown): boolean => error instanceof Error && error.name === 'AbortError';

export class RemoteConversation {
  private readonly turns: ChatTurn[] = [];
  private image: ServerImage | undefined;
  private readonly answering = new OneAnswerAtATime();

  constructor(
    private readonly target: ServerTarget,
    private readonly options: RemoteConversationOptions = {},
  ) {}

  /** The messages sent so far and the answers received (a cancelled answer keeps the text it had, if any). */
  get history(): readonly ChatTurn[] {
    return this.turns;
  }

  async *ask(question: string, options: AskOptions = {}): AsyncGenerator<AnswerEvent<ServerAnswerStats>, Answer<ServerAnswerStats>> {
    if (this.target.disposed) throw new ScreenAskError('This server connection was closed: connect again to ask questions.');
    return yield* this.answering.run(() => this.answer(question, options));
  }

  private async *answer(question: string, options: AskOptions): AsyncGenerator<AnswerEvent<ServerAnswerStats>, Answer<ServerAnswerStats>> {
    const { signal, ...rest } = options;
    const settings = validateGenerationOptions(rest);
    const started = performance.now();
    const warnings = [...this.target.warnings];
    if (settings.useCache === false) {
      warnings.push('The cache setting applies to models on this computer: a server manages its own cache, so the answer was asked as usual.');
    }
    for (const message of warnings) yield { type: 'warning', message };

    const prepareStart = performance.now();
    const image = this.options.image !== undefined && !this.image ? await this.prepareImage() : undefined;
    const imagePrepareMs = image ? performance.now() - prepareStart : 0;
    const { baseUrl } = this.target.endpoint;
    const context = { started, imagePrepareMs, maxNewTokens: settings.maxNewTokens };
    if (signal?.aborted) {
      // Cancelled before anything was sent: the conversation stays as it was (the prepared image is kept).
      return yield* this.finish({ text: '', model: this.target.model, usage: undefined, chunks: 0, firstAt: undefined, lastAt: undefined, finishReason: undefined, sentAt: started }, 'cancelled', context, warnings);
    }

    const userTurn: ChatTurn = { role: 'user', content: this.turns.length === 0 && this.image ? this.firstTurnContent(question, this.image) : question };
    const messages = [...this.turns, userTurn];
    let body = chatRequest(this.target.model, messages, settings, { optional: true });
    let sentAt = performance.now();
    let startedResponse: Started;
    try {
      try {
        startedResponse = await send(this.target.endpoint, '/chat/completions', { method: 'POST', body, what: 'the question', model: this.target.model, ...(signal ? { signal } : {}) });
      } catch (error) {
        if (!(error instanceof ServerError) || !refusesOptionalField(error.status, error.serverMessage, body)) throw error;
        const sent = optionalFieldsIn(body);
        const settingsLost = sent.filter((field) => field !== 'stream_options');
        const message =
          `The server at ${baseUrl} refused a field it does not support (${error.serverMessage}): asked again without ${sent.join(', ')}` +
          `${settingsLost.length > 0 ? `, so ${settingsLost.join(' and ')} had no effect` : ''}.`;
        warnings.push(message);
        yield { type: 'warning', message };
        body = chatRequest(this.target.model, messages, settings, { optional: false });
        sentAt = performance.now();
        startedResponse = await send(this.target.endpoint, '/chat/completions', { method: 'POST', body, what: 'the question', model: this.target.model, ...(signal ? { signal } : {}) });
      }
    } catch (error) {
      if (signal?.aborted && isAbort(error)) {
        return yield* this.finish({ text: '', model: this.target.model, usage: undefined, chunks: 0, firstAt: undefined, lastAt: undefined, finishReason: undefined, sentAt }, 'cancelled', context, warnings);
      }
      throw error;
    }

    const streamed: StreamedAnswer = { text: '', model: this.target.model, usage: undefined, chunks: 0, firstAt: undefined, lastAt: undefined, finishReason: undefined, sentAt };
    let cancelled = false;
    try {
      for await (const text of readAnswer(this.target.endpoint, startedResponse, streamed)) yield { type: 'text', text };
    } catch (error) {
      const failure = failureOf(this.target.endpoint, error, startedResponse.watchdog, signal, 'in the middle of the answer');
      if (!(signal?.aborted && isAbort(failure))) throw failure;
      cancelled = true;
    } finally {
      startedResponse.watchdog.stop();
    }
    const stopReason: StopReason = cancelled ? 'cancelled' : this.stopReason(streamed.finishReason, settings.maxNewTokens);
    if (!cancelled || streamed.text !== '') this.turns.push(userTurn, { role: 'assistant', content: streamed.text });
    return yield* this.finish(streamed, stopReason, context, warnings);
  }

  /** The image first, then the question: the order of Qwen's chat template and of the local engine's prompt. */
  private firstTurnContent(question: string, image: ServerImage): readonly ChatContentPart[] {
    return [
      { type: 'image_url', image_url: { url: image.url } },
      { type: 'text', text: question },
    ];
  }

  private async prepareImage(): Promise<ServerImage> {
    const { image, detail = 'high', maxPixels } = this.options;
    this.image = await this.target.prepareImage(image!, detail, maxPixels);
    return this.image;
  }

  /** OpenAI's finish reasons: `length` is our limit when we set one, else the server's (its context or default). */
  private stopReason(finishReason: string | undefined, maxNewTokens: number | undefined): StopReason {
    if (finishReason === 'length') return maxNewTokens !== undefined ? 'max-new-tokens' : 'context-full';
    return 'eos';
  }

  private async *finish(
    streamed: StreamedAnswer,
    stopReason: StopReason,
    context: { started: number; imagePrepareMs: number },
    warnings: readonly string[],
  ): AsyncGenerator<AnswerEvent<ServerAnswerStats>, Answer<ServerAnswerStats>> {
    const { usage, chunks, firstAt, lastAt } = streamed;
    const generatedTokens = usage?.completion_tokens ?? chunks;
    const decodeSeconds = firstAt !== undefined && lastAt !== undefined ? (lastAt - firstAt) / 1000 : 0;
    const stats: ServerAnswerStats = {
      provider: 'remote',
      server: { baseUrl: this.target.endpoint.baseUrl, model: streamed.model },
      imagePrepareMs: context.imagePrepareMs,
      timeToFirstTokenMs: firstAt !== undefined ? firstAt - context.started : 0,
      decodeTokensPerSecond: generatedTokens > 1 && decodeSeconds > 0 ? (generatedTokens - 1) / decodeSeconds : 0,
      promptTokens: usage?.prompt_tokens,
      reusedPromptTokens: usage?.prompt_tokens_details?.cached_tokens ?? undefined,
      image: this.image ? { width: this.image.width, height: this.image.height } : undefined,
      generatedTokens,
      generatedTokensFrom: usage?.completion_tokens !== undefined ? 'server' : 'chunks',
      totalMs: performance.now() - context.started,
      stopReason,
    };
    const answer: Answer<ServerAnswerStats> = { text: streamed.text, tokenIds: [], promptTokenIds: [], stats, warnings };
    yield { type: 'done', answer };
    return answer;
  }
}
