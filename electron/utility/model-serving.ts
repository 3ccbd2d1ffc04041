/**
 * The app's "Serve this model to other apps" switch, inside the model process (which holds the model): an
 * OpenAI-compatible server (native-models/serve) over the loaded model, on 127.0.0.1 only, never another address.
 *
 * - `serve(port, model)` starts it (or keeps it, when it already serves that model on that port) and resolves to its
 *   base URL; with no model loaded it remembers the port and resolves to null: the next load starts it.
 * - A reload: `suspend()` closes it before the old model is released (its answers stop, so no run is in progress on
 *   sessions being freed), `resume(model)` starts it again over the new one, on the port it had (port 0 included).
 * - `stop()` closes it and forgets the port. Operations run one at a time, in the order they were asked.
 *
 * The app's own answers come first: a request waits (after its turn in the server's queue) until no answer of the
 * app is running (`waitTurn`); an app answer that starts while a request is answered runs alongside it, each in its
 * own conversation (the engine keeps one KV cache per conversation), as two app windows' answers do.
 */
import type { Model } from '../../native-models/index.js';
import { ScreenAskError } from '../../native-models/model/errors.js';
import { ChatServer } from '../../native-models/serve/index.js';

/** The only address the app serves on: other computers cannot reach it. */
export const SERVE_HOST = '127.0.0.1';

export interface ModelServingOptions {
  /** Resolves when no answer of the app is running, or when `signal` aborts. */
  readonly waitTurn: (signal: AbortSignal) => Promise<void>;
  /** Where a restart that failed is reported (stderr in the model process); the next `serve` reports it to the app. */
  readonly log: (line: string) => void;
}

export class ModelServing {
  #port: number | undefined;
  /** The port bound last: a restart with port 0 asks for it again, so the address other programs use stays. */
  #boundPort: number | undefined;
  #server: ChatServer | undefined;
  #model: Model | undefined;
  #url: string | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: ModelServingOptions) {}

  /** Serves `model` on 127.0.0.1:`port` (0: any free port); null when no model is loaded yet. Rejects with one line. */
  serve(port: number, model: Model | undefined): Promise<string | null> {
    return this.#serial(async () => {
      if (this.#server && this.#port === port && this.#model === model) return this.#url!;
      await this.#close();
      if (this.#port !== port) this.#boundPort = undefined;
      this.#port = port;
      if (!model) return null;
      try {
        return await this.#start(model);
      } catch (error) {
        // Not serving: the app shows why, and asks again when the user changes the port or switches it on.
        this.#port = undefined;
        throw error;
      }
    });
  }

  /** Stops serving and forgets the port. */
  stop(): Promise<void> {
    return this.#serial(async () => {
      this.#port = undefined;
      this.#boundPort = undefined;
      await this.#close();
    });
  }

  /** Closes the server before its model is released; the port is kept for `resume`. */
  suspend(): Promise<void> {
    return this.#serial(() => this.#close());
  }

  /** After a load: serves the new model where the old one was served, if serving is on. Never rejects. */
  resume(model: Model): Promise<void> {
    return this.#serial(async () => {
      if (this.#port === undefined) return;
      await this.#close();
      await this.#start(model).catch((error: unknown) => {
        this.options.log(`screenask model process: could not serve the new model: ${error instanceof Error ? error.message : String(error)}`);
      });
    });
  }

  get url(): string | undefined {
    return this.#url;
  }

  async #start(model: Model): Promise<string> {
    const port = this.#port!;
    const server = new ChatServer({ model, waitTurn: this.options.waitTurn });
    let url: string;
    try {
      url = await server.listen(SERVE_HOST, port === 0 ? (this.#boundPort ?? 0) : port);
    } catch (error) {
      if (port !== 0 || this.#boundPort === undefined) throw inAppWords(error, port);
      // The port it had is taken meanwhile: any free one.
      url = await server.listen(SERVE_HOST, 0).catch((again: unknown) => Promise.reject(inAppWords(again, 0)));
    }
    this.#server = server;
    this.#model = model;
    this.#url = url;
    this.#boundPort = Number(new URL(url).port);
    return url;
  }

  async #close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#model = undefined;
    this.#url = undefined;
    await server?.close();
  }

  #serial<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(operation);
    this.#queue = result.catch(() => undefined);
    return result;
  }
}

/** The server's listen errors speak of the CLI's flags; in the app the fix is in Settings. */
function inAppWords(error: unknown, port: number): Error {
  const message = error instanceof Error ? error.message : String(error);
  if (/is in use/.test(message)) {
    return new ScreenAskError(
      `Port ${port} on ${SERVE_HOST} is in use (another program listens there): choose another port in Settings → Serve this model to other apps, or 0 for any free port.`,
    );
  }
  return error instanceof ScreenAskError ? error : new ScreenAskError(`Could not serve the model on ${SERVE_HOST}:${port}: ${message.split('\n')[0]}`);
}
