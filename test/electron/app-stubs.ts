// ScreenAskApp wired to fakes: the fake Electron objects (fakes.ts), the real IPC registration, hotkey manager and tray
// controller, and stubs for what services.ts provides (engine, settings, models, history). Tests drive it through
// the IPC channels, as the pages do.
import path from 'node:path';
import type { HistoryRecord } from '../../electron/main/history-store.js';
import type { ReadAheadProgress } from '../../native-models/conversation/answer.js';
import { vi } from 'vitest';
import {
  ScreenAskApp,
  type AppDeps,
  type EngineAskRequest,
  type EngineReadAhead,
  type EngineReadAheadRequest,
  type EngineLike,
  type EngineLoadRequest,
  type EngineStatusLike,
  type HistoryLike,
  type ModelsLike,
  type RemoteEngineLike,
  type ServerKeysLike,
  type SettingsSource,
  type StreamSink,
} from '../../electron/main/app.js';
import type { ScreenCapture } from '../../electron/main/capture.js';
import { HotkeyManager } from '../../electron/main/hotkey.js';
import { claimSingleInstance } from '../../electron/main/single-instance.js';
import { registerIpc } from '../../electron/main/ipc.js';
import { appPageUrl, isAppSchemeUrl } from '../../electron/main/app-protocol.js';
import { TrayController } from '../../electron/main/tray.js';
import type { WindowKind } from '../../electron/main/windows.js';
import {
  IpcEvent,
  type AnswerStatsView,
  type AppStatus,
  type HistoryEntry,
  type ImportReportView,
  type LoadedModelInfo,
  type ModelsSnapshot,
  type PullRequest,
  type Rect,
  type ServerAnswerStatsView,
  type ServerKeyState,
  type StreamMessage,
} from '../../electron/shared/ipc.js';
import { defaultSettings, pageSettingsPatchSchema, type Settings } from '../../electron/shared/settings.js';
import { FakeApp, FakeGlobalShortcut, FakeIpcMain, FakeTray, FakeWebContents } from './fakes.js';

/** The URL of one of our pages: the only kind of sender IPC accepts. */
export const ours = appPageUrl('ask');

export const settle = () => new Promise((r) => setTimeout(r, 5));

export function stubFrame(label: string, width = 200, height = 100): ScreenCapture {
  return {
    png: new TextEncoder().encode(label),
    width,
    height,
    displayId: 1,
    displayBounds: { x: 0, y: 0, width: width / 2, height: height / 2 },
    displaySize: { width: width / 2, height: height / 2 },
    crop: (r: Rect) => stubFrame(`${label}[${r.x},${r.y},${r.width}x${r.height}]`, r.width * 2, r.height * 2),
    preview: (maxWidth) => {
      const w = Math.min(width, maxWidth);
      return { dataUrl: `data:image/png;base64,${label}@${w}`, width: w, height: Math.round((height * w) / width) };
    },
  };
}

export function answerStats(overrides: Partial<AnswerStatsView> = {}): AnswerStatsView {
  return {
    imageEncodeMs: 50,
    prefillMs: 100,
    timeToFirstTokenMs: 160,
    decodeTokensPerSecond: 30,
    promptTokens: 120,
    reusedPromptTokens: 0,
    imageTokens: 64,
    generatedTokens: 2,
    totalMs: 230,
    cache: 'on',
    precision: 'q8',
    provider: 'cpu',
    stopReason: 'eos',
    ...overrides,
  };
}

export const loadedInfo: LoadedModelInfo = {
  family: 'smolvlm',
  precision: 'q8',
  precisions: ['fp32', 'q8'],
  provider: 'cpu',
  warnings: [],
  imageTokens: { low: 64, high: 832 },
};

