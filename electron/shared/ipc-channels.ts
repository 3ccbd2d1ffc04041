// Channel names only, without zod: the sandboxed preload bundles this file, and it should stay a few hundred bytes.
// electron/shared/ipc.ts re-exports these next to the payload schemas.

/** invoke() channels (renderer → main, with a reply). */
export const IpcChannel = {
  ask: 'screenask:ask',
  cancel: 'screenask:cancel',
  followUp: 'screenask:follow-up',
  getSettings: 'screenask:get-settings',
  setSettings: 'screenask:set-settings',
  capture: 'screenask:capture',
  subscribeStatus: 'screenask:subscribe-status',
  /** A downscaled preview of a capture, for the ask window's thumbnail. */
  capturePreview: 'screenask:capture-preview',
  openSettings: 'screenask:open-settings',
  /** Models: the installed and downloadable models, and the downloads in progress (pushed on `models` events). */
  subscribeModels: 'screenask:subscribe-models',
  /** Sizes per precision of one catalogue model (asks the Hub). */
  remoteModel: 'screenask:remote-model',
  pullModel: 'screenask:pull-model',
  cancelPull: 'screenask:cancel-pull',
  importModel: 'screenask:import-model',
  removeModel: 'screenask:remove-model',
  /** Shows the system's folder picker (for importing a model); resolves to null when the user cancels. */
  pickFolder: 'screenask:pick-folder',
  listHistory: 'screenask:list-history',
  deleteHistory: 'screenask:delete-history',
  clearHistory: 'screenask:clear-history',
  historyScreenshot: 'screenask:history-screenshot',
  /** A link in an answer: the user is asked before it opens in the browser. */
  openLink: 'screenask:open-link',
  /** The models an OpenAI-compatible server lists (the main process asks it; the page never talks to servers). */
  listServerModels: 'screenask:list-server-models',
  /** Whether an API key is kept for the configured server, and how (never the key itself). */
  serverKey: 'screenask:server-key',
  /** Keeps (or, with null, forgets) the configured server's API key; answers as serverKey does. */
  setServerKey: 'screenask:set-server-key',
} as const;
export type IpcChannelName = (typeof IpcChannel)[keyof typeof IpcChannel];

/** send() channels (main → renderer, no reply). */
export const IpcEvent = {
  /** App status (model state, hotkey status). */
  status: 'screenask:status',
  /** Carries a MessagePort on which the tokens of one answer stream; the preload forwards it with postMessage. */
  streamPort: 'screenask:stream-port',
  /** The main process asks the renderer to start a question flow (hotkey, tray, `screenask --ask`). */
  trigger: 'screenask:trigger',
  /** A new models snapshot (installed, catalogue, downloads with progress). */
  models: 'screenask:models',
  /** How reading the capture ahead of the question is going (ReadAheadMessage), for the ask window. */
  readAhead: 'screenask:read-ahead',
} as const;

/** The `window.postMessage` type the preload uses to hand a stream port to the page. */
export const STREAM_PORT_MESSAGE = 'screenask:stream-port';
