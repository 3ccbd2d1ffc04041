// What travels between the web harness's server (harness/server.ts) and its in-page bridge (harness/bridge.ts): the
// stand-in for Electron's IPC when the renderer runs in an ordinary browser. Invokes are POSTs; everything the main
// process pushes (ipc events, answer streams, window changes) comes down one server-sent-events stream per page.

/** POST /ipc/<channel>, body: the invoke's arguments as a JSON array (`[]` for none). */
export const IPC_PATH = '/ipc/';
/** GET: the page's event stream; `?client=<id>` names the page, and every invoke carries the same id. */
export const EVENTS_PATH = '/harness/events';
export const CLIENT_HEADER = 'x-screenask-client';
/** POST { mode: 'screen' | 'region' }: what the global hotkey or tray would do. */
export const TRIGGER_PATH = '/harness/trigger';
/** POST an image's bytes: it becomes the "screen" the next capture sees. */
export const SCREEN_PATH = '/harness/screen';
/** POST { id, ok }: the page's answer to a 'confirm' event (the user agreed to send captures to a server, or not). */
export const CONFIRM_PATH = '/harness/confirm';
/** The in-page bridge's script. */
export const BRIDGE_PATH = '/harness/bridge.js';

/** A reply to an invoke. */
export type InvokeReply = { readonly ok: true; readonly result?: unknown } | { readonly ok: false; readonly error: string };

/** One server-sent event. */
export type HarnessEvent =
  /** `webContents.send(channel, ...args)`. */
  | { readonly type: 'send'; readonly channel: string; readonly args: readonly unknown[] }
  /** A stream port for one answer opens (Electron: a MessagePort posted with IpcEvent.streamPort). */
  | { readonly type: 'port-open'; readonly askId: string }
  | { readonly type: 'port-message'; readonly askId: string; readonly message: unknown }
  | { readonly type: 'port-close'; readonly askId: string }
  /** A window is shown or closed: the page switches to that view (one browser tab plays every window). */
  | { readonly type: 'window'; readonly action: 'show' | 'close'; readonly view: string }
  /** The main process asks the user (Electron: a message box): the page asks with confirm() and posts the answer. */
  | { readonly type: 'confirm'; readonly id: string; readonly message: string; readonly detail: string };
