// What the test (the driver) and the fake 'electron' module inside the app's main process say to each other over the
// process's IPC channel. The fake plays the operating system and Chromium: it reports what the app did (windows,
// messages to pages, dialogs, the tray), and performs what a user or a page would do (press the hotkey, click the
// tray, call an IPC channel from a page, send a port message).
import type { Rect } from '../../../electron/shared/ipc.js';

/** A display of the fake desktop, in Electron's terms (DIPs, scale factor) plus the picture it shows. */
export interface FakeDisplaySpec {
  readonly id: number;
  readonly bounds: Rect;
  /** The area below the menu bar (macOS) or beside the task bar; default: the bounds. */
  readonly workArea?: Rect;
  readonly scaleFactor: number;
  /** A raw RGBA file (8-byte header: width, height as uint32 BE; then pixels) at the display's physical size. */
  readonly rgbaFile: string;
}

/** The fake's configuration, as JSON in SCREENASK_FAKE_ELECTRON. */
export interface FakeElectronConfig {
  /** Electron's appData folder; userData is appData/<app name>. */
  readonly appData: string;
  readonly displays: readonly FakeDisplaySpec[];
  readonly cursor: { readonly x: number; readonly y: number };
  /** The built parent-port shim the utility processes start with (Electron's `process.parentPort`). */
  readonly parentPortShim: string;
}

export const FAKE_ELECTRON_ENV = 'SCREENASK_FAKE_ELECTRON';

export interface ResourceLoad {
  readonly url: string;
  readonly status: number;
  readonly contentType: string | null;
  readonly csp: string | null;
}

/** From the fake to the driver. */
export type AppEvent =
  | { readonly type: 'ready'; readonly sandboxed: boolean; readonly privilegedSchemes: Readonly<Record<string, unknown>> }
  | { readonly type: 'window-created'; readonly windowId: number; readonly options: unknown }
  | { readonly type: 'window-loaded'; readonly windowId: number; readonly url: string; readonly resources: readonly ResourceLoad[] }
  | { readonly type: 'window-load-failed'; readonly windowId: number; readonly url: string; readonly error: string }
  | { readonly type: 'window-shown'; readonly windowId: number }
  | { readonly type: 'window-on-top'; readonly windowId: number; readonly flag: boolean; readonly level: string | null }
  | { readonly type: 'window-closed'; readonly windowId: number }
  | { readonly type: 'send'; readonly windowId: number; readonly channel: string; readonly args: readonly unknown[] }
  | { readonly type: 'post'; readonly windowId: number; readonly channel: string; readonly message: unknown; readonly portIds: readonly number[] }
  | { readonly type: 'port-message'; readonly portId: number; readonly data: unknown }
  | { readonly type: 'port-close'; readonly portId: number }
  | { readonly type: 'tray'; readonly icon: { readonly empty: boolean; readonly path: string }; readonly menu: readonly MenuItemView[]; readonly tooltip: string }
  | { readonly type: 'dialog'; readonly kind: 'message' | 'open'; readonly options: unknown }
  | { readonly type: 'open-external'; readonly url: string }
  | { readonly type: 'shortcuts'; readonly accelerators: readonly string[] }
  | { readonly type: 'utility-forked'; readonly pid: number | undefined; readonly modulePath: string }
  | { readonly type: 'reply'; readonly requestId: number; readonly ok: true; readonly value: unknown }
  | { readonly type: 'reply'; readonly requestId: number; readonly ok: false; readonly error: string };

export interface MenuItemView {
  readonly label?: string;
  readonly type?: string;
  readonly enabled: boolean;
}

/** From the driver to the fake; each gets a 'reply' with its requestId. */
export type DriverRequest =
  | { readonly type: 'press-shortcut'; readonly accelerator: string }
  | { readonly type: 'click-tray'; readonly label: string }
  | { readonly type: 'invoke'; readonly windowId: number; readonly channel: string; readonly args: readonly unknown[] }
  | { readonly type: 'permission'; readonly windowId: number; readonly permission: 'clipboard-sanitized-write' }
  | { readonly type: 'close-window'; readonly windowId: number }
  | { readonly type: 'quit' };

export type DriverMessage = DriverRequest & { readonly requestId: number };

/** Raw RGBA as the fake reads it: width and height (uint32 BE), then the pixels. */
export function encodeRgbaFile(width: number, height: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  out.set(data, 8);
  return out;
}

export function decodeRgbaFile(bytes: Uint8Array): { width: number; height: number; data: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(0), height: view.getUint32(4), data: bytes.subarray(8) };
}
