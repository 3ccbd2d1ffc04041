// The capture being read ahead of its first question (see Conversation.readAhead): at most one, the newest, from the
// moment it is captured until an ask takes it over or it is dropped (the ask window closed, a new capture, another
// image detail or model). Dropping it frees what it holds in the model process.
import type { ReadAheadMessage } from '../shared/ipc.js';
import type { EngineLike, EngineReadAhead } from './app.js';
import type { ScreenCapture } from './capture.js';

export interface ReadAheadSettings {
  readonly detail: 'low' | 'high';
  readonly useCache: boolean;
}

interface Current {
  readonly captureId: string;
  readonly frame: ScreenCapture;
  readonly settings: ReadAheadSettings;
  readonly send: (message: ReadAheadMessage) => void;
  readonly handle: EngineReadAhead;
}

export class ReadAheadSlot {
  #current: Current | undefined;

  constructor(private readonly engine: Pick<EngineLike, 'readAhead'>) {}

  /** Starts reading `frame` (dropping the one before); progress goes to `send`, for the ask window. */
  start(captureId: string, frame: ScreenCapture, settings: ReadAheadSettings, send: (message: ReadAheadMessage) => void): void {
    this.drop();
    const handle = this.engine.readAhead({ image: frame.png, ...settings }, (progress) => send({ captureId, progress }));
    this.#current = { captureId, frame, settings, send, handle };
  }

  /** The read-ahead an ask about `captureId` at `detail` takes over (then it is no longer this slot's to drop). */
  take(captureId: string, detail: 'low' | 'high'): string | undefined {
    const current = this.#current;
    if (!current || current.captureId !== captureId || current.settings.detail !== detail) return undefined;
    this.#current = undefined;
    return current.handle.id;
  }

  /** New settings for the capture waiting for its question: read it again the new way. */
  retune(settings: ReadAheadSettings): void {
    const current = this.#current;
    if (!current || (current.settings.detail === settings.detail && current.settings.useCache === settings.useCache)) return;
    this.start(current.captureId, current.frame, settings, current.send);
  }

  drop(): void {
    this.#current?.handle.cancel();
    this.#current = undefined;
  }
}
