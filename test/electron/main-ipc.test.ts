import { pathToFileURL } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { registerIpc, type IpcHandlers } from '../../electron/main/ipc.js';
import { appPageUrl, isAppSchemeUrl } from '../../electron/main/app-protocol.js';
import { IpcChannel } from '../../electron/shared/ipc.js';
import { FakeIpcMain, FakeWebContents } from './fakes.js';

const ours = appPageUrl('ask');
const settingsSchema = z.object({ hotkey: z.string().nullable(), theme: z.enum(['light', 'dark']) }).strict();

function setup() {
  const ipcMain = new FakeIpcMain();
  const handlers = {
    ask: vi.fn(async () => ({ askId: 'a1' })),
    followUp: vi.fn(async () => ({ askId: 'a2' })),
    cancel: vi.fn(async () => {}),
    capture: vi.fn(async () => ({ captureId: 'c1', width: 10, height: 10 })),
    getSettings: vi.fn(async () => ({ hotkey: null, theme: 'dark' })),
    setSettings: vi.fn(async (s: unknown) => s),
    subscribeStatus: vi.fn(async () => {}),
    capturePreview: vi.fn(async () => ({ dataUrl: 'data:image/png;base64,', width: 640, height: 360 })),
    openSettings: vi.fn(async () => {}),
    subscribeModels: vi.fn(async () => {}),
    remoteModel: vi.fn(async () => ({ id: 'SmolVLM-256M-Instruct', sha: 'a'.repeat(40), precisions: [] })),
    pullModel: vi.fn(async () => {}),
    cancelPull: vi.fn(async () => {}),
    importModel: vi.fn(async () => {
      throw new Error('The folder has no config.json.\nIt is not a model export.');
    }),
    removeModel: vi.fn(async () => {}),
    pickFolder: vi.fn(async () => null),
    listHistory: vi.fn(async () => []),
    deleteHistory: vi.fn(async () => {}),
    clearHistory: vi.fn(async () => {}),
    historyScreenshot: vi.fn(async () => null),
    openLink: vi.fn(async () => true),
    listServerModels: vi.fn(async () => ({ models: ['qwen2.5-vl-7b'] })),
    serverKey: vi.fn(async () => ({ set: false, kept: 'encrypted' as const })),
    setServerKey: vi.fn(async () => ({ set: true, kept: 'encrypted' as const })),
  } satisfies IpcHandlers;
  const log = vi.fn();
  const dispose = registerIpc({ ipcMain, isAppUrl: isAppSchemeUrl, settingsSchema, handlers, log });
  return { ipcMain, handlers, log, dispose, sender: new FakeWebContents() };
}

