// The app: ready → tray, hotkey, IPC, engine start; a trigger (hotkey, tray, `screenask --ask`) → capture → ask window;
// the renderer's ask → engine → tokens streamed on a port; quit → everything released. Every collaborator is injected,
// so tests drive the whole flow with a fake app, a stub capture and a stub engine; index.ts passes the real ones.
import type { z } from 'zod';
import {
  IpcEvent,
  type AppStatus,
  type AskReply,
  type ModelState,
  type Rect,
  type StreamMessage,
  type TriggerMessage,
} from '../shared/ipc.js';
import type { HotkeyStatus } from './hotkey.js';
import type { IpcHandlers, SenderLike } from './ipc.js';
import { setupSingleInstance, askModeFromArgv, type AskMode, type SingleInstanceApp } from './single-instance.js';
import type { ScreenCapture } from './capture.js';
import type { TrayAction } from './tray.js';
import type { WindowKind } from './windows.js';

/** The parts of Electron's `app` used here. */
export type AppLike = SingleInstanceApp & {
  whenReady(): Promise<unknown>;
  on(event: 'window-all-closed' | 'will-quit', listener: () => void): unknown;
  quit(): void;
};

/** The engine supervisor, as this module needs it (index.ts adapts the real one). */
export interface EngineStatusLike {
  readonly state: ModelState;
  readonly message?: string;
}
export interface EngineAskRequest {
  readonly question: string;
  /** PNG bytes of the captured screen or region. */
  readonly image?: Uint8Array;
  readonly detail?: 'low' | 'high';
  /** Follow-ups continue the conversation of the ask they follow (same id), reusing its KV cache. */
  readonly conversationId: string;
  readonly followUp: boolean;
}
export interface EngineLike {
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
  onStatus(listener: (status: EngineStatusLike) => void): () => void;
  ask(request: EngineAskRequest, signal: AbortSignal): AsyncIterable<StreamMessage>;
}

/** Settings, as this module needs them (index.ts adapts the settings store). */
export interface SettingsSource {
  readonly schema: z.ZodType;
  get(): unknown;
  set(settings: unknown): Promise<unknown>;
  /** The accelerator to register; null: the shortcut is disabled. */
  hotkey(): string | null;
  modelName(): string;
  onChange(listener: () => void): () => void;
}

export interface HotkeyLike {
  apply(accelerator: string | null): HotkeyStatus;
  dispose(): void;
  readonly status: HotkeyStatus;
}
export interface TrayControllerLike {
  update(status: AppStatus): void;
  destroy(): void;
}
export interface WindowsLike {
  show(kind: WindowKind, bounds?: Rect): Promise<{ readonly webContents: { send(channel: string, ...args: unknown[]): void } }>;
  close(kind: WindowKind): void;
  closeAll(): void;
}
/** Where one answer's messages go (index.ts: a MessageChannelMain port handed to the renderer). */
export interface StreamSink {
  post(message: StreamMessage): void;
  close(): void;
}

export interface AppDeps {
  readonly app: AppLike;
  readonly argv: readonly string[];
  readonly engine: EngineLike;
  readonly settings: SettingsSource;
  readonly captureScreen: () => Promise<ScreenCapture>;
  readonly createHotkey: (onTrigger: () => void, onStatus: (status: HotkeyStatus) => void) => HotkeyLike;
  readonly createTray: (onAction: (action: TrayAction) => void, status: AppStatus) => TrayControllerLike;
  readonly windows: WindowsLike;
  readonly registerIpc: (handlers: IpcHandlers, settingsSchema: z.ZodType) => () => void;
  readonly openStream: (sender: SenderLike, askId: string) => StreamSink;
  /** Tells the user something went wrong; `fixUrl` is a page that fixes it (e.g. the Screen Recording settings). */
  readonly notify: (message: string, fixUrl?: string) => void;
  readonly newId: () => string;
  readonly log: (message: string) => void;
}

/** How many captures are kept for asks to refer to (PNGs of whole screens are megabytes each). */
const MAX_CAPTURES = 4;

export class ScreenAskApp {
  readonly #deps: AppDeps;
  #model: EngineStatusLike = { state: 'loading' };
  #hotkey: HotkeyLike | undefined;
  #tray: TrayControllerLike | undefined;
  readonly #captures = new Map<string, ScreenCapture>();
  /** The frame a region overlay is selecting from. */
  #pendingRegionFrame: ScreenCapture | undefined;
  readonly #asks = new Map<string, AbortController>();
  readonly #subscribers = new Set<SenderLike>();
  readonly #cleanup: Array<() => void> = [];
  #quitting = false;

  constructor(deps: AppDeps) {
    this.#deps = deps;
  }

