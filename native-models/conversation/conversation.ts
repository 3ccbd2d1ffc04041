import type ort from 'onnxruntime-node';
import type { ImageDetail, PreparedImage } from '../families/family.js';
import { concatFloats, embedTokens, encodeVisionCall, mergeImageFeatures } from '../generation/embeddings.js';
import { generate, prefill, type GenerationResult } from '../generation/generate.js';
import { createKvCache, type KvCache } from '../generation/kv-cache.js';
import { resolveGenerationSettings, validateGenerationOptions, type GenerationOptions } from '../generation/settings.js';
import { loadImage, type RgbImage } from '../image/load-image.js';
import { ScreenAskError } from '../model/errors.js';
import type { LoadedModel } from '../model/load.js';
import type { FloatData } from '../runtime/tensors.js';
import { renderChatTemplate, type ChatMessage } from '../text/chat-template.js';
import { StreamDecoder } from '../text/stream-decoder.js';
import type { Answer, AnswerEvent, AnswerStats, ReadAheadProgress, ReadAheadResult } from './answer.js';
import { holdsImage, startingTurns } from './history.js';
import { imageKey, type EncodedImage } from './image-cache.js';
import { OneAnswerAtATime } from './one-answer.js';

/** A file path, encoded image bytes, decoded pixels, or an image already prepared for the model's vision graph. */
export type ImageInput = string | Uint8Array | RgbImage | PreparedImage;

export interface ConversationOptions {
  readonly image?: ImageInput;
  readonly detail?: ImageDetail;
  /**
   * Turns the conversation starts from (a system message, or an exchange that happened elsewhere): the first `ask`
   * continues after them. At most one image part, in a user message, standing for `image`; without one, the image goes
   * with the first question. See history.ts.
   */
  readonly history?: readonly ChatMessage[];
}

export interface AskOptions extends GenerationOptions {
  readonly signal?: AbortSignal;
}

export interface ReadAheadOptions {
  /** Stops between units of work (a vision call, the prefill); what was done is kept. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ReadAheadProgress) => void;
  /**
   * Awaited before each unit of work: a host running other answers in the same process holds the read-ahead here so
   * that it never delays them (each unit blocks the thread while it runs).
   */
  readonly pause?: () => Promise<void>;
  /** The cache setting the first question will use: with the cache off there is nothing worth prefilling. */
  readonly useCache?: boolean;
}

/** Stands for the question while rendering the chat template, to find where the question's text begins. */
const QUESTION_MARK = 'SCREENASKQUESTIONSTARTSHERE';

function isPrepared(image: ImageInput): image is PreparedImage {
  return typeof image === 'object' && 'visionFeeds' in image;
}

function isRgb(image: ImageInput): image is RgbImage {
  return typeof image === 'object' && 'width' in image && 'data' in image;
}

/** Waits for `work` to settle (fulfilled or rejected); false when `signal` aborts first. */
function settledUnlessAborted(work: Promise<unknown>, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => resolve(false);
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(
      () => resolve(true),
      () => resolve(true),
    ).finally(() => signal?.removeEventListener('abort', onAbort));
  });
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/**
 * One capture and the questions asked about it. Owns the per-conversation state: the encoded image, the turns so far
 * and the KV cache of everything already read. A follow-up reads only what the cache does not hold: the cache keeps
 * the longest prefix it shares with the new prompt (at least the image and the first question), so the result is
 * exactly that of reading the whole conversation again. With the cache off, every answer reads everything.
 */
export class Conversation {
  private readonly turns: ChatMessage[] = [];
  private encoded: EncodedImage | undefined;
  /** The image's vision calls and the features of those done so far, while the image is being encoded. */
  private encoding: { prepared: PreparedImage; calls: readonly Record<string, ort.Tensor>[]; features: FloatData[]; key: string | undefined } | undefined;
  private cache: KvCache | undefined;
  /** The ids whose keys and values the cache holds, in order. */
  private cachedIds: number[] = [];
  private readonly answering = new OneAnswerAtATime();
  /** The read-ahead in progress; an ask waits for it and continues from where it got to. */
  private reading: Promise<ReadAheadResult> | undefined;
  /** What the read-ahead did, reported by the first answer. */
  private readAheadDone: ReadAheadResult | undefined;

  constructor(
    private readonly model: LoadedModel,
    private readonly options: ConversationOptions = {},
  ) {
    this.turns.push(...startingTurns(options.history, options.image !== undefined));
  }

  /** Questions and answers so far (a cancelled answer keeps the text it had). */
  get history(): readonly ChatMessage[] {
    return this.turns;
  }

