// The renderer ↔ main contract: every channel name and every payload schema lives here, so the preload exposes
// exactly these channels and the main process validates exactly these shapes. Nothing else crosses the bridge.
import { z } from 'zod';
import type { AnswerStats, ReadAheadProgress, ServerAnswerStats } from '../../native-models/conversation/answer.js';
import { precisions, type Precision } from '../../native-models/model/precision.js';
import { serverUrlSchema, type Settings, type SettingsPatch, type SettingsUpdateResult } from './settings.js';

export { IpcChannel, IpcEvent, STREAM_PORT_MESSAGE, type IpcChannelName } from './ipc-channels.js';
import { IpcChannel } from './ipc-channels.js';

const id = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/);
const question = z.string().trim().min(1).max(4000);

/** A rectangle in DIPs (device-independent pixels) relative to the captured display's top-left corner. */
export const rectSchema = z
  .object({
    x: z.number().finite().min(0),
    y: z.number().finite().min(0),
    width: z.number().finite().positive(),
    height: z.number().finite().positive(),
  })
  .strict();
export type Rect = z.infer<typeof rectSchema>;

export const askRequestSchema = z
  .object({
    question,
    /** A capture id returned by `capture`; absent: a text-only question. */
    captureId: id.optional(),
    detail: z.enum(['low', 'high']).optional(),
  })
  .strict();
export type AskRequest = z.infer<typeof askRequestSchema>;

export const followUpRequestSchema = z.object({ askId: id, question }).strict();
export type FollowUpRequest = z.infer<typeof followUpRequestSchema>;

export const cancelRequestSchema = z.object({ askId: id }).strict();
export type CancelRequest = z.infer<typeof cancelRequestSchema>;

export const captureRequestSchema = z
  .object({ mode: z.enum(['screen', 'region']), region: rectSchema.optional() })
  .strict()
  .refine((r) => r.mode === 'screen' || r.region !== undefined, { message: 'region mode needs a region' });
export type CaptureRequest = z.infer<typeof captureRequestSchema>;

export const capturePreviewRequestSchema = z.object({ captureId: id }).strict();
export type CapturePreviewRequest = z.infer<typeof capturePreviewRequestSchema>;

/** A model's short id: a catalogue repo name or an imported folder's name (never a path). */
const modelId = z.string().min(1).max(200).regex(/^[A-Za-z0-9][\w.-]*$/);
const absoluteFolder = z
  .string()
  .min(1)
  .max(4096)
  .regex(/^(?:\/|[A-Za-z]:[\\/]|\\\\[^\\]+\\)/, 'must be a full folder path');

export const modelRefSchema = z.object({ id: modelId }).strict();
export type ModelRef = z.infer<typeof modelRefSchema>;
export const pullRequestSchema = z.object({ id: modelId, precision: z.enum(precisions) }).strict();
export type PullRequest = z.infer<typeof pullRequestSchema>;
export const importRequestSchema = z.object({ dir: absoluteFolder }).strict();
export type ImportRequest = z.infer<typeof importRequestSchema>;

/** Only web links, and not absurdly long ones (the confirmation shows the whole address). */
export const openLinkRequestSchema = z
  .object({ url: z.url({ protocol: /^https?$/ }).max(2048) })
  .strict();
export type OpenLinkRequest = z.infer<typeof openLinkRequestSchema>;

/** A server to list the models of: its base URL, checked as the settings check it. */
export const serverModelsRequestSchema = z.object({ serverUrl: serverUrlSchema }).strict();
export type ServerModelsRequest = z.infer<typeof serverModelsRequestSchema>;
export interface ServerModelsReply {
  readonly models: readonly string[];
}

/** An API key as servers take them: one line of printable ASCII without spaces (sk-…, a token); null forgets it. */
export const setServerKeyRequestSchema = z
  .object({ apiKey: z.string().min(1).max(4096).regex(/^[\x21-\x7e]+$/).nullable() })
  .strict();
