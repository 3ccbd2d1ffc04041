// The preload: the page's only door to the main process. It exposes `window.screenask`, one function per channel in
// shared/ipc.ts and nothing else: no ipcRenderer, no generic send/invoke, no Electron event objects (they carry the
// sender). Runs sandboxed, so it is bundled to CommonJS (out/preload/index.cjs) and may only require 'electron'.
import { contextBridge, ipcRenderer } from 'electron';
import { IpcChannel, IpcEvent, STREAM_PORT_MESSAGE } from '../shared/ipc-channels.js';
import type { AppStatus, ScreenAskApi, TriggerMessage } from '../shared/ipc.js';

const api: ScreenAskApi = {
  ask: (request) => ipcRenderer.invoke(IpcChannel.ask, request),
  followUp: (request) => ipcRenderer.invoke(IpcChannel.followUp, request),
  cancel: (request) => ipcRenderer.invoke(IpcChannel.cancel, request),
  capture: (request) => ipcRenderer.invoke(IpcChannel.capture, request),
  getSettings: () => ipcRenderer.invoke(IpcChannel.getSettings),
  setSettings: (settings) => ipcRenderer.invoke(IpcChannel.setSettings, settings),
  async subscribeStatus(listener) {
    const onStatus = (_event: unknown, status: AppStatus) => listener(status);
    ipcRenderer.on(IpcEvent.status, onStatus);
    await ipcRenderer.invoke(IpcChannel.subscribeStatus);
    return () => void ipcRenderer.removeListener(IpcEvent.status, onStatus);
  },
  onTrigger(listener) {
    const onTrigger = (_event: unknown, trigger: TriggerMessage) => listener(trigger);
    ipcRenderer.on(IpcEvent.trigger, onTrigger);
    return () => void ipcRenderer.removeListener(IpcEvent.trigger, onTrigger);
  },
};

contextBridge.exposeInMainWorld('screenask', api);

// A MessagePort cannot cross contextBridge as an argument; Electron's documented way is to re-post it to the page's
// own window, transferring the port. The page accepts it only when `event.source === window` (file:// pages have an
// opaque origin, so '*' is the only target origin that works; the message never leaves this window).
ipcRenderer.on(IpcEvent.streamPort, (event, message: { askId?: unknown }) => {
  if (typeof message?.askId !== 'string' || event.ports.length !== 1) return;
  window.postMessage({ type: STREAM_PORT_MESSAGE, askId: message.askId }, '*', [...event.ports]);
});
