// The real entry (electron/main/index.ts) against a fake 'electron' module and stub services: checks that the wiring
// applies the security setup, composes the services with the app's folders and the utility entry, registers IPC, tray
// and hotkey, creates windows with the locked-down preferences, shows the folder picker, and disposes on quit.
import { EventEmitter } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { ServicesOptions } from '../../electron/main/services.js';
import { IpcChannel } from '../../electron/shared/ipc.js';

const h = vi.hoisted(() => ({
  windows: [] as Array<{ options: Record<string, unknown>; url?: string }>,
  calls: [] as string[],
  servicesOptions: undefined as ServicesOptions | undefined,
  dialogAnswers: [] as Array<{ canceled: boolean; filePaths: string[] }>,
  dialogOptions: [] as unknown[],
}));

vi.mock('electron', async () => {
  const { EventEmitter } = await import('node:events');
  const f = await import('./fakes.js');
  const app = Object.assign(new f.FakeApp(), {
    enableSandbox: () => h.calls.push('enableSandbox'),
    getPath: (name: string) => `/tmp/screenask-test-${name}`,
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
    dialog: {
      showMessageBox: async () => ({ response: 1 }),
      showOpenDialog: async (options: unknown) => (h.dialogOptions.push(options), h.dialogAnswers.shift()),
    },
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
vi.mock('../../electron/main/services.js', async () => {
  const stubs = await import('./app-stubs.js');
  const engine = new stubs.StubEngine();
  engine.start = () => void h.calls.push('engine start');
  engine.load = async ({ dir }) => void h.calls.push(`load ${dir}`);
  return {
    createServices: async (options: ServicesOptions) => {
      h.servicesOptions = options;
      return {
        engine,
        settings: stubs.memorySettings({ model: '/models/smol' }),
        models: new stubs.FakeModels(),
        history: new stubs.FakeHistory(),
        problems: ['settings: settings.json is not valid JSON; it was set aside'],
        dispose: async () => void h.calls.push('services disposed'),
      };
    },
  };
});

const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
afterAll(() => errors.mockRestore());

describe('main entry (fake electron)', () => {
  it('wires security, the services, IPC, tray, hotkey and the engine; windows get the locked-down preferences', async () => {
    const electron = (await import('electron')) as unknown as Record<string, unknown> & {
      app: EventEmitter;
      session: { defaultSession: InstanceType<typeof import('./fakes.js').FakeSession> };
      ipcMain: InstanceType<typeof import('./fakes.js').FakeIpcMain>;
      globalShortcut: InstanceType<typeof import('./fakes.js').FakeGlobalShortcut>;
    };
    await import('../../electron/main/index.js');
    await vi.waitFor(() => expect(h.calls).toContain('engine start'));
    // The app loads the model the services' settings select.
    await vi.waitFor(() => expect(h.calls).toContain('load /models/smol'));
    expect(h.calls[0]).toBe('enableSandbox');
    expect(h.calls).not.toContainEqual(expect.stringMatching(/^exit/));
    const ses = electron.session.defaultSession;
    expect(ses.headersListener).toBeTypeOf('function');
    expect(ses.requestHandler).toBeTypeOf('function');
    expect(await ses.request('geolocation', 'file:///x')).toBe(false);
    expect([...electron.ipcMain.handlers.keys()].sort()).toEqual(Object.values(IpcChannel).sort());
    expect(electron.globalShortcut.isRegistered('CommandOrControl+Shift+Space')).toBe(true);

    // The services: the app's user data folder, the models folder the CLI shares, the built utility entry.
    expect(h.servicesOptions).toMatchObject({
      userDataDir: '/tmp/screenask-test-userData',
      launcher: { kind: 'electron' },
      machine: { hasGpu: expect.any(Boolean), totalMemoryBytes: os.totalmem() },
    });
    expect(path.isAbsolute(h.servicesOptions!.modelsDir)).toBe(true);
    expect(h.servicesOptions!.entry).toMatch(/[\\/]utility[\\/]main\.js$/);
    expect(errors).toHaveBeenCalledWith('[screenask] settings: settings.json is not valid JSON; it was set aside');

    // A second launch without --ask brings up the ask window.
    electron.app.emit('second-instance', {}, ['screenask'], '/');
    await vi.waitFor(() => expect(h.windows).toHaveLength(1));
    const [win] = h.windows;
    expect(win!.options.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true });
    expect(String((win!.options.webPreferences as { preload: string }).preload)).toMatch(/preload[\\/]index\.cjs$/);
    await vi.waitFor(() => expect(win!.url).toMatch(/^file:.*renderer\/index\.html#ask$/));

    // The folder picker: a folder, or null when the user cancels.
    const page = pathToFileURL(path.resolve('electron/renderer/index.html')).href;
    const sender = new (await import('./fakes.js')).FakeWebContents();
    h.dialogAnswers.push({ canceled: false, filePaths: ['/home/me/export'] }, { canceled: true, filePaths: [] });
    expect(await electron.ipcMain.invoke(page, sender, IpcChannel.pickFolder)).toBe('/home/me/export');
    expect(await electron.ipcMain.invoke(page, sender, IpcChannel.pickFolder)).toBeNull();
    expect(h.dialogOptions[0]).toMatchObject({ properties: ['openDirectory'] });

    electron.app.emit('will-quit');
    expect(h.calls.at(-1)).toBe('services disposed');
  });
});
