import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { ScreenAskApp, type EngineAskRequest, type EngineStatusLike, type StreamSink } from '../../electron/main/app.js';
import { CaptureError, SCREEN_RECORDING_SETTINGS_URL, type ScreenCapture } from '../../electron/main/capture.js';
import { HotkeyManager } from '../../electron/main/hotkey.js';
import { registerIpc } from '../../electron/main/ipc.js';
import { createAppUrlMatcher } from '../../electron/main/security.js';
import { TrayController, type MenuTemplateItem } from '../../electron/main/tray.js';
import type { WindowKind } from '../../electron/main/windows.js';
import { IpcChannel, IpcEvent, type Rect, type StreamMessage } from '../../electron/shared/ipc.js';
import { FakeApp, FakeGlobalShortcut, FakeIpcMain, FakeTray, FakeWebContents } from './fakes.js';

const rendererDir = path.resolve('/app/out/renderer');
const ours = pathToFileURL(path.join(rendererDir, 'index.html')).href;

function stubFrame(label: string, width = 200, height = 100): ScreenCapture {
  return {
    png: new TextEncoder().encode(label),
    width,
    height,
    displayId: 1,
    displayBounds: { x: 0, y: 0, width: width / 2, height: height / 2 },
    displaySize: { width: width / 2, height: height / 2 },
    crop: (r: Rect) => stubFrame(`${label}[${r.x},${r.y},${r.width}x${r.height}]`, r.width * 2, r.height * 2),
  };
}

