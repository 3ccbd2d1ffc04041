// The preload: the page's only door to the main process. It exposes `window.screenask`, built by api.ts: one function
// per channel in shared/ipc.ts and nothing else (no ipcRenderer, no generic send/invoke, no Electron event objects).
// Runs sandboxed, so it is bundled to CommonJS (out/preload/index.cjs) and may only require 'electron'.
import { contextBridge, ipcRenderer } from 'electron';
import { IpcEvent, STREAM_PORT_MESSAGE } from '../shared/ipc-channels.js';
import { createScreenAskApi } from './api.js';

contextBridge.exposeInMainWorld('screenask', createScreenAskApi(ipcRenderer));

// A MessagePort cannot cross contextBridge as an argument; Electron's documented way is to re-post it to the page's
// own window, transferring the port. The page accepts it only when `event.source === window` (file:// pages have an
// opaque origin, so '*' is the only target origin that works; the message never leaves this window).
ipcRenderer.on(IpcEvent.streamPort, (event, message: { askId?: unknown }) => {
  if (typeof message?.askId !== 'string' || event.ports.length !== 1) return;
  window.postMessage({ type: STREAM_PORT_MESSAGE, askId: message.askId }, '*', [...event.ports]);
});