/** A stub engine: status events on demand, recorded loads, and asks that stream a scripted answer. */
export class StubEngine implements EngineLike {
  readonly asks: EngineAskRequest[] = [];
  readonly loads: EngineLoadRequest[] = [];
  readonly listeners = new Set<(s: EngineStatusLike) => void>();
  started = 0;
  stopped = 0;
  /** Held between the first and the second token. */
  gate: Promise<void> = Promise.resolve();
  /** What the answers' `done` carries. */
  stats: AnswerStatsView | undefined;
  start(): void {
    this.started++;
    this.emit({ state: 'loading' });
  }
  stop(): void {
    this.stopped++;
  }
  async load(request: EngineLoadRequest): Promise<void> {
    this.loads.push(request);
    this.emit({ state: 'loading' });
  }
  onStatus(listener: (s: EngineStatusLike) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  emit(status: EngineStatusLike): void {
    for (const l of this.listeners) l(status);
  }
  /** Read-aheads started, with whether each was cancelled and the progress callback (a test plays the engine with it). */
  readonly readAheads: Array<{ request: EngineReadAheadRequest; id: string; cancelled: boolean; progress: (p: ReadAheadProgress) => void }> = [];
  readAhead(request: EngineReadAheadRequest, onProgress: (p: ReadAheadProgress) => void): EngineReadAhead {
    const entry = { request, id: `read-ahead-${this.readAheads.length + 1}`, cancelled: false, progress: onProgress };
    this.readAheads.push(entry);
    return { id: entry.id, cancel: () => void (entry.cancelled = true) };
  }
  async *ask(request: EngineAskRequest, signal: AbortSignal): AsyncIterable<StreamMessage> {
    this.asks.push(request);
    yield { type: 'token', text: 'It is ' };
    await this.gate;
    if (signal.aborted) throw new Error('aborted');
    yield { type: 'token', text: 'an error.' };
    yield this.stats ? { type: 'done', stats: this.stats } : { type: 'done' };
  }
}

/** A stub server backend: records asks and model listings, streams a scripted answer with a server's figures. */
export class StubRemote implements RemoteEngineLike {
  readonly asks: EngineAskRequest[] = [];
  readonly listed: string[] = [];
  models: string[] = ['qwen2.5-vl-7b', 'llava'];
  stopped = 0;
  start(): void {}
  stop(): void {
    this.stopped++;
  }
  async load(): Promise<void> {}
  onStatus(): () => void {
    return () => undefined;
  }
  readAhead(): EngineReadAhead {
    throw new Error('the app must not read ahead for a server');
  }
  async listModels(baseUrl: string): Promise<string[]> {
    this.listed.push(baseUrl);
    return this.models;
  }
  async *ask(request: EngineAskRequest): AsyncIterable<StreamMessage> {
    this.asks.push(request);
    yield { type: 'token', text: 'From the server.' };
    yield { type: 'done', stats: serverStats() };
  }
}

export function serverStats(overrides: Partial<ServerAnswerStatsView> = {}): ServerAnswerStatsView {
  return {
    provider: 'remote',
    server: { baseUrl: 'http://gpu-box:8000/v1', model: 'qwen2.5-vl-7b' },
    imagePrepareMs: 30,
    timeToFirstTokenMs: 500,
    decodeTokensPerSecond: 40,
    promptTokens: 800,
    reusedPromptTokens: undefined,
    image: { width: 644, height: 364 },
    generatedTokens: 4,
    generatedTokensFrom: 'server',
    totalMs: 700,
    stopReason: 'eos',
    ...overrides,
  };
}

/** The API key store in memory: records what it was given, answers only whether a key is set. */
export class StubServerKeys implements ServerKeysLike {
  readonly keys = new Map<string, string>();
  state(serverUrl: string | null): ServerKeyState {
    return { set: serverUrl !== null && this.keys.has(serverUrl), kept: 'encrypted' };
  }
  async set(serverUrl: string, key: string): Promise<ServerKeyState> {
    this.keys.clear();
    this.keys.set(serverUrl, key);
    return this.state(serverUrl);
  }
  async clear(): Promise<ServerKeyState> {
    this.keys.clear();
    return this.state(null);
  }
}

/** Settings in memory, with the store's change semantics (listeners get the new and the previous settings). */
export function memorySettings(initial: Partial<Settings>): SettingsSource {
  let current: Settings = { ...defaultSettings, ...initial };
  const listeners = new Set<(settings: Settings, previous: Settings) => void>();
  return {
    schema: pageSettingsPatchSchema,
    get: () => current,
    set: async (patch) => {
      const previous = current;
      current = { ...current, ...(patch as Partial<Settings>) };
      for (const listener of listeners) listener(current, previous);
      return current;
    },
    onChange: (listener) => (listeners.add(listener), () => listeners.delete(listener)),
  };
}

export const INSTALLED_ID = 'SmolVLM-256M-Instruct';
export const INSTALLED_DIR = '/models/HuggingFaceTB--SmolVLM-256M-Instruct';

/** The model manager: installed ids → folders; `change()` plays a change announcement (progress, a finished pull). */
export class FakeModels implements ModelsLike {
  readonly installed = new Map<string, string>([[INSTALLED_ID, INSTALLED_DIR]]);
  readonly listeners = new Set<() => void>();
  readonly snapshot = vi.fn(
    async (): Promise<ModelsSnapshot> => ({
      modelsDir: '/models',
      installed: [...this.installed].map(([id, dir]) => ({ id, dir, source: 'hub', precisions: ['q8'], complete: true, active: false })),
      catalogue: [],
      downloads: [],
    }),
  );
  readonly remote = vi.fn(async (id: string) => ({ id, sha: 'a'.repeat(40), precisions: [{ precision: 'q8' as const, bytes: 270_000_000 }] }));
  readonly pull = vi.fn(async (_request: PullRequest) => {});
  readonly cancel = vi.fn(async (_id: string) => {});
  readonly import = vi.fn(
    async (dir: string): Promise<ImportReportView> => ({ dir, ok: true, family: 'smolvlm', precisions: ['fp32'], missing: [], problems: [], notes: [], summary: 'ready' }),
  );
  readonly remove = vi.fn(async (id: string) => {
    this.installed.delete(id);
  });
  readonly resolve = vi.fn(async (model: string) => {
    if (path.isAbsolute(model)) return { dir: model };
    const dir = this.installed.get(model);
    return dir ? { dir } : { missing: `Model "${model}" is not installed: open Models and download it.` };
  });
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  change(): void {
    for (const listener of this.listeners) listener();
  }
}

export class FakeHistory implements HistoryLike {
  readonly records: HistoryRecord[] = [];
  readonly record = vi.fn(async (turn: HistoryRecord) => {
    this.records.push(turn);
  });
  readonly list = vi.fn(async (_query?: string): Promise<HistoryEntry[]> => []);
  readonly delete = vi.fn(async (_id: string) => {});
  readonly clear = vi.fn(async () => {});
  readonly dropScreenshots = vi.fn(async () => {});
  readonly screenshot = vi.fn(async (_id: string): Promise<string | null> => null);
}

export interface SetupOptions {
  readonly argv?: string[];
  readonly capture?: () => Promise<ScreenCapture>;
  /**
   * Where a shown window's content ends up, from the bounds it was shown with; default: exactly there. macOS moves an
   * overlay below the menu bar.
   */
  readonly placeWindow?: (kind: WindowKind, bounds: Rect) => Rect;
  readonly settings?: Partial<Settings>;
  /** Real services in place of the stubs (services.ts's composition). */
  readonly services?: Partial<Pick<AppDeps, 'engine' | 'remote' | 'serverKeys' | 'serving' | 'settings' | 'models' | 'history'>>;
  /** The user's answer to "send captures to this server?" (default: yes). */
  readonly confirmServer?: (server: { baseUrl: string; host: string }) => Promise<boolean>;
}

export function setup(options: SetupOptions = {}) {
  const app = new FakeApp();
  const engine = new StubEngine();
  const remote = new StubRemote();
  const serverKeys = new StubServerKeys();
  const confirmServer = vi.fn(options.confirmServer ?? (async () => true));
  const models = new FakeModels();
  const history = new FakeHistory();
  const settings = memorySettings({ model: INSTALLED_ID, ...options.settings });
  const globalShortcut = new FakeGlobalShortcut();
  const ipcMain = new FakeIpcMain();
  const tray = new FakeTray();
  const windowsShown: Array<{ kind: WindowKind; bounds?: Rect }> = [];
  const placed = new Map<WindowKind, Rect>();
  const closedListeners = new Set<(kind: WindowKind) => void>();
  /** Plays the user closing a window. */
  const closeWindow = (kind: WindowKind) => closedListeners.forEach((listener) => listener(kind));
  const windowContents = new FakeWebContents();
  const streams = new Map<string, StreamMessage[]>();
  const closedStreams: string[] = [];
  const notify = vi.fn();
  const log = vi.fn();
  const pickFolder = vi.fn(async (): Promise<string | null> => '/home/me/my-finetune');
  const openLink = vi.fn(async (_url: string) => true);
  const captureScreen = vi.fn(options.capture ?? (async () => stubFrame('frame')));
  let n = 0;
  const secondInstances = claimSingleInstance(app);
  if (!secondInstances) throw new Error('setup(): the fake app holds no single-instance lock');
  const screenAsk = new ScreenAskApp({
    app,
    argv: options.argv ?? ['screenask'],
    secondInstances,
    engine,
    remote,
    serverKeys,
    confirmServer,
    settings,
    models,
    history,
    captureScreen,
    createHotkey: (onTrigger, onStatus) => new HotkeyManager({ globalShortcut, platform: 'linux', env: { XDG_SESSION_TYPE: 'x11' }, onTrigger, onStatus }),
    createTray: (onAction, status) => new TrayController({ createTray: () => tray, buildMenu: (t) => t, onAction, platform: 'linux' }, status),
    windows: {
      show: async (kind, bounds) => {
        windowsShown.push(bounds ? { kind, bounds } : { kind });
        if (bounds) placed.set(kind, options.placeWindow?.(kind, bounds) ?? bounds);
        return { webContents: windowContents };
      },
      contentBounds: (kind) => placed.get(kind),
      onClosed: (listener) => (closedListeners.add(listener), () => void closedListeners.delete(listener)),
      close: vi.fn(),
      closeAll: vi.fn(),
    },
    registerIpc: (handlers, settingsSchema) => registerIpc({ ipcMain, isAppUrl: isAppSchemeUrl, settingsSchema, handlers, log: () => {} }),
    openStream: (_sender, askId): StreamSink => {
      streams.set(askId, []);
      return { post: (m) => streams.get(askId)!.push(m), close: () => closedStreams.push(askId) };
    },
    notify,
    pickFolder,
    openLink,
    newId: () => `id${++n}`,
    log,
    ...options.services,
  });
  /** Invokes a channel as one of our pages would. */
  const invoke = (channel: string, payload?: unknown, sender = new FakeWebContents()) =>
    payload === undefined ? ipcMain.invoke(ours, sender, channel) : ipcMain.invoke(ours, sender, channel, payload);
  /** Marks the app ready, starts it and lets the background model load run. */
  const start = async () => {
    app.readyResolve();
    await screenAsk.start();
    await settle();
  };
  return {
    app, engine, remote, serverKeys, confirmServer, models, history, settings, globalShortcut, ipcMain, tray, windowsShown, windowContents, streams, closedStreams,
    notify, log, pickFolder, openLink, captureScreen, screenAsk, invoke, start, closeWindow,
  };
}

/** Every value a page received on `channel`, in order. */
export function received<T>(sender: FakeWebContents, channel: string): T[] {
  return sender.sent.filter((s) => s.channel === channel).map((s) => s.args[0] as T);
}
export const statuses = (sender: FakeWebContents) => received<AppStatus>(sender, IpcEvent.status);
