import type { ImageDetail, PreparedImage } from '../families/family.js';
import { embedTokens, mergeImageFeatures } from '../generation/embeddings.js';
import { generate, type GenerationResult } from '../generation/generate.js';
import { createKvCache, type KvCache } from '../generation/kv-cache.js';
import { resolveGenerationSettings, validateGenerationOptions, type GenerationOptions } from '../generation/settings.js';
import { loadImage, type RgbImage } from '../image/load-image.js';
import { ScreenAskError } from '../model/errors.js';
import type { LoadedModel } from '../model/load.js';
import { floatsAs } from '../runtime/tensors.js';
import { renderChatTemplate, type ChatMessage } from '../text/chat-template.js';
import { StreamDecoder } from '../text/stream-decoder.js';
import type { Answer, AnswerEvent, AnswerStats } from './answer.js';
import { imageKey, type EncodedImage } from './image-cache.js';

/** A file path, encoded image bytes, decoded pixels, or an image already prepared for the model's vision graph. */
export type ImageInput = string | Uint8Array | RgbImage | PreparedImage;

export interface ConversationOptions {
  readonly image?: ImageInput;
  readonly detail?: ImageDetail;
}

export interface AskOptions extends GenerationOptions {
  readonly signal?: AbortSignal;
}

function isPrepared(image: ImageInput): image is PreparedImage {
  return typeof image === 'object' && 'visionFeeds' in image;
}

function isRgb(image: ImageInput): image is RgbImage {
  return typeof image === 'object' && 'width' in image && 'data' in image;
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
  private cache: KvCache | undefined;
  /** The ids whose keys and values the cache holds, in order. */
  private cachedIds: number[] = [];
  private busy = false;

  constructor(
    private readonly model: LoadedModel,
    private readonly options: ConversationOptions = {},
  ) {}

  /** Questions and answers so far (a cancelled answer keeps the text it had). */
  get history(): readonly ChatMessage[] {
    return this.turns;
  }

  async *ask(question: string, options: AskOptions = {}): AsyncGenerator<AnswerEvent, Answer> {
    if (this.model.state.closed) throw new ScreenAskError('The model was unloaded: load it again to ask questions.');
    if (this.busy) throw new ScreenAskError('This conversation is still answering: wait for it or cancel it first.');
    this.busy = true;
    try {
      return yield* this.answer(question, options);
    } finally {
      this.busy = false;
    }
  }

  private async *answer(question: string, options: AskOptions): AsyncGenerator<AnswerEvent, Answer> {
    const { signal, ...rest } = options;
    const generationOptions = validateGenerationOptions(rest);
    const started = performance.now();
    const { settings, warnings } = resolveGenerationSettings(this.model.configs, generationOptions);
    const allWarnings = [...this.model.warnings, ...warnings];
    for (const message of allWarnings) yield { type: 'warning', message };

    const { image, encodeMs: imageEncodeMs } = await this.encodeImageOnce();
    const promptStart = performance.now();
    const isFirstTurn = this.turns.length === 0;
    const userTurn: ChatMessage = {
      role: 'user',
      content: [...(image && isFirstTurn ? [{ type: 'image' as const }] : []), { type: 'text', text: question }],
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
      stats: this.stats(result, { started, imageEncodeMs, promptMs }, { promptIds, reused, image, useCache: settings.useCache }),
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

  /** Preprocesses and encodes the conversation's image the first time it is needed, or finds it already encoded. */
  private async encodeImageOnce(): Promise<{ image: EncodedImage | undefined; encodeMs: number }> {
    if (this.encoded || this.options.image === undefined) return { image: this.encoded, encodeMs: 0 };
    const start = performance.now();
    const source = this.options.image;
    const detail = this.options.detail ?? 'high';
    const key = isPrepared(source) ? undefined : await imageKey(source, detail);
    const cached = key === undefined ? undefined : this.model.imageCache.get(key);
    if (cached) {
      this.encoded = cached;
      return { image: cached, encodeMs: 0 };
    }
    const prepared = isPrepared(source)
      ? source
      : await this.model.family.prepareImage(isRgb(source) ? source : await loadImage(source), detail);
    const { vision, signature } = this.model.graphs;
    const feeds = Object.fromEntries(
      Object.entries(prepared.visionFeeds).filter(([name]) => vision.inputNames.includes(name)),
    );
    const outputs = await vision.run(feeds);
    const features = floatsAs(outputs.image_features ?? Object.values(outputs)[0]!, signature.embedsType);
    this.encoded = { prepared, features };
    if (key !== undefined) this.model.imageCache.set(key, this.encoded);
    return { image: this.encoded, encodeMs: performance.now() - start };
  }

  private promptIds(messages: readonly ChatMessage[], image: EncodedImage | undefined): number[] {
    const { tokenizer, family } = this.model;
    // What the user typed is text, even where it spells a control token (see TextTokenizer.literal).
    const asText = messages.map((m) =>
      m.role === 'user' ? { ...m, content: m.content.map((c) => (c.type === 'text' ? { ...c, text: tokenizer.literal(c.text) } : c)) } : m,
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
    timing: { started: number; imageEncodeMs: number; promptMs: number },
    context: { promptIds: readonly number[]; reused: number; image: EncodedImage | undefined; useCache: boolean },
  ): AnswerStats {
    const { timings, tokenIds } = result;
    const decodeSteps = tokenIds.length - 1;
    return {
      imageEncodeMs: timing.imageEncodeMs,
      prefillMs: timing.promptMs + timings.prefillMs,
      timeToFirstTokenMs: timing.imageEncodeMs + timing.promptMs + timings.firstTokenMs,
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
    };
  }
}
