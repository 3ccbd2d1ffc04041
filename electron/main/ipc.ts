// IPC in the main process. Every invoke is checked twice before a handler sees it: the sender frame must be one of our
// own pages (a compromised or foreign frame, e.g. an iframe that slipped in, is refused), and the payload must parse
// with the channel's zod schema. Rejections are logged and answered with a generic error, never with the payload.
// A handler's own failure reaches the page as its first line: Electron passes only `Error: <message>` across anyway.
import type { z } from 'zod';
import { firstLine } from '../../native-models/model/errors.js';
import {
  IpcChannel,
  fixedPayloadSchemas,
  type AskReply,
  type AskRequest,
  type CancelRequest,
  type CapturePreview,
  type CapturePreviewRequest,
  type CaptureReply,
  type CaptureRequest,
  type FollowUpRequest,
  type HistoryEntry,
  type HistoryQuery,
  type HistoryRef,
  type OpenLinkRequest,
  type ImportReportView,
  type ImportRequest,
  type IpcChannelName,
  type ModelRef,
  type PullRequest,
  type RemoteModelInfo,
  type ServerKeyState,
  type ServerModelsReply,
  type ServerModelsRequest,
  type SetServerKeyRequest,
} from '../shared/ipc.js';
import type { AppUrlMatcher } from './security.js';

/** The part of an Electron IpcMainInvokeEvent this module reads. */
export interface InvokeEventLike {
  readonly senderFrame: { readonly url: string } | null | undefined;
  readonly sender: SenderLike;
}
/** The renderer that sent a message (Electron's WebContents), as handlers may use it. */
export interface SenderLike {
  readonly id: number;
  send(channel: string, ...args: unknown[]): void;
  postMessage(channel: string, message: unknown, transfer?: unknown[]): void;
  isDestroyed(): boolean;
}

export interface IpcMainLike {
  handle(channel: string, listener: (event: InvokeEventLike, ...args: unknown[]) => unknown): void;
  removeHandler(channel: string): void;
}

/** What the app does for each channel, once the message is known to be well formed and ours. */
export interface IpcHandlers {
  ask(request: AskRequest, sender: SenderLike): Promise<AskReply>;
  followUp(request: FollowUpRequest, sender: SenderLike): Promise<AskReply>;
  cancel(request: CancelRequest, sender: SenderLike): Promise<void>;
  capture(request: CaptureRequest, sender: SenderLike): Promise<CaptureReply>;
  getSettings(sender: SenderLike): Promise<unknown>;
  /** Receives settings already parsed by the injected settings schema. */
  setSettings(settings: unknown, sender: SenderLike): Promise<unknown>;
  subscribeStatus(sender: SenderLike): Promise<void>;
  capturePreview(request: CapturePreviewRequest, sender: SenderLike): Promise<CapturePreview>;
  openSettings(sender: SenderLike): Promise<void>;
  /** Sends the models snapshot now and after every change, until the sender's page is gone. */
  subscribeModels(sender: SenderLike): Promise<void>;
  remoteModel(request: ModelRef, sender: SenderLike): Promise<RemoteModelInfo>;
  pullModel(request: PullRequest, sender: SenderLike): Promise<void>;
  cancelPull(request: ModelRef, sender: SenderLike): Promise<void>;
  importModel(request: ImportRequest, sender: SenderLike): Promise<ImportReportView>;
  removeModel(request: ModelRef, sender: SenderLike): Promise<void>;
  pickFolder(sender: SenderLike): Promise<string | null>;
  listHistory(request: HistoryQuery, sender: SenderLike): Promise<HistoryEntry[]>;
  deleteHistory(request: HistoryRef, sender: SenderLike): Promise<void>;
  clearHistory(sender: SenderLike): Promise<void>;
  openLink(request: OpenLinkRequest, sender: SenderLike): Promise<boolean>;
  historyScreenshot(request: HistoryRef, sender: SenderLike): Promise<string | null>;
  listServerModels(request: ServerModelsRequest, sender: SenderLike): Promise<ServerModelsReply>;
  serverKey(sender: SenderLike): Promise<ServerKeyState>;
  setServerKey(request: SetServerKeyRequest, sender: SenderLike): Promise<ServerKeyState>;
}

export interface IpcDeps {
  readonly ipcMain: IpcMainLike;
  readonly isAppUrl: AppUrlMatcher;
  /** The settings schema (owned by the settings module); setSettings payloads must parse with it. */
  readonly settingsSchema: z.ZodType;
  readonly handlers: IpcHandlers;
  readonly log: (message: string) => void;
}

