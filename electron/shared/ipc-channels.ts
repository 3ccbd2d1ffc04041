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
} as const;

/** The `window.postMessage` type the preload uses to hand a stream port to the page. */
export const STREAM_PORT_MESSAGE = 'screenask:stream-port';