export type SetServerKeyRequest = z.infer<typeof setServerKeyRequestSchema>;
/** What a page may know about the API key: never the key. */
export interface ServerKeyState {
  /** A key is kept for the server the settings name. */
  readonly set: boolean;
  /** `encrypted`: in userData, encrypted by the system (safeStorage); `until-quit`: in memory only. */
  readonly kept: 'encrypted' | 'until-quit';
  /** Why the key is kept only until quit (no keyring, a browser harness), for the settings page to show. */
  readonly note?: string;
}

/** The server answers come from (host and model), as the status shows it. */
export interface AnswerServerView {
  /** host[:port] of the server's address. */
  readonly host: string;
  readonly model: string;
}

export const historyQuerySchema = z.object({ query: z.string().max(200).optional() }).strict();
export type HistoryQuery = z.infer<typeof historyQuerySchema>;
export const historyRefSchema = z.object({ id }).strict();
export type HistoryRef = z.infer<typeof historyRefSchema>;

/** Channels whose payload is empty: only `undefined` passes (a renderer cannot smuggle data through them). */
export const emptySchema = z.undefined();

/** Replies. */
export interface AskReply {
  readonly askId: string;
}
export interface CaptureReply {
  readonly captureId: string;
  readonly width: number;
  readonly height: number;
}

export interface CapturePreview {
  /** A PNG or JPEG data URL, at most 640 px wide. */
  readonly dataUrl: string;
  readonly width: number;
  readonly height: number;
}

export type ModelState = 'loading' | 'ready' | 'error' | 'restarting' | 'stopped';

/**
 * The loaded decoder's load-time fast path (the engine's `model.decoderRewrites`): the rewrite ids applied, and a
 * reason for each one skipped. Checked before it is shown: bounded, and nothing but strings (fast-path-words.ts words it).
 */
export const fastPathSchema = z
  .object({
    applied: z.array(z.string().min(1).max(64).regex(/^[a-z0-9-]+$/)).max(32),
    skipped: z.array(z.string().min(1).max(2000)).max(32),
  })
  .strict();
export type FastPathInfo = z.infer<typeof fastPathSchema>;

/** The loaded model, as the settings page shows it. */
export interface LoadedModelInfo {
  readonly family: string;
  readonly precision: Precision;
  /** Precisions whose files the model folder has: the only ones the settings page offers. */
  readonly precisions: readonly Precision[];
  /** Where it runs: cpu, webgpu, cuda, dml, coreml. */
  readonly provider: string;
  /** Image tokens a 1920×1080 screenshot costs at each detail level (what the detail setting trades). */
  readonly imageTokens?: { readonly low: number; readonly high: number };
  readonly warnings: readonly string[];
  /** The decoder fast path applied at load and why any part of it was not; absent where the engine reported none. */
  readonly fastPath?: FastPathInfo;
}

/** The stats the UI shows for one answer of the local model (the engine's AnswerStats). */
export type AnswerStatsView = AnswerStats;
/** The figures of an answer from a server: client-side timings, and which server and model answered. */
export type ServerAnswerStatsView = ServerAnswerStats;

export interface AppStatus {
  readonly model: {
    readonly name: string;
    readonly state: ModelState;
    readonly message?: string;
    readonly info?: LoadedModelInfo;
    /** Set while answers come from a server. */
    readonly server?: AnswerServerView;
  };
  readonly hotkey: { readonly accelerator: string | null; readonly state: HotkeyState; readonly message?: string };
  /** The latest answer with the KV cache on and the latest with it off (this session), for the cache's measured effect. */
  readonly lastAnswers: { readonly cacheOn?: AnswerStatsView; readonly cacheOff?: AnswerStatsView };
  /** Settings → Serve this model to other apps: how it is going (absent where the app cannot serve, e.g. tests' stubs). */
  readonly serving?: ServingView;
}

