// The app's windows: the ask window (question box + streamed answer) and the region-selection overlay. Both take their
// web preferences from security.ts, are hidden until ready to paint, and are hardened before any page loads.
import type { Rect } from '../shared/ipc.js';
import { appPageUrl } from './app-protocol.js';
import { secureWebPreferences, type WebContentsLike } from './security.js';

export type WindowKind = 'ask' | 'overlay' | 'settings';

export interface WindowOptions {
  width?: number;
  height?: number;
  x?: number;
  y?: number;
  show: boolean;
  title: string;
  frame?: boolean;
  transparent?: boolean;
  alwaysOnTop?: boolean;
  skipTaskbar?: boolean;
  resizable?: boolean;
  fullscreenable?: boolean;
  backgroundColor?: string;
  webPreferences: ReturnType<typeof secureWebPreferences>;
}

export function askWindowOptions(preloadPath: string): WindowOptions {
  return { width: 560, height: 640, show: false, title: 'ScreenAsk', backgroundColor: '#1e1e1e', webPreferences: secureWebPreferences(preloadPath) };
}

export function settingsWindowOptions(preloadPath: string): WindowOptions {
  return { width: 520, height: 560, show: false, title: 'ScreenAsk Settings', webPreferences: secureWebPreferences(preloadPath) };
}

/** A frameless, transparent, always-on-top window covering one display, on which the user drags a rectangle. */
export function overlayWindowOptions(preloadPath: string, bounds: Rect): WindowOptions {
  return {
    ...bounds,
    show: false,
    title: 'ScreenAsk region',
    frame: false,
    transparent: true,
    alwaysOnTop: true,
    skipTaskbar: true,
    resizable: false,
    fullscreenable: false,
    webPreferences: secureWebPreferences(preloadPath),
  };
}

/** The parts of Electron's BrowserWindow this module uses. */
export interface WindowLike {
  readonly webContents: WebContentsLike & { send(channel: string, ...args: unknown[]): void };
  getContentBounds(): Rect;
  setAlwaysOnTop(flag: boolean, level?: 'screen-saver'): void;
  loadURL(url: string): Promise<void>;
  once(event: 'ready-to-show' | 'closed', listener: () => void): unknown;
  show(): void;
  focus(): void;
  close(): void;
  isDestroyed(): boolean;
}

export interface WindowDeps {
  readonly createWindow: (options: WindowOptions) => WindowLike;
  /** Applies security.ts's hardening to a new window's contents (before it loads anything). */
  readonly harden: (contents: WindowLike['webContents']) => void;
  readonly preloadPath: string;
}

/** One window per kind; asking again reuses and focuses it. */
export class WindowManager {
  readonly #deps: WindowDeps;
  readonly #open = new Map<WindowKind, WindowLike>();
  readonly #closedListeners = new Set<(kind: WindowKind) => void>();

  constructor(deps: WindowDeps) {
    this.#deps = deps;
  }

  get(kind: WindowKind): WindowLike | undefined {
    const win = this.#open.get(kind);
    return win && !win.isDestroyed() ? win : undefined;
  }

  /** Shows (creating if needed) a window; `bounds` positions the overlay on the captured display. */
  async show(kind: WindowKind, bounds?: Rect): Promise<WindowLike> {
    const existing = this.get(kind);
    if (existing) {
      existing.show();
      existing.focus();
      return existing;
    }
    const { preloadPath } = this.#deps;
    const options =
      kind === 'overlay' && bounds
        ? overlayWindowOptions(preloadPath, bounds)
        : kind === 'settings'
          ? settingsWindowOptions(preloadPath)
          : askWindowOptions(preloadPath);
    const win = this.#deps.createWindow(options);
    this.#deps.harden(win.webContents);
    // Above full-screen apps, the Dock and the menu bar: the level the constructor's alwaysOnTop does not reach.
    if (kind === 'overlay') win.setAlwaysOnTop(true, 'screen-saver');
    this.#open.set(kind, win);
    win.once('closed', () => {
      this.#open.delete(kind);
      for (const listener of this.#closedListeners) listener(kind);
    });
    win.once('ready-to-show', () => win.show());
    await win.loadURL(appPageUrl(kind));
    return win;
  }

  onClosed(listener: (kind: WindowKind) => void): () => void {
    this.#closedListeners.add(listener);
    return () => this.#closedListeners.delete(listener);
  }

  contentBounds(kind: WindowKind): Rect | undefined {
    return this.get(kind)?.getContentBounds();
  }

  close(kind: WindowKind): void {
    this.get(kind)?.close();
  }

  closeAll(): void {
    for (const kind of [...this.#open.keys()]) this.close(kind);
  }
}
