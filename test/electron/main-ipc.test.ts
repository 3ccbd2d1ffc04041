import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { registerIpc, type IpcHandlers } from '../../electron/main/ipc.js';
import { createAppUrlMatcher } from '../../electron/main/security.js';
import { IpcChannel } from '../../electron/shared/ipc.js';
import { FakeIpcMain, FakeWebContents } from './fakes.js';

const rendererDir = path.resolve('/app/out/renderer');
const ours = pathToFileURL(path.join(rendererDir, 'index.html')).href + '#ask';
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
  } satisfies IpcHandlers;
  const log = vi.fn();
  const dispose = registerIpc({ ipcMain, isAppUrl: createAppUrlMatcher({ rendererDir }), settingsSchema, handlers, log });
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
    for (const handler of Object.values(handlers)) expect(handler).toHaveBeenCalledTimes(1);
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
    for (const url of ['https://evil.example/', pathToFileURL('/tmp/evil.html').href, 'about:blank', '', null]) {
      await expect(ipcMain.invoke(url, sender, IpcChannel.ask, { question: 'hi' })).rejects.toThrow(/sender not allowed/);
      await expect(ipcMain.invoke(url, sender, IpcChannel.getSettings)).rejects.toThrow(/sender not allowed/);
    }
    expect(handlers.ask).not.toHaveBeenCalled();
    expect(handlers.getSettings).not.toHaveBeenCalled();
    expect(log.mock.calls.every((c) => /foreign sender/.test(String(c[0])))).toBe(true);
  });
});