describe('ipc', () => {
  it('registers exactly the shared channels and passes valid messages from our pages to the handlers', async () => {
    const { ipcMain, handlers, sender, dispose } = setup();
    expect([...ipcMain.handlers.keys()].sort()).toEqual(Object.values(IpcChannel).sort());
    expect(await ipcMain.invoke(ours, sender, IpcChannel.ask, { question: ' What is this? ', captureId: 'c1', detail: 'low' })).toEqual({ askId: 'a1' });
    expect(handlers.ask).toHaveBeenCalledWith({ question: 'What is this?', captureId: 'c1', detail: 'low' }, sender);
    await ipcMain.invoke(ours, sender, IpcChannel.followUp, { askId: 'a1', question: 'and?' });
    await ipcMain.invoke(ours, sender, IpcChannel.cancel, { askId: 'a1' });
    await ipcMain.invoke(ours, sender, IpcChannel.capture, { mode: 'region', region: { x: 1, y: 2, width: 3, height: 4 } });
    await ipcMain.invoke(ours, sender, IpcChannel.getSettings);
    expect(await ipcMain.invoke(ours, sender, IpcChannel.setSettings, { hotkey: 'Alt+A', theme: 'light' })).toEqual({ hotkey: 'Alt+A', theme: 'light' });
    await ipcMain.invoke(ours, sender, IpcChannel.subscribeStatus);
    expect(await ipcMain.invoke(ours, sender, IpcChannel.capturePreview, { captureId: 'c1' })).toMatchObject({ width: 640 });
    expect(handlers.capturePreview).toHaveBeenCalledWith({ captureId: 'c1' }, sender);
    await ipcMain.invoke(ours, sender, IpcChannel.openSettings);
    await ipcMain.invoke(ours, sender, IpcChannel.subscribeModels);
    expect(handlers.subscribeModels).toHaveBeenCalledWith(sender);
    await ipcMain.invoke(ours, sender, IpcChannel.remoteModel, { id: 'SmolVLM-256M-Instruct' });
    await ipcMain.invoke(ours, sender, IpcChannel.pullModel, { id: 'SmolVLM-256M-Instruct', precision: 'q8' });
    expect(handlers.pullModel).toHaveBeenCalledWith({ id: 'SmolVLM-256M-Instruct', precision: 'q8' }, sender);
    await ipcMain.invoke(ours, sender, IpcChannel.cancelPull, { id: 'SmolVLM-256M-Instruct' });
    await ipcMain.invoke(ours, sender, IpcChannel.removeModel, { id: 'my-finetune' });
    for (const dir of ['/home/me/export', 'C:\\Users\\me\\export', 'D:/export', '\\\\server\\share\\export']) {
      // A service's failure reaches the page as its first line only (Electron sends just the message across).
      await expect(ipcMain.invoke(ours, sender, IpcChannel.importModel, { dir })).rejects.toThrow(/^The folder has no config\.json\.$/);
    }
    expect(handlers.importModel).toHaveBeenCalledTimes(4);
    expect(handlers.importModel).toHaveBeenLastCalledWith({ dir: '\\\\server\\share\\export' }, sender);
    expect(await ipcMain.invoke(ours, sender, IpcChannel.pickFolder)).toBeNull();
    await ipcMain.invoke(ours, sender, IpcChannel.listHistory, { query: 'error' });
    expect(handlers.listHistory).toHaveBeenCalledWith({ query: 'error' }, sender);
    await ipcMain.invoke(ours, sender, IpcChannel.deleteHistory, { id: 'h1' });
    await ipcMain.invoke(ours, sender, IpcChannel.clearHistory);
    await ipcMain.invoke(ours, sender, IpcChannel.historyScreenshot, { id: 'h1' });
    expect(await ipcMain.invoke(ours, sender, IpcChannel.openLink, { url: 'https://docs.example/errors#TS2322' })).toBe(true);
    // The server's address is checked (and written in one spelling) as the settings check it.
    expect(await ipcMain.invoke(ours, sender, IpcChannel.listServerModels, { serverUrl: 'http://GPU-box:8000/v1/' })).toEqual({ models: ['qwen2.5-vl-7b'] });
    expect(handlers.listServerModels).toHaveBeenCalledWith({ serverUrl: 'http://gpu-box:8000/v1' }, sender);
    expect(await ipcMain.invoke(ours, sender, IpcChannel.serverKey)).toEqual({ set: false, kept: 'encrypted' });
    await ipcMain.invoke(ours, sender, IpcChannel.setServerKey, { apiKey: 'sk-abc_123.XYZ' });
    expect(handlers.setServerKey).toHaveBeenCalledWith({ apiKey: 'sk-abc_123.XYZ' }, sender);
    const { importModel: _checkedAbove, ...others } = handlers;
    for (const [name, handler] of Object.entries(others)) expect(handler, name).toHaveBeenCalledTimes(1);
    dispose();
    expect(ipcMain.handlers.size).toBe(0);
  });

  it('rejects and logs malformed payloads before any handler runs', async () => {
    const { ipcMain, handlers, sender, log } = setup();
    const bad: Array<[string, unknown[]]> = [
      [IpcChannel.ask, [{ question: '' }]],
      [IpcChannel.ask, [{ question: 'x'.repeat(5000) }]],
      [IpcChannel.ask, [{ question: 'hi', extra: true }]],
      [IpcChannel.ask, [{ question: 'hi', captureId: '../../etc' }]],
      [IpcChannel.ask, ['hi']],
      [IpcChannel.ask, [{ question: 'hi' }, 'second argument']],
      [IpcChannel.ask, []],
      [IpcChannel.cancel, [{ askId: 42 }]],
      [IpcChannel.capture, [{ mode: 'region' }]],
      [IpcChannel.capture, [{ mode: 'region', region: { x: -1, y: 0, width: 1, height: 1 } }]],
      [IpcChannel.capture, [{ mode: 'screen', region: { x: 0, y: 0, width: Infinity, height: 1 } }]],
      [IpcChannel.getSettings, [{ sneaky: true }]],
      [IpcChannel.setSettings, [{ hotkey: 'Alt+A', theme: 'neon' }]],
      [IpcChannel.setSettings, [{ hotkey: 'Alt+A', theme: 'dark', __proto__: { admin: true }, extra: 1 }]],
      [IpcChannel.subscribeStatus, [1]],
      [IpcChannel.capturePreview, [{ captureId: '../c1' }]],
      [IpcChannel.capturePreview, [{}]],
      [IpcChannel.openSettings, [{ kind: 'overlay' }]],
      [IpcChannel.subscribeModels, ['all']],
      [IpcChannel.remoteModel, [{ id: '../../etc/passwd' }]],
      [IpcChannel.remoteModel, [{ id: 'HuggingFaceTB/SmolVLM-256M-Instruct' }]],
      [IpcChannel.pullModel, [{ id: '/home/me/models/x', precision: 'q8' }]],
      [IpcChannel.pullModel, [{ id: 'SmolVLM-256M-Instruct', precision: 'q3' }]],
      [IpcChannel.pullModel, [{ id: 'SmolVLM-256M-Instruct' }]],
      [IpcChannel.cancelPull, [{ id: '.hidden' }]],
      [IpcChannel.importModel, [{ dir: 'relative/export' }]],
      [IpcChannel.importModel, [{ dir: '~/export' }]],
      [IpcChannel.importModel, [{ dir: '/home/me/export', copy: true }]],
      [IpcChannel.removeModel, [{ id: '' }]],
      [IpcChannel.pickFolder, [{ defaultPath: '/' }]],
      [IpcChannel.listHistory, [{ query: 42 }]],
      [IpcChannel.listHistory, [{ query: 'x'.repeat(201) }]],
      [IpcChannel.listHistory, []],
      [IpcChannel.deleteHistory, [{ id: 'a/b' }]],
      [IpcChannel.clearHistory, [{ all: true }]],
      [IpcChannel.historyScreenshot, [{ id: 7 }]],
      [IpcChannel.openLink, [{ url: 'javascript:alert(1)' }]],
      [IpcChannel.openLink, [{ url: 'file:///etc/passwd' }]],
      [IpcChannel.openLink, [{ url: 'https://x.example/' + 'a'.repeat(2100) }]],
      [IpcChannel.openLink, [{ url: 'not a url' }]],
      [IpcChannel.listServerModels, [{ serverUrl: 'file:///etc/passwd' }]],
      [IpcChannel.listServerModels, [{ serverUrl: 'http://user:pw@gpu-box:8000/v1' }]],
      [IpcChannel.listServerModels, [{ serverUrl: 'http://gpu-box:8000/v1', apiKey: 'sk-x' }]],
      [IpcChannel.listServerModels, [{}]],
      [IpcChannel.serverKey, [{ reveal: true }]],
      [IpcChannel.setServerKey, [{ apiKey: '' }]],
      [IpcChannel.setServerKey, [{ apiKey: 'two words' }]],
      [IpcChannel.setServerKey, [{ apiKey: 'sk-1\nX-Injected: 1' }]],
      [IpcChannel.setServerKey, [{ apiKey: 'k'.repeat(4097) }]],
      [IpcChannel.setServerKey, [{ apiKey: 'sk-1', serverUrl: 'http://evil.example/v1' }]],
      [IpcChannel.setServerKey, [{}]],
    ];
    for (const [channel, args] of bad) {
      await expect(ipcMain.invoke(ours, sender, channel, ...args), `${channel} ${JSON.stringify(args)}`).rejects.toThrow(/malformed message/);
    }
    for (const handler of Object.values(handlers)) expect(handler).not.toHaveBeenCalled();
    expect(log).toHaveBeenCalledTimes(bad.length);
    expect(String(log.mock.calls[0]?.[0])).toMatch(/^ipc: rejected screenask:ask: question:/);
  });

  it('rejects and logs messages from foreign senders, whatever their payload', async () => {
    const { ipcMain, handlers, sender, log } = setup();
    const valid: Array<[string, unknown[]]> = [
      [IpcChannel.ask, [{ question: 'hi' }]],
      [IpcChannel.getSettings, []],
      [IpcChannel.capturePreview, [{ captureId: 'c1' }]],
      [IpcChannel.subscribeModels, []],
      [IpcChannel.pullModel, [{ id: 'SmolVLM-256M-Instruct', precision: 'q8' }]],
      [IpcChannel.importModel, [{ dir: '/home/me/export' }]],
      [IpcChannel.removeModel, [{ id: 'my-finetune' }]],
      [IpcChannel.pickFolder, []],
      [IpcChannel.listHistory, [{}]],
      [IpcChannel.clearHistory, []],
      [IpcChannel.historyScreenshot, [{ id: 'h1' }]],
      [IpcChannel.openLink, [{ url: 'https://docs.example/' }]],
      [IpcChannel.listServerModels, [{ serverUrl: 'http://gpu-box:8000/v1' }]],
      [IpcChannel.serverKey, []],
      [IpcChannel.setServerKey, [{ apiKey: 'sk-1' }]],
    ];
    for (const url of ['https://evil.example/', pathToFileURL('/tmp/evil.html').href, 'file:///app/out/renderer/index.html#ask', 'screenask://evil/index.html', 'about:blank', '', null]) {
      for (const [channel, args] of valid) {
        await expect(ipcMain.invoke(url, sender, channel, ...args), `${channel} from ${url}`).rejects.toThrow(/sender not allowed/);
      }
    }
    for (const handler of Object.values(handlers)) expect(handler).not.toHaveBeenCalled();
    expect(log.mock.calls.every((c) => /foreign sender/.test(String(c[0])))).toBe(true);
  });
});