  async *ask(question: string, options: AskOptions = {}): AsyncGenerator<AnswerEvent, Answer> {
    if (this.model.state.closed) throw new ScreenAskError('The model was unloaded: load it again to ask questions.');
    return yield* this.answering.run(() => this.answer(question, options));
  }

  /**
   * Reads the capture before the first question exists: preprocesses and encodes the image, then prefills the prompt
   * up to where the question's text begins (in the families' chat templates the image comes first, and a special
   * token ends it, so that prefix tokenizes the same alone as in the whole prompt). The first `ask` then reads only
   * what the cache lacks, by the same longest-shared-prefix rule as follow-ups, so its answer is token for token the
   * one without the read-ahead. An `ask` that comes while this runs waits for it and goes on from where it got to.
   */
  readAhead(options: ReadAheadOptions = {}): Promise<ReadAheadResult> {
    if (this.model.state.closed) return Promise.reject(new ScreenAskError('The model was unloaded: load it again to read a capture.'));
    if (this.answering.busy || this.reading || this.turns.length > 0) {
      return Promise.reject(new ScreenAskError('This conversation has already started: read a capture ahead only before its first question.'));
    }
    const reading = this.readAheadNow(options);
    this.reading = reading;
    void reading.then(
      (result) => (this.readAheadDone = result),
      () => undefined,
    ).finally(() => {
      if (this.reading === reading) this.reading = undefined;
    });
    return reading;
  }

  private async readAheadNow({ signal, onProgress, pause, useCache = true }: ReadAheadOptions): Promise<ReadAheadResult> {
    const started = performance.now();
    const stopped = (): ReadAheadResult => ({ tokens: this.cache?.length ?? 0, ms: performance.now() - started, stopped: true });
    const units = { signal, pause, onProgress };
    const { image } = await this.encodeImage(units);
    if (!image) return signal?.aborted ? stopped() : { tokens: 0, ms: performance.now() - started, stopped: false };
    const prefixIds = useCache ? this.questionPrefixIds(image) : undefined;
    if (!prefixIds) return { tokens: 0, ms: performance.now() - started, stopped: false };
    await pause?.();
    if (signal?.aborted) return stopped();
    onProgress?.({ stage: 'prefill', tokens: prefixIds.length });
    const cache = (this.cache ??= createKvCache(this.model.graphs.signature));
    cache.clear();
    const embeds = await embedTokens(this.model.graphs, prefixIds);
    mergeImageFeatures(embeds, prefixIds, this.model.family.imageTokenId, image.features, this.model.graphs.hiddenSize);
    await prefill(this.model.graphs, { ids: prefixIds, embeds }, this.model.family.positions([image.prepared]), cache);
    this.cachedIds = prefixIds;
    onProgress?.({ stage: 'ready', tokens: prefixIds.length });
    return { tokens: prefixIds.length, ms: performance.now() - started, stopped: false };
  }

