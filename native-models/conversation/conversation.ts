import type { ImageDetail, PreparedImage } from '../families/family.js';
import { embedTokens, mergeImageFeatures } from '../generation/embeddings.js';
import { generate, type GenerationResult } from '../generation/generate.js';
import { resolveGenerationSettings, validateGenerationOptions, type GenerationOptions } from '../generation/settings.js';
import { loadImage, type RgbImage } from '../image/load-image.js';
import type { LoadedModel } from '../model/load.js';
import { floatsAs, type FloatData } from '../runtime/tensors.js';
import { renderChatTemplate, type ChatMessage } from '../text/chat-template.js';
import { StreamDecoder } from '../text/stream-decoder.js';
import type { Answer, AnswerEvent, AnswerStats } from './answer.js';

/** A file path, encoded image bytes, decoded pixels, or an image already prepared for the model's vision graph. */
export type ImageInput = string | Uint8Array | RgbImage | PreparedImage;

export interface ConversationOptions {
  readonly image?: ImageInput;
  readonly detail?: ImageDetail;
}

export interface AskOptions extends GenerationOptions {
  readonly signal?: AbortSignal;
}

interface EncodedImage {
  readonly prepared: PreparedImage;
  readonly features: FloatData;
}

function isPrepared(image: ImageInput): image is PreparedImage {
  return typeof image === 'object' && 'visionFeeds' in image;
}

function isRgb(image: ImageInput): image is RgbImage {
  return typeof image === 'object' && 'width' in image && 'data' in image;
}

/**
 * One capture and the questions asked about it. Owns the per-conversation state: the encoded image (encoded once)
 * and the turns so far. Each answer's decoding state lives in the generation loop.
 */
export class Conversation {
  private readonly turns: ChatMessage[] = [];
  private encoded: EncodedImage | undefined;

  constructor(
    private readonly model: LoadedModel,
    private readonly options: ConversationOptions = {},
  ) {}

  /** Questions and answers so far. */
  get history(): readonly ChatMessage[] {
    return this.turns;
  }

  async *ask(question: string, options: AskOptions = {}): AsyncGenerator<AnswerEvent, Answer> {
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
    const messages = [...this.turns, userTurn];
    const promptIds = this.promptIds(messages, image);
    const embeds = await embedTokens(this.model.graphs, promptIds);
    if (image) {
      mergeImageFeatures(embeds, promptIds, this.model.family.imageTokenId, image.features, this.model.graphs.hiddenSize);
    }

    const promptMs = performance.now() - promptStart;
    const timing = { started, imageEncodeMs, promptMs };

    const decoder = new StreamDecoder(this.model.tokenizer);
    const positions = this.model.family.positions(image ? [image.prepared] : []);
    const loop = generate(this.model.graphs, { ids: promptIds, embeds }, positions, settings, signal);
    let step = await loop.next();
    while (!step.done) {
      yield { type: 'token', tokenId: step.value, text: decoder.push(step.value) };
      step = await loop.next();
    }
    const tail = decoder.flush();
    if (tail) yield { type: 'text', text: tail };
    const result = step.value;
    const text = this.model.tokenizer.decode(result.tokenIds, { skipSpecialTokens: true });

    this.turns.push(userTurn, { role: 'assistant', content: [{ type: 'text', text }] });
    const answer: Answer = {
      text,
      tokenIds: result.tokenIds,
      promptTokenIds: promptIds,
      stats: this.stats(result, timing, { promptIds, image, useCache: settings.useCache }),
      warnings: allWarnings,
    };
    yield { type: 'done', answer };
    return answer;
  }

  /** Preprocesses and encodes the conversation's image the first time it is needed. */
  private async encodeImageOnce(): Promise<{ image: EncodedImage | undefined; encodeMs: number }> {
    if (this.encoded || this.options.image === undefined) return { image: this.encoded, encodeMs: 0 };
    const start = performance.now();
    const source = this.options.image;
    const prepared = isPrepared(source)
      ? source
      : await this.model.family.prepareImage(
          isRgb(source) ? source : await loadImage(source),
          this.options.detail ?? 'high',
        );
    const { vision, signature } = this.model.graphs;
    const feeds = Object.fromEntries(
      Object.entries(prepared.visionFeeds).filter(([name]) => vision.inputNames.includes(name)),
    );
    const outputs = await vision.run(feeds);
    const features = floatsAs(outputs.image_features ?? Object.values(outputs)[0]!, signature.embedsType);
    this.encoded = { prepared, features };
    return { image: this.encoded, encodeMs: performance.now() - start };
  }

  private promptIds(messages: readonly ChatMessage[], image: EncodedImage | undefined): number[] {
    const { tokenizer, family } = this.model;
    const rendered = renderChatTemplate(tokenizer.chatTemplate, messages, {
      addGenerationPrompt: true,
      specialTokens: tokenizer.specialTokens,
    });
    // As the reference processors do: tokenize the expanded prompt with the tokenizer's own special-token rules.
    return tokenizer.encode(family.expandPrompt(rendered, image ? [image.prepared] : []), { addSpecialTokens: true });
  }

  private stats(
    result: GenerationResult,
    timing: { started: number; imageEncodeMs: number; promptMs: number },
    context: { promptIds: readonly number[]; image: EncodedImage | undefined; useCache: boolean },
  ): AnswerStats {
    const { timings, tokenIds } = result;
    const decodeSteps = tokenIds.length - 1;
    return {
      imageEncodeMs: timing.imageEncodeMs,
      prefillMs: timing.promptMs + timings.prefillMs,
      timeToFirstTokenMs: timing.imageEncodeMs + timing.promptMs + timings.firstTokenMs,
      decodeTokensPerSecond: decodeSteps > 0 && timings.decodeMs > 0 ? (decodeSteps * 1000) / timings.decodeMs : 0,
      promptTokens: context.promptIds.length,
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
