// The app: ready → tray, hotkey, IPC, engine start and model load; a trigger (hotkey, tray, `screenask --ask`) → capture
// → ask window; the renderer's ask → engine → tokens streamed on a port, and the finished turn into the history;
// settings, models and history requests from the pages → the services; quit → everything released. Every collaborator
// is injected, so tests drive the whole flow with a fake app, a stub capture and a stub engine; index.ts passes the
// real ones, and the web harness the same services (services.ts) with its own stand-ins for the Electron parts.
import path from 'node:path';
import type { z } from 'zod';
import type { ReadAheadProgress } from '../../native-models/conversation/answer.js';
import type { GenerationOptions } from '../../native-models/generation/settings.js';
import { firstLine } from '../../native-models/model/errors.js';
import {
  IpcEvent,
  type AnswerStatsView,
  type AppStatus,
  type ServingView,
  type AskReply,
  type HistoryEntry,
  type ImportReportView,
  type LoadedModelInfo,
  type ModelState,
  type ModelsSnapshot,
  type PullRequest,
  type Rect,
  type RemoteModelInfo,
  type ServerKeyState,
  type StreamMessage,
  type TriggerMessage,
} from '../shared/ipc.js';
import { generationOptionsFrom, type Settings } from '../shared/settings.js';
import { coalesce } from './coalesce.js';
import type { HistoryRecord } from './history-store.js';
import type { HotkeyStatus } from './hotkey.js';
import type { IpcHandlers, SenderLike } from './ipc.js';
import { ModelLoader } from './model-loader.js';
import { ReadAheadSlot, type ReadAheadSettings } from './read-ahead.js';
import { ServerConsent, hostOf, serverChoice, serverSetupProblem, type ServerToConfirm } from './server-consent.js';
import { askModeFromArgv, type AskMode, type SecondInstances } from './single-instance.js';
import { overlayRegionToDisplay, type ScreenCapture } from './capture.js';
import type { TrayAction } from './tray.js';
import type { WindowKind } from './windows.js';

/** The parts of Electron's `app` used here. */
export type AppLike = {
  whenReady(): Promise<unknown>;
  on(event: 'window-all-closed' | 'will-quit', listener: () => void): unknown;
  quit(): void;
};

/** The engine supervisor, as this module needs it (engine-adapter.ts adapts the real one). */
export interface EngineStatusLike {
  readonly state: ModelState;
  readonly message?: string;
  /** The loaded model, while the state is `ready`. */
  readonly info?: LoadedModelInfo;
}
export interface EngineAskRequest {
  readonly question: string;
  /** PNG bytes of the captured screen or region. */
  readonly image?: Uint8Array;
  readonly detail?: 'low' | 'high';
  /** Follow-ups continue the conversation of the ask they follow (same id), reusing its KV cache. */
  readonly conversationId: string;
  readonly followUp: boolean;
  /** The user's generation settings at the time of the ask; left-out options are the model's defaults. */
  readonly options: GenerationOptions;
  /** The read-ahead of this capture (EngineReadAhead.id), whose prepared conversation the ask takes over. */
  readonly readAhead?: string;
}
/** A capture to read ahead of its first question. */
export interface EngineReadAheadRequest {
  readonly image: Uint8Array;
  readonly detail: 'low' | 'high';
  readonly useCache: boolean;
}
/** A read-ahead in progress; cancel() drops it and the memory it holds in the model process. */
export interface EngineReadAhead {
  readonly id: string;
  cancel(): void;
}
/** A model folder to load, with the precision and device as the settings spell them. */
export interface EngineLoadRequest {
  readonly dir: string;
  readonly precision: Settings['precision'];
  readonly device: Settings['device'];
}
export interface EngineLike {
  /** Starts the model process; loads nothing. */
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
  /** Replaces the loaded model. Never rejects: progress and failures arrive as statuses. */
  load(request: EngineLoadRequest): Promise<void>;
  onStatus(listener: (status: EngineStatusLike) => void): () => void;
  ask(request: EngineAskRequest, signal: AbortSignal): AsyncIterable<StreamMessage>;
  /** Starts reading a capture while the user types; progress goes to `onProgress`. Never throws: a failure is the ask's. */
  readAhead(request: EngineReadAheadRequest, onProgress: (progress: ReadAheadProgress) => void): EngineReadAhead;
}

