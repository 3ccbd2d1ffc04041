// The real entry (electron/main/index.ts) against a fake 'electron' module: checks that the wiring applies the
// security setup, registers IPC, tray and hotkey, and creates windows with the locked-down preferences.
import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { IpcChannel } from '../../electron/shared/ipc.js';

const h = vi.hoisted(() => ({ windows: [] as Array<{ options: Record<string, unknown>; url?: string }>, calls: [] as string[] }));

vi.mock('electron', async () => {
  const { EventEmitter } = await import('node:events');
  const f = await import('./fakes.js');
  const app = Object.assign(new f.FakeApp(), {
    enableSandbox: () => h.calls.push('enableSandbox'),
    getPath: () => '/tmp/screenask-test-user-data',
    exit: (code: number) => h.calls.push(`exit ${code}`),
  });
  app.readyResolve();
  class BrowserWindow extends EventEmitter {
    readonly webContents = new f.FakeWebContents();
    constructor(readonly options: Record<string, unknown>) {
      super();
      h.windows.push({ options });
    }
    async loadURL(url: string) {
      h.windows.at(-1)!.url = url;
    }
    show() {}
    focus() {}
    close() {}
    isDestroyed() {
      return false;
    }
  }
  class Tray extends f.FakeTray {}
  return {
    app,
    BrowserWindow,
    Tray,
    Menu: { buildFromTemplate: (t: unknown) => t },
    MessageChannelMain: class {
      port1 = { postMessage() {}, close() {} };
      port2 = {};
    },
    desktopCapturer: { getSources: async () => [] },
    dialog: { showMessageBox: async () => ({ response: 1 }) },
    globalShortcut: new f.FakeGlobalShortcut(),
    ipcMain: new f.FakeIpcMain(),
    nativeImage: { createFromPath: (p: string) => ({ path: p }) },
    screen: { getCursorScreenPoint: () => ({ x: 0, y: 0 }), getDisplayNearestPoint: () => ({}), getAllDisplays: () => [] },
    session: { defaultSession: new f.FakeSession() },
    shell: { openExternal: async () => {} },
    systemPreferences: { getMediaAccessStatus: () => 'granted' },
  };
});
vi.mock('../../electron/main/process-launcher.js', () => ({ createElectronLauncher: async () => ({ kind: 'electron', fork: () => ({}) }) }));
vi.mock('../../electron/main/engine-supervisor.js', () => ({
  EngineSupervisor: class {
    onStatus() {
      return () => {};
    }
    async start() {
      h.calls.push('engine start');
    }
    async stop() {}
    async load() {}
    ask() {
      throw new Error('not in this test');
    }
  },
}));
vi.mock('../../electron/main/settings-store.js', () => ({
  openSettingsStore: async () => ({
    file: '/tmp/settings.json',
    problems: [],
    get: () => ({ model: null, hotkey: 'CommandOrControl+Shift+Space', precision: 'auto', device: 'auto' }),
    update: async () => ({ ok: true }),
    onChange: () => () => {},
  }),
}));

describe('main entry (fake electron)', () => {
  it('wires security, IPC, tray, hotkey and the engine; windows get the locked-down preferences', async () => {
    const electron = (await import('electron')) as unknown as Record<string, unknown> & {
      app: EventEmitter;
      session: { defaultSession: InstanceType<typeof import('./fakes.js').FakeSession> };
      ipcMain: InstanceType<typeof import('./fakes.js').FakeIpcMain>;
      globalShortcut: InstanceType<typeof import('./fakes.js').FakeGlobalShortcut>;
    };
    await import('../../electron/main/index.js');
    await vi.waitFor(() => expect(h.calls).toContain('engine start'));
    expect(h.calls[0]).toBe('enableSandbox');
    expect(h.calls).not.toContainEqual(expect.stringMatching(/^exit/));
    const ses = electron.session.defaultSession;
    expect(ses.headersListener).toBeTypeOf('function');
    expect(ses.requestHandler).toBeTypeOf('function');
    expect(await ses.request('geolocation', 'file:///x')).toBe(false);
    expect([...electron.ipcMain.handlers.keys()].sort()).toEqual(Object.values(IpcChannel).sort());
    expect(electron.globalShortcut.isRegistered('CommandOrControl+Shift+Space')).toBe(true);

    // A second launch without --ask brings up the ask window.
    electron.app.emit('second-instance', {}, ['screenask'], '/');
    await vi.waitFor(() => expect(h.windows).toHaveLength(1));
    const [win] = h.windows;
    expect(win!.options.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true });
    expect(String((win!.options.webPreferences as { preload: string }).preload)).toMatch(/preload[\\/]index\.cjs$/);
    await vi.waitFor(() => expect(win!.url).toMatch(/^file:.*renderer\/index\.html#ask$/));
  });
});