/**
 * The model served to other programs, always on 127.0.0.1: off (the default); starting on a port; waiting for a model
 * to be loaded; on, at `url` (http://127.0.0.1:PORT/v1); or an error in one line (a port in use names the fix).
 */
export type ServingView =
  | { readonly state: 'off' }
  | { readonly state: 'starting'; readonly port: number }
  | { readonly state: 'waiting' }
  | { readonly state: 'on'; readonly port: number; readonly url: string }
  | { readonly state: 'error'; readonly message: string };
export type HotkeyState = 'registered' | 'disabled' | 'failed' | 'unreliable';

/** Sent on `IpcEvent.readAhead`: the model is reading this capture while the user types (frames, then the prefill). */
export interface ReadAheadMessage {
  readonly captureId: string;
  readonly progress: ReadAheadProgress;
}

/** Sent on `IpcEvent.trigger`: a frame was captured; the page should ask the user's question about it. */
export interface TriggerMessage {
  readonly captureId: string;
  readonly width: number;
  readonly height: number;
}

/** What streams on a stream port, one message per event. */
export type StreamMessage =
  | { readonly type: 'progress'; readonly stage: string }
  | { readonly type: 'warning'; readonly message: string }
  | { readonly type: 'token'; readonly text: string }
  | { readonly type: 'done'; readonly stats?: AnswerStatsView | ServerAnswerStatsView }
  | { readonly type: 'error'; readonly message: string };

/** A catalogue model as the Models view lists it. */
export interface CatalogueModelView {
  readonly id: string;
  readonly repo: string;
  readonly family: string;
  readonly class: 'cpu' | 'gpu';
  readonly description: string;
  readonly defaultPrecision: Precision;
  readonly engineSupported: boolean;
  /** The model the recommendation rule picks for this machine. */
  readonly recommended: boolean;
}
export interface InstalledModelView {
  readonly id: string;
  readonly repo?: string;
  readonly dir: string;
  readonly source: 'hub' | 'folder';
  readonly precisions: readonly Precision[];
  /** False while a download is partial. */
  readonly complete: boolean;
  /** True for the model the settings select. */
  readonly active: boolean;
}
export type DownloadState = 'running' | 'done' | 'failed' | 'cancelled';
export interface DownloadView {
  readonly id: string;
  readonly precision: Precision;
  readonly state: DownloadState;
  readonly bytes: number;
  readonly total: number;
  readonly bytesPerSecond: number;
  readonly etaSeconds?: number;
  /** The file being fetched. */
  readonly file?: string;
  /** Why it failed (one line, with the fix). */
  readonly message?: string;
}
export interface ModelsSnapshot {
  readonly modelsDir: string;
  readonly installed: readonly InstalledModelView[];
  readonly catalogue: readonly CatalogueModelView[];
  readonly downloads: readonly DownloadView[];
}
export interface RemoteModelInfo {
  readonly id: string;
  /** The commit the sizes were read at. */
  readonly sha: string;
  readonly precisions: readonly { readonly precision: Precision; readonly bytes: number }[];
}
/** What importing a folder found: the engine's report, flattened for display. */
export interface ImportReportView {
  readonly dir: string;
  readonly ok: boolean;
  readonly family?: string;
  readonly precisions: readonly Precision[];
  readonly missing: readonly string[];
  readonly problems: readonly string[];
  readonly notes: readonly string[];
  readonly summary: string;
}

/** One question and its answer inside a history entry. */
export interface HistoryTurn {
  readonly question: string;
  readonly answer: string;
  readonly stats?: AnswerStatsView;
  /** True when the answer was cut short (stopped, or an error). */
  readonly incomplete?: boolean;
}
/** A conversation: the first question (on a capture, or text only) and its follow-ups. */
export interface HistoryEntry {
  readonly id: string;
  /** ISO 8601. */
  readonly askedAt: string;
  readonly model: string;
  readonly turns: readonly HistoryTurn[];
  /** The capture was kept (only when the user opted in); fetch it with historyScreenshot. */
  readonly hasScreenshot: boolean;
}

