// Answers from an OpenAI-compatible server (native-models/remote), as the EngineLike app.ts asks: the same
// StreamMessages as the local model process. Chosen by the app while the settings say "a server".
//
// - Nothing to load and nothing to read ahead: a server holds its own model, and a capture is sized and sent with the
//   first question (at the ask's detail: the client sizes it as the local engine would). readAhead() never reports
//   progress, so the Ask view never says "Reading the screen".
// - Conversations stay on the server they started on: a follow-up after the address, model or key changed is refused
//   in one line rather than sent, half a conversation, to another server.
// - Cancel aborts the HTTP request. Every failure (down, key refused, model missing, silence, a malformed stream) is
//   the client's one-line ServerError, which names the server and the fix.
//
// The client is injected (remote-client.ts composes the real one, whose captures the model process sizes: that work
// loads sharp, which the main process must not).
import type { AnswerEvent, ServerAnswerStats } from '../../native-models/conversation/answer.js';
import { ScreenAskError } from '../../native-models/model/errors.js';
import type { ConnectOptions, RemoteModel, ServerOptions } from '../../native-models/remote/remote-model.js';
import type { StreamMessage } from '../shared/ipc.js';
import type { EngineAskRequest, EngineLike, EngineReadAhead } from './app.js';

/** The remote client's entry points (native-models/remote), as this module uses them. */
export interface RemoteClient {
  listServerModels(options: ServerOptions): Promise<string[]>;
  /** How captures are sized is the client's own business (its `prepareImage`), fixed when it is composed. */
  connectServer(options: Omit<ConnectOptions, 'prepareImage'>): Promise<Pick<RemoteModel, 'baseUrl' | 'model' | 'startConversation' | 'dispose'>>;
}
type Connected = Awaited<ReturnType<RemoteClient['connectServer']>>;
type Conversation = ReturnType<Connected['startConversation']>;

/** The server the settings name (both parts set), or undefined. */
export interface ServerChoice {
  readonly baseUrl: string;
  readonly model: string;
}

export interface RemoteEngineOptions {
  readonly client: RemoteClient;
  /** The configured server, read at each ask. */
  readonly server: () => ServerChoice | undefined;
  /** The API key kept for a server (never the key of another server). */
  readonly apiKey: (baseUrl: string) => string | undefined;
  /** Conversations kept for follow-ups (each holds its image as a data URL); default 8. */
  readonly maxConversations?: number;
}

export const NO_SERVER_CHOSEN = 'No server chosen yet: enter its address and pick a model in Settings → Where answers come from.';

const NOTHING_READ_AHEAD: EngineReadAhead = Object.freeze({ id: 'remote-none', cancel: () => undefined });

export class RemoteEngine implements EngineLike {
  readonly #options: RemoteEngineOptions;
  /** The connection for the current server, model and key; replaced when any of them changes. */
  #connection: { readonly key: string; readonly model: Promise<Connected> } | undefined;
  readonly #conversations = new Map<string, { readonly connection: string; readonly conversation: Conversation }>();

  constructor(options: RemoteEngineOptions) {
    this.#options = options;
  }

  start(): void {}

  async stop(): Promise<void> {
    this.#conversations.clear();
    const connection = this.#connection;
    this.#connection = undefined;
    await connection?.model.then((model) => model.dispose(), () => undefined);
  }

  /** A server holds its own model: nothing to load here. */
  async load(): Promise<void> {}

  onStatus(): () => void {
    return () => undefined;
  }

  /** Nothing to read ahead: the capture is sized and sent with the question. Never reports progress. */
  readAhead(): EngineReadAhead {
    return NOTHING_READ_AHEAD;
  }

  /** The models the server at `baseUrl` lists, asked with the key kept for that server. */
  listModels(baseUrl: string, signal?: AbortSignal): Promise<string[]> {
    const apiKey = this.#options.apiKey(baseUrl);
    return this.#options.client.listServerModels({ baseUrl, ...(apiKey ? { apiKey } : {}), ...(signal ? { signal } : {}) });
  }

  async *ask(request: EngineAskRequest, signal: AbortSignal): AsyncIterable<StreamMessage> {
    const server = this.#options.server();
    if (!server) throw new ScreenAskError(NO_SERVER_CHOSEN);
    const apiKey = this.#options.apiKey(server.baseUrl);
    const key = JSON.stringify([server.baseUrl, server.model, apiKey ?? null]);
    let conversation: Conversation;
    if (request.followUp) {
      const entry = this.#conversations.get(request.conversationId);
      if (!entry || entry.connection !== key) {
        throw new ScreenAskError('This conversation was with another server, model or key (or has ended): ask it as a new question.');
      }
      conversation = entry.conversation;
    } else {
      const model = await this.#connect(key, { baseUrl: server.baseUrl, model: server.model, ...(apiKey ? { apiKey } : {}), signal });
      conversation = model.startConversation({
        ...(request.image ? { image: request.image } : {}),
        ...(request.detail ? { detail: request.detail } : {}),
      });
      this.#remember(request.conversationId, { connection: key, conversation });
    }
    const events: AsyncIterable<AnswerEvent<ServerAnswerStats>> = conversation.ask(request.question, { ...request.options, signal });
    for await (const event of events) {
      switch (event.type) {
        case 'token':
        case 'text':
          if (event.text !== '') yield { type: 'token', text: event.text };
          break;
        case 'warning':
          yield event;
          break;
        case 'done':
          yield { type: 'done', stats: event.answer.stats };
          break;
      }
    }
  }

  #connect(key: string, options: Omit<ConnectOptions, 'prepareImage'>): Promise<Connected> {
    if (this.#connection?.key !== key) {
      const previous = this.#connection;
      this.#conversations.clear();
      void previous?.model.then((model) => model.dispose(), () => undefined);
      const model = this.#options.client.connectServer(options);
      const connection = { key, model };
      this.#connection = connection;
      // A failed connection is not kept: the next question tries again (the server may be up by then).
      model.catch(() => {
        if (this.#connection === connection) this.#connection = undefined;
      });
    }
    return this.#connection!.model;
  }

  #remember(conversationId: string, entry: { readonly connection: string; readonly conversation: Conversation }): void {
    this.#conversations.set(conversationId, entry);
    const max = this.#options.maxConversations ?? 8;
    while (this.#conversations.size > max) this.#conversations.delete(this.#conversations.keys().next().value as string);
  }
}