/** The engine that answers from a server (remote-engine.ts): an EngineLike that can also list a server's models. */
export interface RemoteEngineLike extends EngineLike {
  listModels(baseUrl: string, signal?: AbortSignal): Promise<string[]>;
}

/** The server's API key (server-key-store.ts), as this module needs it: never the key itself. */
export interface ServerKeysLike {
  state(serverUrl: string | null): ServerKeyState;
  set(serverUrl: string, key: string): Promise<ServerKeyState>;
  clear(): Promise<ServerKeyState>;
}

/** Serving the model to other apps (model-serving.ts): follows the settings itself; the app shows how it is going. */
export interface ServingLike {
  readonly view: ServingView;
  onChange(listener: (view: ServingView) => void): () => void;
  /** Starts following the settings and the model (after the model process has started). Never rejects. */
  start(): Promise<void>;
  dispose(): void;
}

/** Settings, as this module needs them (services.ts adapts the settings store). */
export interface SettingsSource {
  /** What setSettings payloads must parse with before they reach `set`. */
  readonly schema: z.ZodType;
  get(): Settings;
  /** Validates and saves a change; resolves with what the page should show (the settings, or per-field errors). */
  set(patch: unknown): Promise<unknown>;
  onChange(listener: (settings: Settings, previous: Settings) => void): () => void;
}

/** The model manager (models-service.ts), as this module needs it. */
export interface ModelsLike {
  snapshot(): Promise<ModelsSnapshot>;
  onChange(listener: () => void): () => void;
  remote(id: string): Promise<RemoteModelInfo>;
  /** Starts a download; progress and the outcome arrive as changes. */
  pull(request: PullRequest): Promise<void>;
  cancel(id: string): Promise<void>;
  import(dir: string): Promise<ImportReportView>;
  remove(id: string): Promise<void>;
  /** The folder of a settings `model` value (an id or a folder), or one line saying why there is none. */
  resolve(model: string): Promise<{ readonly dir: string } | { readonly missing: string }>;
}

/** The history (history-store.ts), as this module needs it. */
export interface HistoryLike {
  record(turn: HistoryRecord): Promise<void>;
  list(query?: string): Promise<HistoryEntry[]>;
  delete(id: string): Promise<void>;
  clear(): Promise<void>;
  dropScreenshots(): Promise<void>;
  screenshot(id: string): Promise<string | null>;
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
  /** Where an open window's content really is on the desktop (DIPs). */
  contentBounds(kind: WindowKind): Rect | undefined;
  /** Called when a window closes (by the user or the app); returns the function that stops listening. */
  onClosed(listener: (kind: WindowKind) => void): () => void;
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
  /** Later launches (`screenask --ask`), from the single-instance lock index.ts took before anything else. */
  readonly secondInstances: SecondInstances;
  /** The model process: answers from this computer. */
  readonly engine: EngineLike;
  /** Answers from the server the settings name (while they say so). */
  readonly remote: RemoteEngineLike;
  readonly serverKeys: ServerKeysLike;
  /** Settings → Serve this model to other apps; absent: the app never serves (nothing in it listens). */
  readonly serving?: ServingLike;
  /**
   * Asks the user whether captures may be sent to this server (the first question for each base URL); true when they
   * agree. index.ts: a dialog of the main process, as for links, which no page can answer in the user's place.
   */
  readonly confirmServer: (server: ServerToConfirm) => Promise<boolean>;
  readonly settings: SettingsSource;
  readonly models: ModelsLike;
  readonly history: HistoryLike;
  readonly captureScreen: () => Promise<ScreenCapture>;
  readonly createHotkey: (onTrigger: () => void, onStatus: (status: HotkeyStatus) => void) => HotkeyLike;
  readonly createTray: (onAction: (action: TrayAction) => void, status: AppStatus) => TrayControllerLike;
  readonly windows: WindowsLike;
  readonly registerIpc: (handlers: IpcHandlers, settingsSchema: z.ZodType) => () => void;
  readonly openStream: (sender: SenderLike, askId: string) => StreamSink;
  /** Tells the user something went wrong; `fixUrl` is a page that fixes it (e.g. the Screen Recording settings). */
  readonly notify: (message: string, fixUrl?: string) => void;
  /** The system's folder picker; null when the user cancels. */
  readonly pickFolder: () => Promise<string | null>;
  /** Asks the user whether to open this web address in the browser, and does so if they agree; true when opened. */
  readonly openLink: (url: string) => Promise<boolean>;
  readonly newId: () => string;
  readonly log: (message: string) => void;
}