  /** The ids of the first turn's prompt up to where the question's text begins, or undefined if the template hides it. */
  private questionPrefixIds(image: EncodedImage): number[] | undefined {
    const { tokenizer, family } = this.model;
    const rendered = renderChatTemplate(tokenizer.chatTemplate, [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: QUESTION_MARK }] }], {
      addGenerationPrompt: true,
      specialTokens: tokenizer.specialTokens,
    });
    const at = rendered.indexOf(QUESTION_MARK);
    if (at <= 0) return undefined;
    return tokenizer.encode(family.expandPrompt(rendered.slice(0, at), [image.prepared]), { addSpecialTokens: true });
  }

  private async *answer(question: string, options: AskOptions): AsyncGenerator<AnswerEvent, Answer> {
    const { signal, ...rest } = options;
    const generationOptions = validateGenerationOptions(rest);
    const started = performance.now();
    const { settings, warnings } = resolveGenerationSettings(this.model.configs, generationOptions);
    const allWarnings = [...this.model.warnings, ...warnings];
    for (const message of allWarnings) yield { type: 'warning', message };

    // Nothing was asked yet (cancelled while waiting for the read-ahead or while the image was being encoded): the
    // conversation stays as it was, and the frames already encoded are kept for the next question.
    const cancelledBeforeAsking = (waitMs: number, imageEncodeMs: number): Answer => {
      const result: GenerationResult = { tokenIds: [], stopReason: 'cancelled', timings: { prefillMs: 0, firstTokenMs: 0, decodeMs: 0 } };
      const context = { promptIds: [], reused: 0, image: undefined, useCache: settings.useCache, readAhead: undefined };
      return { text: '', tokenIds: [], promptTokenIds: [], stats: this.stats(result, { started, waitMs, imageEncodeMs, promptMs: 0 }, context), warnings: allWarnings };
    };

    // A read-ahead still running: wait for it (it never starts again); if it failed, the ask meets the same problem
    // below and reports it as its own. The ask's own signal ends the wait: the read-ahead goes on under its own.
    if (this.reading && !(await settledUnlessAborted(this.reading, signal))) {
      const answer = cancelledBeforeAsking(performance.now() - started, 0);
      yield { type: 'done', answer };
      return answer;
    }
    const readAhead = this.turns.length === 0 ? this.readAheadDone : undefined;
    const waitMs = performance.now() - started;
    const { image, encodeMs: imageEncodeMs } = await this.encodeImage({ signal });
    if (!image && this.options.image !== undefined) {
      const answer = cancelledBeforeAsking(waitMs, imageEncodeMs);
      yield { type: 'done', answer };
      return answer;
    }
    const promptStart = performance.now();
    const isFirstTurn = this.turns.length === 0;
    const userTurn: ChatMessage = {
      role: 'user',
      content: [...(image && !holdsImage(this.turns) ? [{ type: 'image' as const }] : []), { type: 'text', text: question }],
    };
    const promptIds = this.promptIds([...this.turns, userTurn], image);
    const { maxContext } = this.model;
    if (maxContext !== undefined && promptIds.length >= maxContext) {
      throw new ScreenAskError(this.doesNotFit(question, promptIds.length, maxContext, isFirstTurn, image));
    }

    const cache = (this.cache ??= createKvCache(this.model.graphs.signature));
    // Reuse needs the cache; keep at least one prompt token to read, for the logits of the first answer token.
    const shared = settings.useCache ? Math.min(commonPrefix(this.cachedIds, promptIds), promptIds.length - 1) : 0;
    const reused = shared > 0 ? cache.truncate(shared) : 0;
    if (reused === 0) cache.clear();
    const embeds = await embedTokens(this.model.graphs, promptIds.slice(reused));
    if (image) {
      const { family, graphs } = this.model;
      mergeImageFeatures(embeds, promptIds, family.imageTokenId, image.features, graphs.hiddenSize, reused);
    }
    const promptMs = performance.now() - promptStart;

    const decoder = new StreamDecoder(this.model.tokenizer);
    const positions = this.model.family.positions(image ? [image.prepared] : []);
    const loop = generate(this.model.graphs, { ids: promptIds, embeds }, positions, settings, cache, {
      ...(signal ? { signal } : {}),
      ...(maxContext !== undefined ? { maxContext } : {}),
    });
    let step = await loop.next();
    while (!step.done) {
      yield { type: 'token', tokenId: step.value, text: decoder.push(step.value) };
      step = await loop.next();
    }
    const tail = decoder.flush();
    if (tail) yield { type: 'text', text: tail };
    const result = step.value;
    const text = this.model.tokenizer.decode(result.tokenIds, { skipSpecialTokens: true });

    this.cachedIds = [...promptIds, ...result.tokenIds].slice(0, cache.length);
    this.turns.push(userTurn, { role: 'assistant', content: [{ type: 'text', text }] });
    const answer: Answer = {
      text,
      tokenIds: result.tokenIds,
      promptTokenIds: promptIds,
      stats: this.stats(
        result,
        { started, waitMs, imageEncodeMs, promptMs },
        { promptIds, reused, image, useCache: settings.useCache, readAhead },
      ),
      warnings: allWarnings,
    };
    yield { type: 'done', answer };
    return answer;
  }

  /**
   * Why a question is refused, with the fix that works: later in a conversation, a new conversation on the same
   * capture; on the first turn, a shorter question, with the limit.
   */
  private doesNotFit(question: string, promptLength: number, maxContext: number, isFirstTurn: boolean, image: EncodedImage | undefined): string {
    if (!isFirstTurn) {
      return (
        `This conversation has reached the model's context (${promptLength} of ${maxContext} tokens): ` +
        'start a new conversation on the same capture (its image stays encoded) or use low image detail.'
      );
    }
    const n = (value: number): string => value.toLocaleString('en');
    const questionTokens = Math.max(1, this.model.tokenizer.encode(question).length);
    // The prompt may take at most maxContext - 1 tokens: the answer needs room for one.
    const room = maxContext - 1 - (promptLength - questionTokens);
    const ofImage = image ? ` (${n(image.prepared.tokenCount)} of them the image)` : '';
    const prompt = `the prompt is ${n(promptLength)} tokens${ofImage} and the model's context holds ${n(maxContext)} (prompt and answer together)`;
    if (room < 1) return `This question cannot fit: ${prompt}. Use ${image ? 'low image detail or ' : ''}a model with a longer context.`;
    const characters = Math.floor((room * question.length) / questionTokens);
    return `This question is too long for the model: ${prompt}. Shorten it to at most ${n(room)} tokens (about ${n(characters)} characters).`;
  }

  /**
   * The conversation's encoded image: found in the model's image cache, or preprocessed and encoded one vision call at
   * a time, resuming after the last call a stopped read-ahead finished. Undefined when the conversation has no image,
   * or when `signal` stopped it part-way (an answer's signal then makes the answer stop too).
   */
  private async encodeImage({ signal, pause, onProgress }: Pick<ReadAheadOptions, 'signal' | 'pause' | 'onProgress'>): Promise<{ image: EncodedImage | undefined; encodeMs: number }> {
    if (this.encoded || this.options.image === undefined) return { image: this.encoded, encodeMs: 0 };
    const start = performance.now();
    if (!this.encoding) {
      const source = this.options.image;
      const detail = this.options.detail ?? 'high';
      const key = isPrepared(source) ? undefined : await imageKey(source, detail);
      const cached = key === undefined ? undefined : this.model.imageCache.get(key);
      if (cached) {
        onProgress?.({ stage: 'encoding', done: 1, total: 1 });
        this.encoded = cached;
        return { image: cached, encodeMs: 0 };
      }
      const prepared = isPrepared(source)
        ? source
        : await this.model.family.prepareImage(isRgb(source) ? source : await loadImage(source), detail);
      this.encoding = { prepared, calls: this.model.family.visionCalls(prepared), features: [], key };
    }
    const encoding = this.encoding;
    while (encoding.features.length < encoding.calls.length) {
      await pause?.();
      if (signal?.aborted) return { image: undefined, encodeMs: performance.now() - start };
      encoding.features.push(await encodeVisionCall(this.model.graphs, encoding.calls[encoding.features.length]!));
      onProgress?.({ stage: 'encoding', done: encoding.features.length, total: encoding.calls.length });
    }
    const [first, ...rest] = encoding.features;
    const features = rest.length === 0 ? first! : concatFloats(first!, ...rest);
    this.encoded = { prepared: encoding.prepared, features };
    this.encoding = undefined;
    if (encoding.key !== undefined) this.model.imageCache.set(encoding.key, this.encoded);
    return { image: this.encoded, encodeMs: performance.now() - start };
  }

  private promptIds(messages: readonly ChatMessage[], image: EncodedImage | undefined): number[] {
    const { tokenizer, family } = this.model;
    // What the user (or a system message) typed is text, even where it spells a control token (see TextTokenizer.literal).
    const asText = messages.map((m) =>
      m.role !== 'assistant' ? { ...m, content: m.content.map((c) => (c.type === 'text' ? { ...c, text: tokenizer.literal(c.text) } : c)) } : m,
    );
    const rendered = renderChatTemplate(tokenizer.chatTemplate, asText, {
      addGenerationPrompt: true,
      specialTokens: tokenizer.specialTokens,
    });
    // As the reference processors do: tokenize the expanded prompt with the tokenizer's own special-token rules.
    return tokenizer.encode(family.expandPrompt(rendered, image ? [image.prepared] : []), { addSpecialTokens: true });
  }

  private stats(
    result: GenerationResult,
    timing: { started: number; waitMs: number; imageEncodeMs: number; promptMs: number },
    context: { promptIds: readonly number[]; reused: number; image: EncodedImage | undefined; useCache: boolean; readAhead: ReadAheadResult | undefined },
  ): AnswerStats {
    const { timings, tokenIds } = result;
    const decodeSteps = tokenIds.length - 1;
    return {
      imageEncodeMs: timing.imageEncodeMs,
      prefillMs: timing.promptMs + timings.prefillMs,
      timeToFirstTokenMs: timing.waitMs + timing.imageEncodeMs + timing.promptMs + timings.firstTokenMs,
      decodeTokensPerSecond: decodeSteps > 0 && timings.decodeMs > 0 ? (decodeSteps * 1000) / timings.decodeMs : 0,
      promptTokens: context.promptIds.length,
      reusedPromptTokens: context.reused,
      imageTokens: context.image?.prepared.tokenCount ?? 0,
      generatedTokens: tokenIds.length,
      totalMs: performance.now() - timing.started,
      cache: context.useCache ? 'on' : 'off',
      precision: this.model.precision,
      provider: this.model.graphs.provider,
      stopReason: result.stopReason,
      ...(context.readAhead ? { readAhead: { tokens: Math.min(context.readAhead.tokens, context.reused), ms: context.readAhead.ms } } : {}),
    };
  }
}
