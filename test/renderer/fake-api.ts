// A fake `window.screenask` for component tests: records every call, lets a test push status, models snapshots and
// triggers, and streams answers through real MessageChannel ports delivered to the window the way the preload does.
//
// jsdom's window.postMessage drops `source` and `ports` (it implements neither), so delivery dispatches the
// MessageEvent a browser would fire for the preload's `window.postMessage({ type, askId }, '*', [port])`: same data,
// `source === window`, the port in `ports`. The page's listener (renderer/src/lib/stream-ports.ts) runs unchanged.
import { STREAM_PORT_MESSAGE } from '../../electron/shared/ipc-channels.js';
import type {
  AnswerStatsView,
  AppStatus,
  HistoryEntry,
  ImportReportView,
  ModelsSnapshot,
  ReadAheadMessage,
  RemoteModelInfo,
  ScreenAskApi,
  ServerAnswerStatsView,
  ServerKeyState,
  StreamMessage,
  TriggerMessage,
} from '../../electron/shared/ipc.js';
import { defaultSettings, type Settings, type SettingsPatch, type SettingsUpdateResult } from '../../electron/shared/settings.js';

export interface Call {
  readonly method: keyof ScreenAskApi;
  readonly arg: unknown;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class FakeApi {
  readonly calls: Call[] = [];
  settings: Settings = { ...defaultSettings };
  /** What setSettings answers; by default the store's success reply with the patch applied. */
  setSettingsReply: ((patch: SettingsPatch) => SettingsUpdateResult) | undefined;
  history: HistoryEntry[] = [];
  importReply: ImportReportView | Error | undefined;
  remoteReply: RemoteModelInfo | Error | undefined;
  pickFolderReply: string | null = null;
  /** What listServerModels answers (an Error: it rejects with it). */
  serverModelsReply: readonly string[] | Error = [];
  /** The API key as the main process keeps it; the page only ever sees serverKeyState. */
  serverKeyState: ServerKeyState = { set: false, kept: 'encrypted' };
  /** When true (the default), the stream port reaches the page before ask()/followUp() resolves, as it can in the app. */
  portBeforeReply = true;

  #askCount = 0;
  readonly #streams = new Map<string, MessagePort>();
  readonly #statusListeners = new Set<(s: AppStatus) => void>();
  readonly #modelListeners = new Set<(s: ModelsSnapshot) => void>();
  readonly #triggerListeners = new Set<(t: TriggerMessage) => void>();
  readonly #readAheadListeners = new Set<(m: ReadAheadMessage) => void>();
  #status: AppStatus | undefined;
  #models: ModelsSnapshot | undefined;

  callsTo(method: keyof ScreenAskApi): unknown[] {
    return this.calls.filter((c) => c.method === method).map((c) => c.arg);
  }

  // ---- pushing events -------------------------------------------------------------------------------------------

  pushStatus(status: AppStatus): void {
    this.#status = status;
    for (const l of this.#statusListeners) l(status);
  }
  pushModels(snapshot: ModelsSnapshot): void {
    this.#models = snapshot;
    for (const l of this.#modelListeners) l(snapshot);
  }
  /** Plays the main process reporting how reading a capture ahead is going. */
  readAhead(message: ReadAheadMessage): void {
    for (const l of this.#readAheadListeners) l(message);
  }

  trigger(trigger: TriggerMessage): void {
    for (const l of this.#triggerListeners) l(trigger);
  }
  /** Sends one message on the answer stream of `askId` (the main process's end of the port). */
  emit(askId: string, message: StreamMessage): void {
    const port = this.#streams.get(askId);
    if (!port) throw new Error(`no stream for ${askId}`);
    port.postMessage(message);
  }
  dispose(): void {
    for (const port of this.#streams.values()) port.close();
    this.#streams.clear();
  }

  #openStream(askId: string): void {
    const channel = new MessageChannel();
    this.#streams.set(askId, channel.port2);
    window.dispatchEvent(
      new MessageEvent('message', { data: { type: STREAM_PORT_MESSAGE, askId }, source: window, ports: [channel.port1] }),
    );
  }

  async #startAnswer(): Promise<{ askId: string }> {
    const askId = `ask-${++this.#askCount}`;
    if (this.portBeforeReply) this.#openStream(askId);
    else setTimeout(() => this.#openStream(askId), 5);
    return { askId };
  }

  // ---- the API --------------------------------------------------------------------------------------------------

  readonly api: ScreenAskApi = {
    ask: async (request) => {
      this.calls.push({ method: 'ask', arg: request });
      return this.#startAnswer();
    },
    followUp: async (request) => {
      this.calls.push({ method: 'followUp', arg: request });
      return this.#startAnswer();
    },
    cancel: async (request) => {
      this.calls.push({ method: 'cancel', arg: request });
    },
    capture: async (request) => {
      this.calls.push({ method: 'capture', arg: request });
      return { captureId: 'cap-region', width: 100, height: 50 };
    },
    getSettings: async () => {
      this.calls.push({ method: 'getSettings', arg: undefined });
      return { ...this.settings };
    },
    setSettings: async (patch) => {
      this.calls.push({ method: 'setSettings', arg: patch });
      if (this.setSettingsReply) return this.setSettingsReply(patch);
      this.settings = { ...this.settings, ...(patch as Partial<Settings>) };
      return { ok: true, settings: this.settings };
    },
    subscribeStatus: async (listener) => {
      this.calls.push({ method: 'subscribeStatus', arg: undefined });
      this.#statusListeners.add(listener);
      if (this.#status) listener(this.#status);
      return () => void this.#statusListeners.delete(listener);
    },
    onTrigger: (listener) => {
      this.calls.push({ method: 'onTrigger', arg: undefined });
      this.#triggerListeners.add(listener);
      return () => void this.#triggerListeners.delete(listener);
    },
    onReadAhead: (listener) => {
      this.calls.push({ method: 'onReadAhead', arg: undefined });
      this.#readAheadListeners.add(listener);
      return () => void this.#readAheadListeners.delete(listener);
    },
    capturePreview: async (request) => {
      this.calls.push({ method: 'capturePreview', arg: request });
      return { dataUrl: 'data:image/png;base64,iVBORw0KGgo=', width: 640, height: 360 };
    },
    openSettings: async () => {
      this.calls.push({ method: 'openSettings', arg: undefined });
    },
    subscribeModels: async (listener) => {
      this.calls.push({ method: 'subscribeModels', arg: undefined });
      this.#modelListeners.add(listener);
      if (this.#models) listener(this.#models);
      return () => void this.#modelListeners.delete(listener);
    },
    remoteModel: async (request) => {
      this.calls.push({ method: 'remoteModel', arg: request });
      if (this.remoteReply instanceof Error) throw this.remoteReply;
      if (!this.remoteReply) throw new Error('not configured');
      return this.remoteReply;
    },
    pullModel: async (request) => {
      this.calls.push({ method: 'pullModel', arg: request });
    },
    cancelPull: async (request) => {
      this.calls.push({ method: 'cancelPull', arg: request });
    },
    importModel: async (request) => {
      this.calls.push({ method: 'importModel', arg: request });
      if (this.importReply instanceof Error) throw this.importReply;
      if (!this.importReply) throw new Error('not configured');
      return this.importReply;
    },
    removeModel: async (request) => {
      this.calls.push({ method: 'removeModel', arg: request });
    },
    pickFolder: async () => {
      this.calls.push({ method: 'pickFolder', arg: undefined });
      return this.pickFolderReply;
    },
    listHistory: async (request) => {
      this.calls.push({ method: 'listHistory', arg: request });
      const q = request.query?.toLowerCase();
      return this.history.filter(
        (e) => !q || e.turns.some((t) => `${t.question} ${t.answer}`.toLowerCase().includes(q)),
      );
    },
    deleteHistory: async (request) => {
      this.calls.push({ method: 'deleteHistory', arg: request });
      this.history = this.history.filter((e) => e.id !== request.id);
    },
    clearHistory: async () => {
      this.calls.push({ method: 'clearHistory', arg: undefined });
      this.history = [];
    },
    historyScreenshot: async (request) => {
      this.calls.push({ method: 'historyScreenshot', arg: request });
      return 'data:image/png;base64,iVBORw0KGgo=';
    },
    openLink: async (request) => {
      this.calls.push({ method: 'openLink', arg: request });
      return true;
    },
    listServerModels: async (request) => {
      this.calls.push({ method: 'listServerModels', arg: request });
      if (this.serverModelsReply instanceof Error) throw this.serverModelsReply;
      return { models: this.serverModelsReply };
    },
    serverKey: async () => {
      this.calls.push({ method: 'serverKey', arg: undefined });
      return this.serverKeyState;
    },
    setServerKey: async (request) => {
      this.calls.push({ method: 'setServerKey', arg: request });
      this.serverKeyState = { ...this.serverKeyState, set: request.apiKey !== null };
      return this.serverKeyState;
    },
  };
}

export function stats(overrides: Partial<Mutable<AnswerStatsView>> = {}): AnswerStatsView {
  return {
    imageEncodeMs: 120,
    prefillMs: 300,
    timeToFirstTokenMs: 840,
    decodeTokensPerSecond: 23.5,
    promptTokens: 90,
    reusedPromptTokens: 0,
    imageTokens: 64,
    generatedTokens: 12,
    totalMs: 1400,
    cache: 'on',
    precision: 'q8',
    provider: 'cpu',
    stopReason: 'eos',
    ...overrides,
  };
}

export function serverStats(overrides: Partial<Mutable<ServerAnswerStatsView>> = {}): ServerAnswerStatsView {
  return {
    provider: 'remote',
    server: { baseUrl: 'http://gpu-box:8000/v1', model: 'Qwen/Qwen2.5-VL-7B-Instruct' },
    imagePrepareMs: 40,
    timeToFirstTokenMs: 610,
    decodeTokensPerSecond: 41,
    promptTokens: 900,
    reusedPromptTokens: undefined,
    image: { width: 1288, height: 728 },
    generatedTokens: 9,
    generatedTokensFrom: 'server',
    totalMs: 900,
    stopReason: 'eos',
    ...overrides,
  };
}

export function status(overrides: { model?: Partial<AppStatus['model']>; lastAnswers?: AppStatus['lastAnswers'] } = {}): AppStatus {
  return {
    model: { name: 'SmolVLM-256M-Instruct', state: 'ready', ...overrides.model },
    hotkey: { accelerator: 'CommandOrControl+Shift+Space', state: 'registered' },
    lastAnswers: overrides.lastAnswers ?? {},
  };
}
