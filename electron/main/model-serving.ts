/**
 * Settings → "Serve this model to other apps", on the main side: keeps the model process serving (or not) as the
 * settings say, and says how it is going (ServingView, shown on the settings page and in the tray).
 *
 * The server itself runs in the model process (electron/utility/model-serving.ts), which holds the model, always on
 * 127.0.0.1: there is no setting for the address. This module only asks: `serve(port)` when the switch is on (again
 * after every load, so a model process restarted after a crash serves again; the request is idempotent there), and
 * `stopServing()` when it is turned off. Off (the default), it sends nothing at all.
 */
import { firstLine } from '../../native-models/model/errors.js';
import type { ServingView } from '../shared/ipc.js';
import type { Settings } from '../shared/settings.js';

/** The supervisor, as far as serving needs it. */
export interface ServingEngine {
  serve(port: number): Promise<string | null>;
  stopServing(): Promise<void>;
  onStatus(listener: (status: { readonly state: string }) => void): () => void;
}

export interface ServingSettings {
  get(): Settings;
  onChange(listener: (settings: Settings, previous: Settings) => void): () => void;
}

export class ModelServingControl {
  #view: ServingView = { state: 'off' };
  /** Whether the model process may be serving: a stop is only sent then. */
  #asked = false;
  #queue: Promise<void> = Promise.resolve();
  readonly #listeners = new Set<(view: ServingView) => void>();
  readonly #cleanup: (() => void)[] = [];

  constructor(
    private readonly engine: ServingEngine,
    private readonly settings: ServingSettings,
    private readonly log: (message: string) => void = () => {},
  ) {}

  get view(): ServingView {
    return this.#view;
  }

  onChange(listener: (view: ServingView) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Follows the settings and the model from now on; serves at once if the switch is on. */
  start(): Promise<void> {
    this.#cleanup.push(
      this.settings.onChange((next, previous) => {
        if (next.serveModel !== previous.serveModel || next.servePort !== previous.servePort) void this.apply();
      }),
      this.engine.onStatus((status) => {
        const { serveModel } = this.settings.get();
        if (!serveModel) return;
        // Every load (the user's, or the reload after a crash) ends in `ready`: the process serves the new model.
        if (status.state === 'ready') void this.apply();
        else if (status.state === 'restarting' || status.state === 'loading') this.#set({ state: 'waiting' });
      }),
    );
    return this.apply();
  }

  /** Makes the model process serve, or not, as the settings say now. Never rejects: failures are the view's. */
  apply(): Promise<void> {
    const run = this.#queue.then(() => this.#applyNow());
    this.#queue = run;
    return run;
  }

  dispose(): void {
    for (const stop of this.#cleanup.splice(0)) stop();
    this.#listeners.clear();
  }

  async #applyNow(): Promise<void> {
    const { serveModel, servePort } = this.settings.get();
    try {
      if (!serveModel) {
        if (this.#asked) await this.engine.stopServing();
        this.#asked = false;
        return this.#set({ state: 'off' });
      }
      this.#asked = true;
      if (this.#view.state !== 'on' || this.#view.port !== servePort) this.#set({ state: 'starting', port: servePort });
      const url = await this.engine.serve(servePort);
      this.#set(url === null ? { state: 'waiting' } : { state: 'on', port: servePort, url });
    } catch (error) {
      const message = firstLine(error);
      this.log(`serving the model: ${message}`);
      this.#set(serveModel ? { state: 'error', message } : { state: 'off' });
    }
  }

  #set(view: ServingView): void {
    if (JSON.stringify(view) === JSON.stringify(this.#view)) return;
    this.#view = view;
    for (const listener of this.#listeners) listener(view);
  }
}