/** How many captures are kept for asks to refer to (PNGs of whole screens are megabytes each). */
const MAX_CAPTURES = 4;
/** The ask window's thumbnail: at most 640 px wide, as CapturePreview promises. */
const PREVIEW_WIDTH = 640;
/** Settings that change which model runs, or how: a change to any of them reloads the model. */
const MODEL_SETTINGS = ['model', 'precision', 'device'] as const satisfies readonly (keyof Settings)[];

/** How the settings say a capture should be read ahead: as its first question will read it. */
function readAheadSettings(settings: Settings): ReadAheadSettings {
  return { detail: settings.imageDetail, useCache: settings.useCache };
}

/** What the tray and the pages call the selected model: its id, or a folder's name. */
export function modelDisplayName(model: string | null): string {
  if (model === null) return 'No model';
  // win32 rules accept both separators, so a Windows folder reads right on any platform; ids are never absolute.
  return path.win32.isAbsolute(model) || path.posix.isAbsolute(model) ? path.win32.basename(model) : model;
}

/** What the tray, the status and the history call a server's model: "model on host". */
function answeredByName(settings: Settings): string {
  return `${settings.serverModel ?? 'no model'} on ${settings.serverUrl === null ? 'no server' : hostOf(settings.serverUrl)}`;
}

/** Sends to every live subscriber, forgetting those whose page is gone. */
function broadcast(subscribers: Set<SenderLike>, channel: string, payload: unknown): void {
  for (const sender of subscribers) {
    if (sender.isDestroyed()) subscribers.delete(sender);
    else sender.send(channel, payload);
  }
}

export class ScreenAskApp {
  readonly #deps: AppDeps;
  readonly #loader: ModelLoader;
  #hotkey: HotkeyLike | undefined;
  #tray: TrayControllerLike | undefined;
  readonly #captures = new Map<string, ScreenCapture>();
  /** The frame a region overlay is selecting from. */
  #pendingRegionFrame: ScreenCapture | undefined;
  readonly #asks = new Map<string, AbortController>();
  readonly #readAhead: ReadAheadSlot;
  readonly #consent: ServerConsent;
  readonly #statusSubscribers = new Set<SenderLike>();
  readonly #modelsSubscribers = new Set<SenderLike>();
  /** The latest answer's figures with the KV cache on and with it off, to show what the cache is worth. */
  #lastAnswers: AppStatus['lastAnswers'] = {};
  /** History writes, in order: a follow-up is never stored before the turn it follows. */
  #historyQueue: Promise<void> = Promise.resolve();
  /** Answers still streaming (each ends by queueing its history record). */
  readonly #running = new Set<Promise<void>>();
  readonly #publishModels = coalesce(() => this.#sendModels());
  readonly #cleanup: Array<() => void> = [];
  #quitting = false;