/** The error a renderer sees for a rejected message: deliberately uninformative. */
export class IpcRejected extends Error {
  override readonly name = 'IpcRejected';
}

/** Registers every channel; returns a function that removes them. */
export function registerIpc(deps: IpcDeps): () => void {
  const { handlers } = deps;
  const schemas: Record<IpcChannelName, z.ZodType> = {
    ...fixedPayloadSchemas,
    [IpcChannel.setSettings]: deps.settingsSchema,
  };
  const dispatch: Record<IpcChannelName, (payload: never, sender: SenderLike) => Promise<unknown>> = {
    [IpcChannel.ask]: (p: AskRequest, s) => handlers.ask(p, s),
    [IpcChannel.followUp]: (p: FollowUpRequest, s) => handlers.followUp(p, s),
    [IpcChannel.cancel]: (p: CancelRequest, s) => handlers.cancel(p, s),
    [IpcChannel.capture]: (p: CaptureRequest, s) => handlers.capture(p, s),
    [IpcChannel.getSettings]: (_p: undefined, s) => handlers.getSettings(s),
    [IpcChannel.setSettings]: (p: unknown, s) => handlers.setSettings(p, s),
    [IpcChannel.subscribeStatus]: (_p: undefined, s) => handlers.subscribeStatus(s),
    [IpcChannel.capturePreview]: (p: CapturePreviewRequest, s) => handlers.capturePreview(p, s),
    [IpcChannel.openSettings]: (_p: undefined, s) => handlers.openSettings(s),
    [IpcChannel.subscribeModels]: (_p: undefined, s) => handlers.subscribeModels(s),
    [IpcChannel.remoteModel]: (p: ModelRef, s) => handlers.remoteModel(p, s),
    [IpcChannel.pullModel]: (p: PullRequest, s) => handlers.pullModel(p, s),
    [IpcChannel.cancelPull]: (p: ModelRef, s) => handlers.cancelPull(p, s),
    [IpcChannel.importModel]: (p: ImportRequest, s) => handlers.importModel(p, s),
    [IpcChannel.removeModel]: (p: ModelRef, s) => handlers.removeModel(p, s),
    [IpcChannel.pickFolder]: (_p: undefined, s) => handlers.pickFolder(s),
    [IpcChannel.openLink]: (p: OpenLinkRequest, s) => handlers.openLink(p, s),
    [IpcChannel.listHistory]: (p: HistoryQuery, s) => handlers.listHistory(p, s),
    [IpcChannel.deleteHistory]: (p: HistoryRef, s) => handlers.deleteHistory(p, s),
    [IpcChannel.clearHistory]: (_p: undefined, s) => handlers.clearHistory(s),
    [IpcChannel.historyScreenshot]: (p: HistoryRef, s) => handlers.historyScreenshot(p, s),
    [IpcChannel.listServerModels]: (p: ServerModelsRequest, s) => handlers.listServerModels(p, s),
    [IpcChannel.serverKey]: (_p: undefined, s) => handlers.serverKey(s),
    [IpcChannel.setServerKey]: (p: SetServerKeyRequest, s) => handlers.setServerKey(p, s),
  };

  for (const channel of Object.values(IpcChannel)) {
    deps.ipcMain.handle(channel, async (event, ...args) => {
      const url = event.senderFrame?.url ?? '';
      if (!deps.isAppUrl(url)) {
        deps.log(`ipc: rejected ${channel} from foreign sender ${JSON.stringify(url.slice(0, 200))}`);
        throw new IpcRejected(`${channel}: sender not allowed`);
      }
      if (args.length > 1) {
        deps.log(`ipc: rejected ${channel}: ${args.length} arguments, expected at most 1`);
        throw new IpcRejected(`${channel}: malformed message`);
      }
      const parsed = schemas[channel].safeParse(args[0]);
      if (!parsed.success) {
        const where = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
        deps.log(`ipc: rejected ${channel}: ${where}`);
        throw new IpcRejected(`${channel}: malformed message`);
      }
      try {
        return await dispatch[channel](parsed.data as never, event.sender);
      } catch (error) {
        throw new Error(firstLine(error), { cause: error });
      }
    });
  }
  return () => {
    for (const channel of Object.values(IpcChannel)) deps.ipcMain.removeHandler(channel);
  };
}
