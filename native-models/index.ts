// The engine's public API. It knows nothing of Electron:
//   const model = await loadModel(dir, { precision: 'q8', device: 'cpu' });
//   const conversation = model.startConversation({ image: 'screen.png', detail: 'low' });
//   for await (const event of conversation.ask('What does this error mean?')) …
import { Conversation, type ConversationOptions } from './conversation/conversation.js';
import type { ImageDetail, ImageSize } from './families/family.js';
import { ScreenAskError } from './model/errors.js';
import { closeModel, openModel, type LoadOptions, type LoadedModel } from './model/load.js';
import type { Precision } from './model/layout.js';
import type { Device } from './runtime/session.js';

export class Model {
  private constructor(private readonly loaded: LoadedModel) {}

  static async load(dir: string, options?: LoadOptions): Promise<Model> {
    return new Model(await openModel(dir, options));
  }

  get dir(): string {
    return this.loaded.dir;
  }
  get family(): string {
    return this.loaded.family.name;
  }
  get precision(): Precision {
    return this.loaded.precision;
  }
  /** Every precision the model directory holds. */
  get precisions(): readonly Precision[] {
    return this.loaded.precisions;
  }
  /** The execution provider that actually runs the model. */
  get provider(): Exclude<Device, 'auto'> {
    return this.loaded.graphs.provider;
  }
  /** The id that stands for one image feature row in prompts. */
  get imageTokenId(): number {
    return this.loaded.family.imageTokenId;
  }
  /** Load-time decoder rewrites applied (e.g. `new-kv-outputs`, `last-row-logits`) and those skipped, with why. */
  get decoderRewrites(): { readonly applied: readonly string[]; readonly skipped: readonly string[] } {
    return this.loaded.graphs.rewrites;
  }
  /** How token ids become embedding rows: the table read at load, or the embed_tokens graph and why. */
  get tokenEmbedding(): { readonly via: 'table' | 'graph'; readonly reason?: string } {
    const { via, reason } = this.loaded.graphs.embed;
    return reason === undefined ? { via } : { via, reason };
  }
  get warnings(): readonly string[] {
    return this.loaded.warnings;
  }

  /**
   * The image tokens an image of `size` pixels occupies in the prompt at `detail`, from the geometry alone (nothing is
   * resized or encoded): what a detail level costs, e.g. for a 1920×1080 screenshot.
   */
  imageTokenCount(size: ImageSize, detail: ImageDetail): number {
    const { width, height } = size;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
      throw new ScreenAskError(`An image size is a positive whole number of pixels on each side, got ${width}×${height}.`);
    }
    return this.loaded.family.imageTokenCount(size, detail);
  }

  /** Forgets every encoded image (a memory-pressure valve; also how a benchmark times a first look at a capture). */
  clearImageCache(): void {
    this.loaded.imageCache.clear();
  }

  startConversation(options?: ConversationOptions): Conversation {
    return new Conversation(this.loaded, options);
  }

  /** Releases the ONNX Runtime sessions; the model is unusable afterwards. */
  dispose(): Promise<void> {
    return closeModel(this.loaded);
  }
}

export function loadModel(dir: string, options?: LoadOptions): Promise<Model> {
  return Model.load(dir, options);
}

export { Conversation } from './conversation/conversation.js';
export type { AskOptions, ConversationOptions, ImageInput, ReadAheadOptions } from './conversation/conversation.js';
export type { ChatContent, ChatMessage } from './text/chat-template.js';
export type { Answer, AnswerEvent, AnswerStats, AnyAnswerStats, ReadAheadProgress, ReadAheadResult, ServerAnswerStats } from './conversation/answer.js';
export type { ImageDetail, ImageSize, PreparedImage } from './families/family.js';
export type { GenerationOptions } from './generation/settings.js';
export { generationOptionsSchema, validateGenerationOptions } from './generation/settings.js';
export { listPrecisions, precisions, type Precision } from './model/layout.js';
export { ScreenAskError } from './model/errors.js';
export type { LoadOptions } from './model/load.js';
export { devices, type Device } from './runtime/session.js';

// The remote backend: the same conversations, answered by an OpenAI-compatible server (vLLM, Ollama, LM Studio,
// llama.cpp's server, `npm run serve`).
export { connectServer, listServerModels, RemoteModel, DEFAULT_STALL_TIMEOUT_MS, type ConnectOptions, type ServerOptions } from './remote/remote-model.js';
export { RemoteConversation, type RemoteConversationOptions } from './remote/server-conversation.js';
export { ServerError } from './remote/server-errors.js';
export { prepareServerImage } from './remote/server-image.js';
export type { ServerImage, ServerImageInput, ServerImagePreparer } from './remote/image-preparer.js';
export type { ChatContentPart, ChatTurn } from './remote/chat-request.js';
