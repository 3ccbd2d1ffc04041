// Which model runs: the settings' choice (a catalogue or imported id, or a model folder), resolved by the model
// manager and loaded with the settings' precision and device. Owns the model part of the app status: the engine's own
// states, or, ahead of them, why nothing can be loaded (no model chosen, the chosen one not installed).
import { firstLine } from '../../native-models/model/errors.js';
import type { Settings } from '../shared/settings.js';
import type { EngineLike, EngineStatusLike, ModelsLike } from './app.js';
import { coalesce } from './coalesce.js';

export const NO_MODEL_CHOSEN = 'No model chosen yet: choose one in Settings.';

export interface ModelLoaderDeps {
  readonly engine: EngineLike;
  readonly models: Pick<ModelsLike, 'resolve'>;
  /** The current settings, read at each load (so a reload always loads the latest choice). */
  readonly settings: () => Settings;
  /** Called whenever `status` changes. */
  readonly onStatus: () => void;
}

export class ModelLoader {
  readonly #deps: ModelLoaderDeps;
  #engineStatus: EngineStatusLike = { state: 'loading' };
  /** Why the selected model cannot be loaded; undefined once it resolved to a folder. */
  #unavailable: string | undefined;
  #disposed = false;
  /** The model, precision and device of the last load sent to the engine. */
  #loaded: string | undefined;
  readonly #stopListening: () => void;
  /** Loads the selected model; calls during a load run one more load after it, with the settings of that moment. */
  readonly reload: () => Promise<void>;

  constructor(deps: ModelLoaderDeps) {
    this.#deps = deps;
    this.#stopListening = deps.engine.onStatus((status) => {
      this.#engineStatus = status;
      if (this.#unavailable === undefined) deps.onStatus();
    });
    this.reload = coalesce(() => this.#load());
  }

  get status(): EngineStatusLike {
    return this.#unavailable === undefined ? this.#engineStatus : { state: 'error', message: this.#unavailable };
  }

  /** One line, while the selected model cannot be loaded: asks are refused with it rather than sent to an older model. */
  get unavailable(): string | undefined {
    return this.#unavailable;
  }

  /** The installed models changed (a pull finished, a folder was imported): a selection that was missing may be there now. */
  retryIfUnavailable(): void {
    if (this.#unavailable !== undefined) void this.reload();
  }

  /**
   * This computer answers again (after a server did): loads the selected model unless the engine already holds it,
   * so switching back and forth never reloads a model needlessly.
   */
  reloadIfStale(): void {
    const state = this.#engineStatus.state;
    if (this.#unavailable !== undefined || this.#loaded !== loadKey(this.#deps.settings()) || state === 'error' || state === 'stopped') {
      void this.reload();
    }
  }

  dispose(): void {
    this.#disposed = true;
    this.#stopListening();
  }

  async #load(): Promise<void> {
    const settings = this.#deps.settings();
    // While a server answers, no local model is loaded (reloadIfStale loads it when this computer answers again).
    if (settings.backend === 'server') return;
    const { model, precision, device } = settings;
    if (model === null) return this.#setUnavailable(NO_MODEL_CHOSEN);
    const resolved = await this.#deps.models.resolve(model).catch((error: unknown) => ({ missing: firstLine(error) }));
    // After quit, a load would start a new model process.
    if (this.#disposed) return;
    if ('missing' in resolved) return this.#setUnavailable(resolved.missing);
    this.#setUnavailable(undefined);
    this.#loaded = loadKey(settings);
    await this.#deps.engine.load({ dir: resolved.dir, precision, device });
  }

  #setUnavailable(why: string | undefined): void {
    if (why === this.#unavailable) return;
    this.#unavailable = why;
    this.#deps.onStatus();
  }
}

function loadKey({ model, precision, device }: Settings): string {
  return JSON.stringify([model, precision, device]);
}
