// The tray menu. Its content is a pure function of the app state (easy to test), and the glue re-sets the whole menu
// on every change: Linux AppIndicator ignores clicks, shows the icon only with a context menu, and does not pick up
// in-place edits of menu items, so a fresh menu is the one way that works everywhere.
import type { AppStatus, ModelState } from '../shared/ipc.js';

export type TrayAction = 'ask-screen' | 'ask-region' | 'settings' | 'quit';

export type TrayItem =
  | { readonly type: 'action'; readonly label: string; readonly action: TrayAction; readonly enabled: boolean }
  | { readonly type: 'info'; readonly label: string }
  | { readonly type: 'separator' };

const STATE_LABEL: Record<ModelState, string> = {
  loading: 'loading…',
  ready: 'ready',
  error: 'error',
  restarting: 'restarting…',
  stopped: 'stopped',
};

/** The menu for a state. Asking is enabled only when the model is ready. */
export function trayMenuModel(status: AppStatus): TrayItem[] {
  const ready = status.model.state === 'ready';
  const items: TrayItem[] = [
    { type: 'action', label: 'Ask about the screen', action: 'ask-screen', enabled: ready },
    { type: 'action', label: 'Ask about a region', action: 'ask-region', enabled: ready },
    { type: 'separator' },
    { type: 'info', label: `${status.model.name}: ${STATE_LABEL[status.model.state]}` },
  ];
  if (status.model.state === 'error' && status.model.message) {
    items.push({ type: 'info', label: truncate(status.model.message, 80) });
  }
  const serving = status.serving;
  if (serving?.state === 'on') items.push({ type: 'info', label: `Serving on ${serving.url}` });
  if (serving?.state === 'error') items.push({ type: 'info', label: truncate(`Serving: ${serving.message}`, 80) });
  const { hotkey } = status;
  if (hotkey.state === 'failed' || hotkey.state === 'unreliable') {
    items.push({ type: 'info', label: truncate(`Shortcut: ${hotkey.message ?? hotkey.state}`, 80) });
  }
  items.push(
    { type: 'separator' },
    { type: 'action', label: 'Settings…', action: 'settings', enabled: true },
    { type: 'action', label: 'Quit ScreenAsk', action: 'quit', enabled: true },
  );
  return items;
}

export function trayTooltip(status: AppStatus): string {
  return `ScreenAsk: ${status.model.name} ${STATE_LABEL[status.model.state]}`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Electron's MenuItemConstructorOptions, the subset we produce. */
export interface MenuTemplateItem {
  type?: 'normal' | 'separator';
  label?: string;
  enabled?: boolean;
  click?: () => void;
}

/** The parts of Electron's Tray and Menu this module uses. */
export interface TrayLike {
  setContextMenu(menu: unknown): void;
  setToolTip(tooltip: string): void;
  on(event: 'click', listener: () => void): unknown;
  destroy(): void;
}

export interface TrayDeps {
  readonly createTray: () => TrayLike;
  readonly buildMenu: (template: MenuTemplateItem[]) => unknown;
  readonly onAction: (action: TrayAction) => void;
  readonly platform: NodeJS.Platform;
}

/** Turns the menu model into an Electron template whose clicks dispatch actions. */
export function toTemplate(items: readonly TrayItem[], onAction: (action: TrayAction) => void): MenuTemplateItem[] {
  return items.map((item): MenuTemplateItem => {
    switch (item.type) {
      case 'separator':
        return { type: 'separator' };
      case 'info':
        return { label: item.label, enabled: false };
      case 'action':
        return { label: item.label, enabled: item.enabled, click: () => onAction(item.action) };
    }
  });
}

export class TrayController {
  readonly #tray: TrayLike;
  readonly #deps: TrayDeps;
  #ready = false;

  constructor(deps: TrayDeps, status: AppStatus) {
    this.#deps = deps;
    this.#tray = deps.createTray();
    // A left click asks about the screen where the platform delivers clicks (Windows, macOS); Linux ignores it.
    if (deps.platform !== 'linux') {
      this.#tray.on('click', () => {
        if (this.#ready) deps.onAction('ask-screen');
      });
    }
    this.update(status);
  }

  /** Sets a fresh menu and tooltip for `status`. Call on every status change. */
  update(status: AppStatus): void {
    this.#ready = status.model.state === 'ready';
    this.#tray.setContextMenu(this.#deps.buildMenu(toTemplate(trayMenuModel(status), this.#deps.onAction)));
    this.#tray.setToolTip(trayTooltip(status));
  }

  destroy(): void {
    this.#tray.destroy();
  }
}
