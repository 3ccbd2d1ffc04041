// The global shortcut. It is registered after `ready` (Electron refuses earlier), can be rebound or disabled, and its
// outcome is reported as a status the tray and the settings show, because registration fails silently in practice:
// register() returns false when another app owns the combination, and under Wayland it may return true and never fire.
import type { HotkeyState } from '../shared/ipc.js';

export const DEFAULT_ACCELERATOR = 'CommandOrControl+Shift+Space';

/** The part of Electron's `globalShortcut` this module uses. */
export interface GlobalShortcutLike {
  register(accelerator: string, callback: () => void): boolean;
  unregister(accelerator: string): void;
  isRegistered(accelerator: string): boolean;
}

export interface HotkeyStatus {
  /** The accelerator in force (null: disabled). */
  readonly accelerator: string | null;
  readonly state: HotkeyState;
  /** For the user, when the state is not plain `registered`. */
  readonly message?: string;
}

export interface HotkeyDeps {
  readonly globalShortcut: GlobalShortcutLike;
  readonly platform: NodeJS.Platform;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly onTrigger: () => void;
  readonly onStatus?: (status: HotkeyStatus) => void;
}

const FALLBACK_HINT = 'use the tray menu or run `screenask --ask`';

/** True when the session is Wayland, where global shortcuts go through a portal that is not reliable yet. */
export function isWayland(platform: NodeJS.Platform, env: Readonly<Record<string, string | undefined>>): boolean {
  if (platform !== 'linux') return false;
  const type = env.XDG_SESSION_TYPE?.toLowerCase();
  if (type) return type === 'wayland';
  return Boolean(env.WAYLAND_DISPLAY);
}

export class HotkeyManager {
  #current: string | null = null;
  #status: HotkeyStatus = { accelerator: null, state: 'disabled' };
  readonly #deps: HotkeyDeps;

  constructor(deps: HotkeyDeps) {
    this.#deps = deps;
  }

  get status(): HotkeyStatus {
    return this.#status;
  }

  /**
   * Registers `accelerator` in place of the current one (null or '' disables). Call after `ready`, and again on every
   * settings change. Never throws: the outcome is the returned status.
   */
  apply(accelerator: string | null): HotkeyStatus {
    const wanted = accelerator?.trim() || null;
    const { globalShortcut } = this.#deps;
    this.#release();
    if (wanted === null) return this.#set({ accelerator: null, state: 'disabled' });

    // Registered already by this process (another part of the app): register() would "succeed" and replace it.
    if (globalShortcut.isRegistered(wanted)) {
      return this.#set({ accelerator: wanted, state: 'failed', message: `${wanted} is already in use; ${FALLBACK_HINT}` });
    }
    let ok: boolean;
    try {
      ok = globalShortcut.register(wanted, () => this.#deps.onTrigger());
    } catch (error) {
      // Electron throws on a string it cannot parse as an accelerator.
      const reason = error instanceof Error ? error.message : String(error);
      return this.#set({ accelerator: wanted, state: 'failed', message: `${wanted} is not a valid shortcut (${reason})` });
    }
    if (!ok) {
      return this.#set({
        accelerator: wanted,
        state: 'failed',
        message: `${wanted} is taken by another application; choose another in Settings or ${FALLBACK_HINT}`,
      });
    }
    this.#current = wanted;
    if (isWayland(this.#deps.platform, this.#deps.env)) {
      return this.#set({
        accelerator: wanted,
        state: 'unreliable',
        message: `Wayland session: ${wanted} may never fire; if it does not, ${FALLBACK_HINT}`,
      });
    }
    return this.#set({ accelerator: wanted, state: 'registered' });
  }

  /** Unregisters (on quit: global shortcuts outlive nothing, but say so explicitly). */
  dispose(): void {
    this.#release();
    this.#set({ accelerator: null, state: 'disabled' });
  }

  #release(): void {
    if (this.#current !== null) {
      this.#deps.globalShortcut.unregister(this.#current);
      this.#current = null;
    }
  }

  #set(status: HotkeyStatus): HotkeyStatus {
    this.#status = status;
    this.#deps.onStatus?.(status);
    return status;
  }
}
