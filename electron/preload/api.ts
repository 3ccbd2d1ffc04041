// The `window.screenask` object: one function per channel in shared/ipc.ts and nothing else (no generic send or
// invoke, no Electron event objects: they carry the sender). Built over a minimal ipcRenderer so that the web harness
// (harness/bridge.ts) gives a browser page exactly the API the preload gives the app's windows.
import { IpcChannel, IpcEvent } from '../shared/ipc-channels.js';
import type { AppStatus, ModelsSnapshot, ReadAheadMessage, ScreenAskApi, TriggerMessage } from '../shared/ipc.js';

/** The parts of Electron's ipcRenderer the API uses. */
export interface IpcRendererLike {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
  removeListener(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
}

export function createScreenAskApi(ipc: IpcRendererLike): ScreenAskApi {
  // Typed per method below; the main process validates every payload, so the cast only restates the contract.
  const invoke = <T>(channel: string, ...args: unknown[]) => ipc.invoke(channel, ...args) as Promise<T>;
  /** Listens to a push channel; returns the function that stops listening. */
  const listen = <T>(channel: string, listener: (payload: T) => void) => {
    const onEvent = (_event: unknown, payload: unknown) => listener(payload as T);
    ipc.on(channel, onEvent);
    return () => void ipc.removeListener(channel, onEvent);
  };
  /** Push channels whose first value the main process sends when asked to (status, models). */
  const subscribe = async <T>(event: string, channel: string, listener: (payload: T) => void) => {
    const stop = listen(event, listener);
    await invoke(channel);
    return stop;
  };
  return {
    ask: (request) => invoke(IpcChannel.ask, request),
    followUp: (request) => invoke(IpcChannel.followUp, request),
    cancel: (request) => invoke(IpcChannel.cancel, request),
    capture: (request) => invoke(IpcChannel.capture, request),
    getSettings: () => invoke(IpcChannel.getSettings),
    setSettings: (settings) => invoke(IpcChannel.setSettings, settings),
    subscribeStatus: (listener) => subscribe<AppStatus>(IpcEvent.status, IpcChannel.subscribeStatus, listener),
    onTrigger: (listener) => listen<TriggerMessage>(IpcEvent.trigger, listener),
    onReadAhead: (listener) => listen<ReadAheadMessage>(IpcEvent.readAhead, listener),
    capturePreview: (request) => invoke(IpcChannel.capturePreview, request),
    openSettings: () => invoke(IpcChannel.openSettings),
    subscribeModels: (listener) => subscribe<ModelsSnapshot>(IpcEvent.models, IpcChannel.subscribeModels, listener),
    remoteModel: (request) => invoke(IpcChannel.remoteModel, request),
    pullModel: (request) => invoke(IpcChannel.pullModel, request),
    cancelPull: (request) => invoke(IpcChannel.cancelPull, request),
    importModel: (request) => invoke(IpcChannel.importModel, request),
    removeModel: (request) => invoke(IpcChannel.removeModel, request),
    pickFolder: () => invoke(IpcChannel.pickFolder),
    listHistory: (request) => invoke(IpcChannel.listHistory, request),
    deleteHistory: (request) => invoke(IpcChannel.deleteHistory, request),
    clearHistory: () => invoke(IpcChannel.clearHistory),
    historyScreenshot: (request) => invoke(IpcChannel.historyScreenshot, request),
    openLink: (request) => invoke(IpcChannel.openLink, request),
    listServerModels: (request) => invoke(IpcChannel.listServerModels, request),
    serverKey: () => invoke(IpcChannel.serverKey),
    setServerKey: (request) => invoke(IpcChannel.setServerKey, request),
  };
}
