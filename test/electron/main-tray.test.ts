import { describe, expect, it, vi } from 'vitest';
import { TrayController, trayMenuModel, type MenuTemplateItem } from '../../electron/main/tray.js';
import type { AppStatus } from '../../electron/shared/ipc.js';
import { FakeTray } from './fakes.js';

const ready: AppStatus = {
  model: { name: 'SmolVLM-256M', state: 'ready' },
  hotkey: { accelerator: 'CommandOrControl+Shift+Space', state: 'registered' },
  lastAnswers: {},
};

describe('tray menu model', () => {
  it('lists the actions and the model state', () => {
    const labels = trayMenuModel(ready).map((i) => (i.type === 'separator' ? '---' : i.label));
    expect(labels).toEqual(['Ask about the screen', 'Ask about a region', '---', 'SmolVLM-256M: ready', '---', 'Settings…', 'Quit ScreenAsk']);
  });

  it('disables asking while the model loads and shows errors and a failed shortcut', () => {
    const items = trayMenuModel({
      model: { name: 'm', state: 'error', message: 'model folder missing' },
      hotkey: { accelerator: 'Alt+Space', state: 'failed', message: 'Alt+Space is taken' },
      lastAnswers: {},
    });
    expect(items.filter((i) => i.type === 'action' && i.action.startsWith('ask')).every((i) => i.type === 'action' && !i.enabled)).toBe(true);
    const info = items.flatMap((i) => (i.type === 'info' ? [i.label] : []));
    expect(info).toEqual(['m: error', 'model folder missing', 'Shortcut: Alt+Space is taken']);
    expect(trayMenuModel({ ...ready, model: { name: 'm', state: 'loading' } }).find((i) => i.type === 'info')).toEqual({ type: 'info', label: 'm: loading…' });
  });
});

describe('tray controller', () => {
  function setup(platform: NodeJS.Platform) {
    const tray = new FakeTray();
    const onAction = vi.fn();
    const controller = new TrayController({ createTray: () => tray, buildMenu: (t: MenuTemplateItem[]) => t, onAction, platform }, ready);
    return { tray, onAction, controller };
  }

  it('sets a fresh menu on every change (AppIndicator needs it) and menu clicks dispatch actions', () => {
    const { tray, onAction, controller } = setup('linux');
    expect(tray.menus).toHaveLength(1);
    controller.update({ ...ready, model: { name: 'SmolVLM-256M', state: 'restarting' } });
    expect(tray.menus).toHaveLength(2);
    expect(tray.tooltip).toBe('ScreenAsk: SmolVLM-256M restarting…');
    const menu = tray.menus[0] as MenuTemplateItem[];
    menu.find((i) => i.label === 'Ask about a region')?.click?.();
    menu.find((i) => i.label === 'Quit ScreenAsk')?.click?.();
    expect(onAction.mock.calls).toEqual([['ask-region'], ['quit']]);
    // Linux ignores clicks: no click listener is installed there.
    expect(tray.listenerCount('click')).toBe(0);
  });

  it('a left click asks on Windows/macOS, but only when the model is ready', () => {
    const { tray, onAction, controller } = setup('win32');
    tray.emit('click');
    controller.update({ ...ready, model: { name: 'x', state: 'loading' } });
    tray.emit('click');
    expect(onAction.mock.calls).toEqual([['ask-screen']]);
    controller.destroy();
    expect(tray.destroyed).toBe(true);
  });
});