  constructor(deps: AppDeps) {
    this.#deps = deps;
    this.#loader = new ModelLoader({
      engine: deps.engine,
      models: deps.models,
      settings: () => deps.settings.get(),
      onStatus: () => this.#publish(),
    });
    this.#readAhead = new ReadAheadSlot(deps.engine);
    this.#consent = new ServerConsent(deps.settings, deps.confirmServer);
    this.#cleanup.push(
      () => this.#loader.dispose(),
      () => this.#readAhead.drop(),
      // The user dismissed the capture: what was read of it is no longer wanted.
      deps.windows.onClosed((kind) => kind === 'ask' && this.#readAhead.drop()),
    );
  }

  /** Starts the app: after ready, the tray, the hotkey, IPC, the model process, then the model in the background. */
  async start(): Promise<void> {
    const { app, settings, engine, models } = this.#deps;
    await app.whenReady();

    this.#hotkey = this.#deps.createHotkey(
      () => void this.trigger('screen'),
      () => this.#publish(),
    );
    this.#tray = this.#deps.createTray((action) => this.onTrayAction(action), this.status());
    this.#cleanup.push(this.#deps.registerIpc(this.handlers, settings.schema));
    this.#hotkey.apply(settings.get().hotkey);
    this.#cleanup.push(
      settings.onChange((next, previous) => this.#onSettingsChange(next, previous)),
      models.onChange(() => {
        void this.#publishModels();
        this.#loader.retryIfUnavailable();
      }),
    );
    // A tray app: closing the last window must not quit (Electron's default without this listener).
    app.on('window-all-closed', () => {});
    app.on('will-quit', () => this.#shutdown());
    await engine.start();
    const { serving } = this.#deps;
    if (serving) {
      this.#cleanup.push(serving.onChange(() => this.#publish()), () => serving.dispose());
      void serving.start();
    }
    // In the background: the tray, the hotkey and the windows work while a model loads (seconds to minutes).
    void this.#loader.reload();

    this.#deps.secondInstances.route({
      onAsk: (mode) => void this.trigger(mode),
      onActivate: () => void this.#deps.windows.show('ask'),
    });
    const mode = askModeFromArgv(this.#deps.argv);
    if (mode) await this.trigger(mode);
  }

  /** Resolves once every answer that was running has ended and every history write has reached the disk. */
  async drain(): Promise<void> {
    await Promise.all(this.#running);
    await this.#historyQueue;
  }

  status(): AppStatus {
    const hotkey = this.#hotkey?.status ?? { accelerator: null, state: 'disabled' as const };
    return {
      model: this.#modelStatus(this.#deps.settings.get()),
      hotkey,
      lastAnswers: this.#lastAnswers,
      ...(this.#deps.serving ? { serving: this.#deps.serving.view } : {}),
    };
  }

  /** What answers: the local model (its loader's status), or the server (ready once its address and model are set). */
  #modelStatus(settings: Settings): AppStatus['model'] {
    if (settings.backend === 'local') return { name: modelDisplayName(settings.model), ...this.#loader.status };
    const problem = serverSetupProblem(settings);
    if (problem !== undefined) return { name: 'No server', state: 'error', message: problem };
    return { name: answeredByName(settings), state: 'ready', server: { host: hostOf(settings.serverUrl!), model: settings.serverModel! } };
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
    // Read the capture while the user types the question (only with a local model ready: a loading one reads it on
    // Enter, and a server gets the capture with the question).
    if (this.#deps.settings.get().backend === 'local' && this.#loader.status.state === 'ready') {
      this.#readAhead.start(captureId, frame, readAheadSettings(this.#deps.settings.get()), (progress) =>
        win.webContents.send(IpcEvent.readAhead, progress),
      );
    } else this.#readAhead.drop();
  }

  #store(frame: ScreenCapture): string {
    const id = this.#deps.newId();
    this.#captures.set(id, frame);
    while (this.#captures.size > MAX_CAPTURES) this.#captures.delete(this.#captures.keys().next().value as string);
    return id;
  }

  #capture(captureId: string): ScreenCapture {
    const frame = this.#captures.get(captureId);
    if (!frame) throw new Error('That capture is no longer available: capture the screen again.');
    return frame;
  }

  /** The IPC handlers; ipc.ts calls them only with validated payloads from our own pages. */
  readonly handlers: IpcHandlers = {
    ask: async (request, sender) => {
      const frame = request.captureId === undefined ? undefined : this.#capture(request.captureId);
      const engine = await this.#answeringEngine();
      const askId = this.#deps.newId();
      // The page may choose per question; otherwise the Image detail setting decides.
      const detail = request.detail ?? this.#deps.settings.get().imageDetail;
      const local = engine === this.#deps.engine;
      const readAhead = request.captureId === undefined || !local ? undefined : this.#readAhead.take(request.captureId, detail);
      return this.#run(engine, askId, sender, {
        question: request.question,
        ...(frame ? { image: frame.png } : {}),
        detail,
        conversationId: askId,
        followUp: false,
        ...(readAhead ? { readAhead } : {}),
      });
    },
    followUp: async (request, sender) => {
      const engine = await this.#answeringEngine();
      const askId = this.#deps.newId();
      return this.#run(engine, askId, sender, { question: request.question, conversationId: request.askId, followUp: true });
    },
    cancel: async (request) => {
      this.#asks.get(request.askId)?.abort();
    },
    capture: async (request) => {
      if (request.mode === 'region') {
        // The overlay's selection: crop the frame captured when the region flow started (what the user saw).
        const base = this.#pendingRegionFrame;
        const overlay = this.#deps.windows.contentBounds('overlay');
        if (!base || !request.region || !overlay) throw new Error('no region selection in progress');
        const frame = base.crop(overlayRegionToDisplay(request.region, overlay, base.displayBounds));
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
      this.#statusSubscribers.add(sender);
      sender.send(IpcEvent.status, this.status());
    },
    capturePreview: async (request) => this.#capture(request.captureId).preview(PREVIEW_WIDTH),
    openSettings: async () => {
      await this.#deps.windows.show('settings');
    },
    subscribeModels: async (sender) => {
      this.#modelsSubscribers.add(sender);
      // Through the serialized sender, so this first snapshot can never arrive after a newer one.
      await this.#publishModels();
    },
    remoteModel: async ({ id }) => this.#deps.models.remote(id),
    pullModel: async (request) => this.#deps.models.pull(request),
    cancelPull: async ({ id }) => this.#deps.models.cancel(id),
    importModel: async ({ dir }) => {
      const report = await this.#deps.models.import(dir);
      if (report.ok) this.#loader.retryIfUnavailable();
      return report;
    },
    removeModel: async ({ id }) => {
      await this.#deps.models.remove(id);
      // Removing the selected model: say so now, rather than at the next start.
      if (this.#deps.settings.get().model === id) void this.#loader.reload();
    },
    pickFolder: async () => this.#deps.pickFolder(),
    openLink: async ({ url }) => this.#deps.openLink(url),
    listHistory: async ({ query }) => this.#deps.history.list(query),
    deleteHistory: async ({ id }) => this.#deps.history.delete(id),
    clearHistory: async () => this.#deps.history.clear(),
    historyScreenshot: async ({ id }) => this.#deps.history.screenshot(id),
    // The main process asks the server (the page never talks to one), with the key kept for that server only.
    listServerModels: async ({ serverUrl }) => ({ models: await this.#deps.remote.listModels(serverUrl) }),
    serverKey: async () => this.#deps.serverKeys.state(this.#deps.settings.get().serverUrl),
    setServerKey: async ({ apiKey }) => {
      if (apiKey === null) return this.#deps.serverKeys.clear();
      const { serverUrl } = this.#deps.settings.get();
      if (serverUrl === null) throw new Error('Enter the server address before its API key.');
      return this.#deps.serverKeys.set(serverUrl, apiKey);
    },
  };

  /**
   * The engine for the next question: the local model process, or the server once the user agreed to send it
   * captures (asked here the first time; declining sends nothing). Rejects with one line when neither can answer.
   */
  async #answeringEngine(): Promise<EngineLike> {
    const settings = this.#deps.settings.get();
    if (settings.backend === 'local') {
      const unavailable = this.#loader.unavailable;
      if (unavailable !== undefined) throw new Error(unavailable);
      return this.#deps.engine;
    }
    const server = serverChoice(settings);
    if (!server) throw new Error(serverSetupProblem(settings));
    await this.#consent.ensure(server.baseUrl);
    return this.#deps.remote;
  }

  #onSettingsChange(next: Settings, previous: Settings): void {
    this.#hotkey?.apply(next.hotkey);
    if (next.backend === 'server') {
      // A server reads nothing ahead. The local model stays loaded (switching back is instant); model settings
      // changed meanwhile apply when this computer answers again.
      this.#readAhead.drop();
    } else if (previous.backend === 'server') {
      this.#loader.reloadIfStale();
    } else if (MODEL_SETTINGS.some((key) => next[key] !== previous[key])) {
      this.#readAhead.drop();
      void this.#loader.reload();
    } else this.#readAhead.retune(readAheadSettings(next));
    // The Models view marks the selected model.
    if (next.model !== previous.model) void this.#publishModels();
    if (previous.saveScreenshotsInHistory && !next.saveScreenshotsInHistory) {
      this.#history('drop the kept screenshots', () => this.#deps.history.dropScreenshots());
    }
    this.#publish();
  }

  /**
   * Starts an answer in the background and returns its id at once; tokens go to the sender's stream port. The
   * generation settings are read now, so a change applies from the next question on.
   */
  #run(engine: EngineLike, askId: string, sender: SenderLike, request: Omit<EngineAskRequest, 'options'>): AskReply {
    const settings = this.#deps.settings.get();
    const controller = new AbortController();
    this.#asks.set(askId, controller);
    const sink = this.#deps.openStream(sender, askId);
    const running = (async () => {
      let answer = '';
      let done: Extract<StreamMessage, { type: 'done' }> | undefined;
      try {
        const stream = engine.ask({ ...request, options: generationOptionsFrom(settings) }, controller.signal);
        for await (const message of stream) {
          sink.post(message);
          if (message.type === 'token') answer += message.text;
          else if (message.type === 'done') done = message;
        }
      } catch (error) {
        sink.post({ type: 'error', message: controller.signal.aborted ? 'cancelled' : firstLine(error) });
      } finally {
        this.#asks.delete(askId);
        sink.close();
      }
      const answered = done?.stats;
      // A server's figures are not the local model's: they stay out of the cache comparison and the history's stats.
      const stats = answered && answered.provider !== 'remote' ? answered : undefined;
      if (stats) this.#rememberStats(stats);
      this.#record({
        conversationId: request.conversationId,
        model: engine === this.#deps.engine ? modelDisplayName(settings.model) : answeredByName(settings),
        question: request.question,
        answer,
        ...(stats ? { stats } : {}),
        ...(!done || answered?.stopReason === 'cancelled' ? { incomplete: true } : {}),
        ...(request.followUp || !request.image ? {} : { screenshot: request.image }),
      });
    })();
    this.#running.add(running);
    void running.finally(() => this.#running.delete(running));
    return { askId };
  }

  #rememberStats(stats: AnswerStatsView): void {
    this.#lastAnswers = { ...this.#lastAnswers, [stats.cache === 'on' ? 'cacheOn' : 'cacheOff']: stats };
    this.#publish();
  }

  /** Stores a finished turn; the screenshot only if the user wants them kept at the moment it is written. */
  #record({ screenshot, ...turn }: HistoryRecord): void {
    this.#history('record an answer', () => {
      const keep = screenshot && this.#deps.settings.get().saveScreenshotsInHistory;
      return this.#deps.history.record(keep ? { ...turn, screenshot } : turn);
    });
  }

  /** Queues a history write. A failing history is logged: it must never break an answer or a settings change. */
  #history(what: string, write: () => Promise<void>): void {
    this.#historyQueue = this.#historyQueue
      .then(write)
      .catch((error: unknown) => this.#deps.log(`history: could not ${what}: ${firstLine(error)}`));
  }

  async #sendModels(): Promise<void> {
    if (this.#quitting || this.#modelsSubscribers.size === 0) return;
    try {
      broadcast(this.#modelsSubscribers, IpcEvent.models, await this.#deps.models.snapshot());
    } catch (error) {
      this.#deps.log(`models: could not list the models: ${firstLine(error)}`);
    }
  }

  #publish(): void {
    if (this.#quitting) return;
    const status = this.status();
    this.#tray?.update(status);
    broadcast(this.#statusSubscribers, IpcEvent.status, status);
  }

  #shutdown(): void {
    if (this.#quitting) return;
    this.#quitting = true;
    for (const controller of this.#asks.values()) controller.abort();
    void Promise.resolve(this.#deps.remote.stop()).catch(() => undefined);
    this.#hotkey?.dispose();
    for (const dispose of this.#cleanup.splice(0)) dispose();
    this.#tray?.destroy();
    this.#deps.windows.closeAll();
    void Promise.resolve(this.#deps.engine.stop()).catch((error: unknown) => this.#deps.log(`engine stop failed: ${String(error)}`));
  }
}