  /** Starts the app. Returns false when another instance runs (this one has been told to quit). */
  async start(): Promise<boolean> {
    const { app, settings, engine } = this.#deps;
    const primary = setupSingleInstance(app, {
      onAsk: (mode) => void this.trigger(mode),
      onActivate: () => void this.#deps.windows.show('ask'),
    });
    if (!primary) {
      app.quit();
      return false;
    }
    await app.whenReady();

    this.#cleanup.push(
      engine.onStatus((status) => {
        this.#model = status;
        this.#publish();
      }),
    );
    this.#hotkey = this.#deps.createHotkey(
      () => void this.trigger('screen'),
      () => this.#publish(),
    );
    this.#tray = this.#deps.createTray((action) => this.onTrayAction(action), this.status());
    this.#cleanup.push(this.#deps.registerIpc(this.handlers, settings.schema));
    this.#hotkey.apply(settings.hotkey());
    this.#cleanup.push(
      settings.onChange(() => {
        this.#hotkey?.apply(settings.hotkey());
        this.#publish();
      }),
    );
    // A tray app: closing the last window must not quit (Electron's default without this listener).
    app.on('window-all-closed', () => {});
    app.on('will-quit', () => this.#shutdown());
    await engine.start();

    const mode = askModeFromArgv(this.#deps.argv);
    if (mode) await this.trigger(mode);
    return true;
  }

  status(): AppStatus {
    const hotkey = this.#hotkey?.status ?? { accelerator: null, state: 'disabled' as const };
    return {
      model: { name: this.#deps.settings.modelName(), state: this.#model.state, ...(this.#model.message ? { message: this.#model.message } : {}) },
      hotkey,
    };
  }

  onTrayAction(action: TrayAction): void {
    switch (action) {
      case 'ask-screen':
        void this.trigger('screen');
        break;
      case 'ask-region':
        void this.trigger('region');
        break;
      case 'settings':
        void this.#deps.windows.show('settings');
        break;
      case 'quit':
        this.#deps.app.quit();
        break;
    }
  }

  /** Hotkey, tray or `--ask`: capture now, then let the user ask (about the whole frame or a region of it). */
  async trigger(mode: AskMode): Promise<void> {
    let frame: ScreenCapture;
    try {
      frame = await this.#deps.captureScreen();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const fixUrl = (error as { settingsUrl?: unknown }).settingsUrl;
      this.#deps.log(`capture failed: ${message}`);
      this.#deps.notify(message, typeof fixUrl === 'string' ? fixUrl : undefined);
      return;
    }
    if (mode === 'region') {
      this.#pendingRegionFrame = frame;
      await this.#deps.windows.show('overlay', frame.displayBounds);
      return;
    }
    await this.#openAsk(frame);
  }

  async #openAsk(frame: ScreenCapture, captureId = this.#store(frame)): Promise<void> {
    const win = await this.#deps.windows.show('ask');
    const message: TriggerMessage = { captureId, width: frame.width, height: frame.height };
    win.webContents.send(IpcEvent.trigger, message);
  }

  #store(frame: ScreenCapture): string {
    const id = this.#deps.newId();
    this.#captures.set(id, frame);
    while (this.#captures.size > MAX_CAPTURES) this.#captures.delete(this.#captures.keys().next().value as string);
    return id;
  }

  /** The IPC handlers; ipc.ts calls them only with validated payloads from our own pages. */
  readonly handlers: IpcHandlers = {
    ask: async (request, sender) => {
      const frame = request.captureId === undefined ? undefined : this.#captures.get(request.captureId);
      if (request.captureId !== undefined && !frame) throw new Error('that capture is no longer available; capture again');
      const askId = this.#deps.newId();
      return this.#run(askId, sender, {
        question: request.question,
        ...(frame ? { image: frame.png } : {}),
        ...(request.detail ? { detail: request.detail } : {}),
        conversationId: askId,
        followUp: false,
      });
    },
    followUp: async (request, sender) => {
      const askId = this.#deps.newId();
      return this.#run(askId, sender, { question: request.question, conversationId: request.askId, followUp: true });
    },
    cancel: async (request) => {
      this.#asks.get(request.askId)?.abort();
    },
    capture: async (request) => {
      if (request.mode === 'region') {
        // The overlay's selection: crop the frame captured when the region flow started (what the user saw).
        const base = this.#pendingRegionFrame;
        if (!base || !request.region) throw new Error('no region selection in progress');
        const frame = base.crop(request.region);
        const captureId = this.#store(frame);
        this.#pendingRegionFrame = undefined;
        this.#deps.windows.close('overlay');
        await this.#openAsk(frame, captureId);
        return { captureId, width: frame.width, height: frame.height };
      }
      const frame = await this.#deps.captureScreen();
      const captureId = this.#store(frame);
      return { captureId, width: frame.width, height: frame.height };
    },
    getSettings: async () => this.#deps.settings.get(),
    setSettings: async (settings) => this.#deps.settings.set(settings),
    subscribeStatus: async (sender) => {
      this.#subscribers.add(sender);
      sender.send(IpcEvent.status, this.status());
    },
  };

  /** Starts an answer in the background and returns its id at once; tokens go to the sender's stream port. */
  #run(askId: string, sender: SenderLike, request: EngineAskRequest): AskReply {
    const controller = new AbortController();
    this.#asks.set(askId, controller);
    const sink = this.#deps.openStream(sender, askId);
    void (async () => {
      try {
        for await (const message of this.#deps.engine.ask(request, controller.signal)) sink.post(message);
      } catch (error) {
        const message = controller.signal.aborted ? 'cancelled' : error instanceof Error ? error.message : String(error);
        sink.post({ type: 'error', message });
      } finally {
        this.#asks.delete(askId);
        sink.close();
      }
    })();
    return { askId };
  }

  #publish(): void {
    if (this.#quitting) return;
    const status = this.status();
    this.#tray?.update(status);
    for (const sender of this.#subscribers) {
      if (sender.isDestroyed()) this.#subscribers.delete(sender);
      else sender.send(IpcEvent.status, status);
    }
  }

  #shutdown(): void {
    if (this.#quitting) return;
    this.#quitting = true;
    for (const controller of this.#asks.values()) controller.abort();
    this.#hotkey?.dispose();
    for (const dispose of this.#cleanup.splice(0)) dispose();
    this.#tray?.destroy();
    this.#deps.windows.closeAll();
    void Promise.resolve(this.#deps.engine.stop()).catch((error: unknown) => this.#deps.log(`engine stop failed: ${String(error)}`));
  }
}
