import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_ACCELERATOR, HotkeyManager, isWayland, type HotkeyStatus } from '../../electron/main/hotkey.js';
import { FakeGlobalShortcut } from './fakes.js';

function setup(env: Record<string, string> = {}, platform: NodeJS.Platform = 'linux') {
  const globalShortcut = new FakeGlobalShortcut();
  const onTrigger = vi.fn();
  const statuses: HotkeyStatus[] = [];
  const hotkey = new HotkeyManager({ globalShortcut, platform, env, onTrigger, onStatus: (s) => statuses.push(s) });
  return { globalShortcut, onTrigger, statuses, hotkey };
}

describe('hotkey', () => {
  it('registers the default shortcut, and pressing it triggers an ask', () => {
    const { globalShortcut, onTrigger, hotkey, statuses } = setup({ XDG_SESSION_TYPE: 'x11' });
    expect(hotkey.apply(DEFAULT_ACCELERATOR)).toEqual({ accelerator: DEFAULT_ACCELERATOR, state: 'registered' });
    globalShortcut.press(DEFAULT_ACCELERATOR);
    expect(onTrigger).toHaveBeenCalledTimes(1);
    expect(statuses.at(-1)?.state).toBe('registered');
  });

  it('reports a shortcut another application owns as failed, with the fallbacks', () => {
    const { globalShortcut, hotkey } = setup();
    globalShortcut.takenElsewhere.add('Alt+Space');
    const status = hotkey.apply('Alt+Space');
    expect(status.state).toBe('failed');
    expect(status.message).toMatch(/taken by another application/);
    expect(status.message).toMatch(/screenask --ask/);
  });

  it('reports a shortcut this process already holds as failed instead of stealing it', () => {
    const { globalShortcut, hotkey } = setup();
    globalShortcut.register('Alt+A', () => {});
    expect(hotkey.apply('Alt+A')).toMatchObject({ state: 'failed', message: expect.stringMatching(/already in use/) });
  });

  it('reports an accelerator Electron cannot parse as failed, without throwing', () => {
    const { hotkey } = setup();
    expect(hotkey.apply('Bogus+Key')).toMatchObject({ state: 'failed', message: expect.stringMatching(/not a valid shortcut/) });
  });

  it('flags Wayland, where register() succeeds but may never fire', () => {
    const { hotkey, globalShortcut } = setup({ XDG_SESSION_TYPE: 'wayland' });
    const status = hotkey.apply(DEFAULT_ACCELERATOR);
    expect(status.state).toBe('unreliable');
    expect(status.message).toMatch(/Wayland/);
    expect(globalShortcut.isRegistered(DEFAULT_ACCELERATOR)).toBe(true);
    expect(isWayland('linux', { WAYLAND_DISPLAY: 'wayland-0' })).toBe(true);
    expect(isWayland('darwin', { XDG_SESSION_TYPE: 'wayland' })).toBe(false);
    expect(isWayland('linux', { XDG_SESSION_TYPE: 'x11', WAYLAND_DISPLAY: 'wayland-0' })).toBe(false);
  });

  it('re-registers on change, disables, and unregisters on dispose', () => {
    const { globalShortcut, hotkey } = setup({}, 'win32');
    hotkey.apply('Alt+A');
    hotkey.apply('Alt+B');
    expect([...globalShortcut.registered.keys()]).toEqual(['Alt+B']);
    expect(hotkey.apply(null)).toEqual({ accelerator: null, state: 'disabled' });
    expect(globalShortcut.registered.size).toBe(0);
    hotkey.apply('Alt+C');
    hotkey.dispose();
    expect(globalShortcut.registered.size).toBe(0);
    expect(hotkey.status.state).toBe('disabled');
  });
});