/** Payload schemas for every invoke channel except setSettings, whose schema is injected (it belongs to settings). */
export const fixedPayloadSchemas = {
  [IpcChannel.ask]: askRequestSchema,
  [IpcChannel.cancel]: cancelRequestSchema,
  [IpcChannel.followUp]: followUpRequestSchema,
  [IpcChannel.getSettings]: emptySchema,
  [IpcChannel.capture]: captureRequestSchema,
  [IpcChannel.subscribeStatus]: emptySchema,
  [IpcChannel.capturePreview]: capturePreviewRequestSchema,
  [IpcChannel.openSettings]: emptySchema,
  [IpcChannel.subscribeModels]: emptySchema,
  [IpcChannel.remoteModel]: modelRefSchema,
  [IpcChannel.pullModel]: pullRequestSchema,
  [IpcChannel.cancelPull]: modelRefSchema,
  [IpcChannel.importModel]: importRequestSchema,
  [IpcChannel.removeModel]: modelRefSchema,
  [IpcChannel.pickFolder]: emptySchema,
  [IpcChannel.listHistory]: historyQuerySchema,
  [IpcChannel.deleteHistory]: historyRefSchema,
  [IpcChannel.clearHistory]: emptySchema,
  [IpcChannel.historyScreenshot]: historyRefSchema,
  [IpcChannel.openLink]: openLinkRequestSchema,
  [IpcChannel.listServerModels]: serverModelsRequestSchema,
  [IpcChannel.serverKey]: emptySchema,
  [IpcChannel.setServerKey]: setServerKeyRequestSchema,
} as const;

/** The API the preload exposes as `window.screenask`. */
export interface ScreenAskApi {
  ask(request: AskRequest): Promise<AskReply>;
  followUp(request: FollowUpRequest): Promise<AskReply>;
  cancel(request: CancelRequest): Promise<void>;
  capture(request: CaptureRequest): Promise<CaptureReply>;
  getSettings(): Promise<Settings>;
  /** Saves a partial change; the main process validates it again and answers per field. */
  setSettings(patch: SettingsPatch): Promise<SettingsUpdateResult>;
  subscribeStatus(listener: (status: AppStatus) => void): Promise<() => void>;
  onTrigger(listener: (trigger: TriggerMessage) => void): () => void;
  onReadAhead(listener: (message: ReadAheadMessage) => void): () => void;
  capturePreview(request: CapturePreviewRequest): Promise<CapturePreview>;
  openSettings(): Promise<void>;
  subscribeModels(listener: (snapshot: ModelsSnapshot) => void): Promise<() => void>;
  remoteModel(request: ModelRef): Promise<RemoteModelInfo>;
  /** Starts a download and resolves at once; progress arrives on subscribeModels. */
  pullModel(request: PullRequest): Promise<void>;
  cancelPull(request: ModelRef): Promise<void>;
  importModel(request: ImportRequest): Promise<ImportReportView>;
  removeModel(request: ModelRef): Promise<void>;
  pickFolder(): Promise<string | null>;
  listHistory(request: HistoryQuery): Promise<HistoryEntry[]>;
  deleteHistory(request: HistoryRef): Promise<void>;
  clearHistory(): Promise<void>;
  /** The kept screenshot as a data URL, or null when none was kept. */
  historyScreenshot(request: HistoryRef): Promise<string | null>;
  /** Asks the user, showing the whole address, then opens the link in the browser; true when it was opened. */
  openLink(request: OpenLinkRequest): Promise<boolean>;
  /** The models the server at `serverUrl` lists; rejects with one line naming the server and the fix. */
  listServerModels(request: ServerModelsRequest): Promise<ServerModelsReply>;
  serverKey(): Promise<ServerKeyState>;
  setServerKey(request: SetServerKeyRequest): Promise<ServerKeyState>;
}