/** A stub engine supervisor: status events on demand, and asks that stream a scripted answer. */
class StubEngine {
  readonly asks: EngineAskRequest[] = [];
  readonly listeners = new Set<(s: EngineStatusLike) => void>();
  started = 0;
  stopped = 0;
  gate: Promise<void> = Promise.resolve();
  start(): void {
    this.started++;
    this.emit({ state: 'loading' });
  }
  stop(): void {
    this.stopped++;
  }
  onStatus(listener: (s: EngineStatusLike) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  emit(status: EngineStatusLike): void {
    for (const l of this.listeners) l(status);
  }
  async *ask(request: EngineAskRequest, signal: AbortSignal): AsyncIterable<StreamMessage> {
    this.asks.push(request);
    yield { type: 'token', text: 'It is ' };
    await this.gate;
    if (signal.aborted) throw new Error('aborted');
    yield { type: 'token', text: 'an error.' };
    yield { type: 'done' };
  }
}

function setup(options: { argv?: string[]; capture?: () => Promise<ScreenCapture> } = {}) {
  const app = new FakeApp();
  const engine = new StubEngine();
  const globalShortcut = new FakeGlobalShortcut();
  const ipcMain = new FakeIpcMain();
  const tray = new FakeTray();
  const settingsValue = { hotkey: 'CommandOrControl+Shift+Space' as string | null };
  const changeListeners = new Set<() => void>();
  const windowsShown: Array<{ kind: WindowKind; bounds?: Rect }> = [];
  const windowContents = new FakeWebContents();
  const streams = new Map<string, StreamMessage[]>();
  const closedStreams: string[] = [];
  const notify = vi.fn();
  const captureScreen = vi.fn(options.capture ?? (async () => stubFrame('frame')));
  let n = 0;
  const screenAsk = new ScreenAskApp({
    app,
    argv: options.argv ?? ['screenask'],
    engine,
    settings: {
      schema: z.object({ hotkey: z.string().nullable() }).strict(),
      get: () => settingsValue,
      set: async (s) => {
        Object.assign(settingsValue, s);
        for (const l of changeListeners) l();
        return settingsValue;
      },
      hotkey: () => settingsValue.hotkey,
      modelName: () => 'SmolVLM-256M',
      onChange: (l) => (changeListeners.add(l), () => changeListeners.delete(l)),
    },
    captureScreen,
    createHotkey: (onTrigger, onStatus) => new HotkeyManager({ globalShortcut, platform: 'linux', env: { XDG_SESSION_TYPE: 'x11' }, onTrigger, onStatus }),
    createTray: (onAction, status) => new TrayController({ createTray: () => tray, buildMenu: (t) => t, onAction, platform: 'linux' }, status),
    windows: {
      show: async (kind, bounds) => {
        windowsShown.push(bounds ? { kind, bounds } : { kind });
        return { webContents: windowContents };
      },
      close: vi.fn(),
      closeAll: vi.fn(),
    },
    registerIpc: (handlers, settingsSchema) => registerIpc({ ipcMain, isAppUrl: createAppUrlMatcher({ rendererDir }), settingsSchema, handlers, log: () => {} }),
    openStream: (_sender, askId): StreamSink => {
      streams.set(askId, []);
      return { post: (m) => streams.get(askId)!.push(m), close: () => closedStreams.push(askId) };
    },
    notify,
    newId: () => `id${++n}`,
    log: () => {},
  });
  return { app, engine, globalShortcut, ipcMain, tray, windowsShown, windowContents, streams, closedStreams, notify, captureScreen, screenAsk, settingsValue };
}

const settle = () => new Promise((r) => setTimeout(r, 5));
const lastMenu = (tray: FakeTray) => tray.menus.at(-1) as MenuTemplateItem[];

describe('app', () => {
  it('starts after ready: tray, hotkey, IPC, engine; the tray follows the model state', async () => {
    const t = setup();
    const started = t.screenAsk.start();
    await settle();
    expect(t.tray.menus).toHaveLength(0);
    t.app.readyResolve();
    expect(await started).toBe(true);
    expect(t.engine.started).toBe(1);
    expect(t.globalShortcut.isRegistered('CommandOrControl+Shift+Space')).toBe(true);
    expect(t.ipcMain.handlers.size).toBe(Object.values(IpcChannel).length);
    expect(lastMenu(t.tray).find((i) => i.label?.startsWith('SmolVLM'))?.label).toBe('SmolVLM-256M: loading…');
    t.engine.emit({ state: 'ready' });
    expect(lastMenu(t.tray).find((i) => i.label === 'Ask about the screen')?.enabled).toBe(true);
  });

  it('hotkey → capture → ask window → ask → tokens streamed → follow-up continues the conversation', async () => {
    const t = setup();
    t.app.readyResolve();
    await t.screenAsk.start();
    t.engine.emit({ state: 'ready' });
    t.globalShortcut.press('CommandOrControl+Shift+Space');
    await settle();
    expect(t.captureScreen).toHaveBeenCalledTimes(1);
    expect(t.windowsShown).toEqual([{ kind: 'ask' }]);
    const trigger = t.windowContents.sent.find((s) => s.channel === IpcEvent.trigger);
    expect(trigger?.args[0]).toEqual({ captureId: 'id1', width: 200, height: 100 });

    const sender = new FakeWebContents();
    const reply = await t.ipcMain.invoke(ours, sender, IpcChannel.ask, { question: 'What does this error mean?', captureId: 'id1' });
    expect(reply).toEqual({ askId: 'id2' });
    await settle();
    expect(t.streams.get('id2')).toEqual([{ type: 'token', text: 'It is ' }, { type: 'token', text: 'an error.' }, { type: 'done' }]);
    expect(t.closedStreams).toEqual(['id2']);
    expect(t.engine.asks[0]).toMatchObject({ question: 'What does this error mean?', conversationId: 'id2', followUp: false });
    expect(new TextDecoder().decode(t.engine.asks[0]!.image)).toBe('frame');

    await t.ipcMain.invoke(ours, sender, IpcChannel.followUp, { askId: 'id2', question: 'How do I fix it?' });
    expect(t.engine.asks[1]).toEqual({ question: 'How do I fix it?', conversationId: 'id2', followUp: true });
    await expect(t.ipcMain.invoke(ours, sender, IpcChannel.ask, { question: 'x', captureId: 'gone' })).rejects.toThrow(/no longer available/);
  });

  it('tray "Ask about a region" → overlay on the captured display → region crop → ask window', async () => {
    const t = setup();
    t.app.readyResolve();
    await t.screenAsk.start();
    t.engine.emit({ state: 'ready' });
    lastMenu(t.tray).find((i) => i.label === 'Ask about a region')?.click?.();
    await settle();
    expect(t.windowsShown).toEqual([{ kind: 'overlay', bounds: { x: 0, y: 0, width: 100, height: 50 } }]);
    const reply = await t.ipcMain.invoke(ours, new FakeWebContents(), IpcChannel.capture, { mode: 'region', region: { x: 10, y: 10, width: 20, height: 10 } });
    expect(reply).toMatchObject({ width: 40, height: 20 });
    expect(t.windowsShown.at(-1)).toEqual({ kind: 'ask' });
    // The ask window is told about the same capture the overlay got back.
    expect(t.windowContents.sent.find((s) => s.channel === IpcEvent.trigger)?.args[0]).toEqual(reply);
    await t.ipcMain.invoke(ours, new FakeWebContents(), IpcChannel.ask, { question: 'q', captureId: (reply as { captureId: string }).captureId });
    expect(new TextDecoder().decode(t.engine.asks[0]!.image)).toBe('frame[10,10,20x10]');
    // Settings and Quit from the tray.
    lastMenu(t.tray).find((i) => i.label === 'Settings…')?.click?.();
    expect(t.windowsShown.at(-1)).toEqual({ kind: 'settings' });
  });

  it('cancel aborts a running answer', async () => {
    const t = setup();
    t.app.readyResolve();
    await t.screenAsk.start();
    let release!: () => void;
    t.engine.gate = new Promise((r) => (release = r));
    const { askId } = (await t.ipcMain.invoke(ours, new FakeWebContents(), IpcChannel.ask, { question: 'q' })) as { askId: string };
    await t.ipcMain.invoke(ours, new FakeWebContents(), IpcChannel.cancel, { askId });
    release();
    await settle();
    expect(t.streams.get(askId)).toEqual([{ type: 'token', text: 'It is ' }, { type: 'error', message: 'cancelled' }]);
  });

  it('a capture failure (macOS permission) is shown to the user with the fix, not thrown', async () => {
    const t = setup({ capture: async () => Promise.reject(new CaptureError('permission-denied', 'needs Screen Recording', SCREEN_RECORDING_SETTINGS_URL)) });
    t.app.readyResolve();
    await t.screenAsk.start();
    await t.screenAsk.trigger('screen');
    expect(t.notify).toHaveBeenCalledWith('needs Screen Recording', SCREEN_RECORDING_SETTINGS_URL);
    expect(t.windowsShown).toEqual([]);
  });

  it('`screenask --ask` at first launch and from a second launch asks; settings changes re-register the hotkey', async () => {
    const t = setup({ argv: ['screenask', '--ask'] });
    t.app.readyResolve();
    await t.screenAsk.start();
    expect(t.captureScreen).toHaveBeenCalledTimes(1);
    t.app.emit('second-instance', {}, ['screenask', '--ask'], '/');
    await settle();
    expect(t.captureScreen).toHaveBeenCalledTimes(2);

    const sender = new FakeWebContents();
    await t.ipcMain.invoke(ours, sender, IpcChannel.subscribeStatus);
    await t.ipcMain.invoke(ours, sender, IpcChannel.setSettings, { hotkey: 'Alt+Q' });
    expect([...t.globalShortcut.registered.keys()]).toEqual(['Alt+Q']);
    const statuses = sender.sent.filter((s) => s.channel === IpcEvent.status).map((s) => s.args[0]);
    expect(statuses.at(-1)).toMatchObject({ hotkey: { accelerator: 'Alt+Q', state: 'registered' } });
    await expect(t.ipcMain.invoke(ours, sender, IpcChannel.setSettings, { hotkey: 5 })).rejects.toThrow(/malformed/);
  });

  it('quit releases the hotkey, IPC, tray and engine; a second instance quits at once', async () => {
    const t = setup();
    t.app.readyResolve();
    await t.screenAsk.start();
    lastMenu(t.tray).find((i) => i.label === 'Quit ScreenAsk')?.click?.();
    expect(t.app.quitCalls).toBe(1);
    expect(t.globalShortcut.registered.size).toBe(0);
    expect(t.ipcMain.handlers.size).toBe(0);
    expect(t.tray.destroyed).toBe(true);
    expect(t.engine.stopped).toBe(1);

    const second = setup();
    second.app.lockHeld = true;
    expect(await second.screenAsk.start()).toBe(false);
    expect(second.app.quitCalls).toBe(1);
    expect(second.engine.started).toBe(0);
  });
});
