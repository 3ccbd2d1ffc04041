import { describe, expect, it } from 'vitest';
import { modelDisplayName } from '../../electron/main/app.js';
import { CaptureError, SCREEN_RECORDING_SETTINGS_URL } from '../../electron/main/capture.js';
import type { MenuTemplateItem } from '../../electron/main/tray.js';
import { IpcChannel, IpcEvent, type AskReply, type CaptureReply } from '../../electron/shared/ipc.js';
import { answerStats, loadedInfo, settle, setup, statuses, stubFrame } from './app-stubs.js';
import { FakeTray, FakeWebContents } from './fakes.js';

const lastMenu = (tray: FakeTray) => tray.menus.at(-1) as MenuTemplateItem[];

describe('app', () => {
  it('starts after ready: tray, hotkey, IPC, engine; the tray follows the model state', async () => {
    const t = setup();
    const started = t.screenAsk.start();
    await settle();
    expect(t.tray.menus).toHaveLength(0);
    t.app.readyResolve();
    await started;
    expect(t.engine.started).toBe(1);
    expect(t.globalShortcut.isRegistered('CommandOrControl+Shift+Space')).toBe(true);
    expect(t.ipcMain.handlers.size).toBe(Object.values(IpcChannel).length);
    expect(lastMenu(t.tray).find((i) => i.label?.startsWith('SmolVLM'))?.label).toBe('SmolVLM-256M-Instruct: loading…');
    t.engine.emit({ state: 'ready', info: loadedInfo });
    expect(lastMenu(t.tray).find((i) => i.label === 'Ask about the screen')?.enabled).toBe(true);
  });

  it('hotkey → capture → ask window → ask → tokens streamed → follow-up continues the conversation', async () => {
    const t = setup();
    await t.start();
    t.engine.emit({ state: 'ready' });
    t.globalShortcut.press('CommandOrControl+Shift+Space');
    await settle();
    expect(t.captureScreen).toHaveBeenCalledTimes(1);
    expect(t.windowsShown).toEqual([{ kind: 'ask' }]);
    const trigger = t.windowContents.sent.find((s) => s.channel === IpcEvent.trigger);
    expect(trigger?.args[0]).toEqual({ captureId: 'id1', width: 200, height: 100 });

    const sender = new FakeWebContents();
    const reply = await t.invoke(IpcChannel.ask, { question: 'What does this error mean?', captureId: 'id1' }, sender);
    expect(reply).toEqual({ askId: 'id2' });
    await settle();
    expect(t.streams.get('id2')).toEqual([{ type: 'token', text: 'It is ' }, { type: 'token', text: 'an error.' }, { type: 'done' }]);
    expect(t.closedStreams).toEqual(['id2']);
    expect(t.engine.asks[0]).toMatchObject({ question: 'What does this error mean?', conversationId: 'id2', followUp: false });
    expect(new TextDecoder().decode(t.engine.asks[0]!.image)).toBe('frame');

    await t.invoke(IpcChannel.followUp, { askId: 'id2', question: 'How do I fix it?' }, sender);
    expect(t.engine.asks[1]).toEqual({ question: 'How do I fix it?', conversationId: 'id2', followUp: true, options: { useCache: true } });
    await expect(t.invoke(IpcChannel.ask, { question: 'x', captureId: 'gone' }, sender)).rejects.toThrow(/no longer available/);
  });

  it('every ask and follow-up carries the generation settings of its moment', async () => {
    const t = setup({ settings: { maxNewTokens: 3, temperature: 0 } });
    await t.start();
    const { askId } = (await t.invoke(IpcChannel.ask, { question: 'q' })) as AskReply;
    expect(t.engine.asks[0]!.options).toEqual({ useCache: true, maxNewTokens: 3, temperature: 0 });
    // Emptied settings mean the model's defaults: they are left out, not sent as null.
    await t.invoke(IpcChannel.setSettings, { useCache: false, maxNewTokens: null, topK: 5 });
    await t.invoke(IpcChannel.followUp, { askId, question: 'and?' });
    expect(t.engine.asks[1]!.options).toEqual({ useCache: false, temperature: 0, topK: 5 });
  });

  it('opens a link from an answer only through the injected confirmation, and reports whether it opened', async () => {
    const t = setup();
    await t.start();
    expect(await t.invoke(IpcChannel.openLink, { url: 'https://docs.example/a' })).toBe(true);
    t.openLink.mockResolvedValueOnce(false);
    expect(await t.invoke(IpcChannel.openLink, { url: 'https://docs.example/b' })).toBe(false);
    expect(t.openLink.mock.calls.map(([url]) => url)).toEqual(['https://docs.example/a', 'https://docs.example/b']);
  });

  it('asks at the Image detail setting unless the page chose a detail for the question', async () => {
    const t = setup({ settings: { imageDetail: 'low' } });
    await t.start();
    await t.invoke(IpcChannel.ask, { question: 'q' });
    await t.invoke(IpcChannel.setSettings, { imageDetail: 'high' });
    await t.invoke(IpcChannel.ask, { question: 'q' });
    await t.invoke(IpcChannel.ask, { question: 'q', detail: 'low' });
    expect(t.engine.asks.map((a) => a.detail)).toEqual(['low', 'high', 'low']);
  });

  it('remembers the latest answer with the cache on and with it off, and publishes them', async () => {
    const t = setup();
    await t.start();
    const page = new FakeWebContents();
    await t.invoke(IpcChannel.subscribeStatus, undefined, page);
    expect(statuses(page).at(-1)?.lastAnswers).toEqual({});
    const on = answerStats({ cache: 'on', decodeTokensPerSecond: 40 });
    const off = answerStats({ cache: 'off', decodeTokensPerSecond: 4 });
    const newerOn = answerStats({ cache: 'on', decodeTokensPerSecond: 42 });
    for (const stats of [on, off, newerOn]) {
      t.engine.stats = stats;
      await t.invoke(IpcChannel.ask, { question: 'q' });
      await settle();
    }
    expect(t.streams.get('id1')?.at(-1)).toEqual({ type: 'done', stats: on });
    expect(statuses(page).at(-1)?.lastAnswers).toEqual({ cacheOn: newerOn, cacheOff: off });
    expect(t.screenAsk.status().lastAnswers).toEqual({ cacheOn: newerOn, cacheOff: off });
  });

  it('tray "Ask about a region" → overlay on the captured display → region crop → ask window', async () => {
    const t = setup();
    await t.start();
    t.engine.emit({ state: 'ready' });
    lastMenu(t.tray).find((i) => i.label === 'Ask about a region')?.click?.();
    await settle();
    expect(t.windowsShown).toEqual([{ kind: 'overlay', bounds: { x: 0, y: 0, width: 100, height: 50 } }]);
    const reply = await t.invoke(IpcChannel.capture, { mode: 'region', region: { x: 10, y: 10, width: 20, height: 10 } });
    expect(reply).toMatchObject({ width: 40, height: 20 });
    expect(t.windowsShown.at(-1)).toEqual({ kind: 'ask' });
    // The ask window is told about the same capture the overlay got back.
    expect(t.windowContents.sent.find((s) => s.channel === IpcEvent.trigger)?.args[0]).toEqual(reply);
    await t.invoke(IpcChannel.ask, { question: 'q', captureId: (reply as CaptureReply).captureId });
    expect(new TextDecoder().decode(t.engine.asks[0]!.image)).toBe('frame[10,10,20x10]');

    // Settings and Quit from the tray.
    lastMenu(t.tray).find((i) => i.label === 'Settings…')?.click?.();
    expect(t.windowsShown.at(-1)).toEqual({ kind: 'settings' });
  });

  it('macOS: a region is cropped where it was on the display, though the overlay sits below the menu bar', async () => {
    const t = setup({ placeWindow: (_kind, bounds) => ({ ...bounds, y: bounds.y + 25, height: bounds.height - 25 }) });
    await t.start();
    t.engine.emit({ state: 'ready' });
    await t.screenAsk.trigger('region');
    // The user drags at (10, 10) of the overlay's content, which is (10, 35) of the display.
    await t.invoke(IpcChannel.capture, { mode: 'region', region: { x: 10, y: 10, width: 20, height: 10 } });
    const { captureId } = t.windowContents.sent.find((s) => s.channel === IpcEvent.trigger)!.args[0] as CaptureReply;
    await t.invoke(IpcChannel.ask, { question: 'q', captureId });
    expect(new TextDecoder().decode(t.engine.asks[0]!.image)).toBe('frame[10,35,20x10]');
  });

  it('previews a capture at most 640 px wide; the settings window opens on request', async () => {
    const t = setup({ capture: async () => stubFrame('wide', 2880, 1800) });
    await t.start();
    const { captureId } = (await t.invoke(IpcChannel.capture, { mode: 'screen' })) as CaptureReply;
    expect(await t.invoke(IpcChannel.capturePreview, { captureId })).toEqual({ dataUrl: 'data:image/png;base64,wide@640', width: 640, height: 400 });
    await expect(t.invoke(IpcChannel.capturePreview, { captureId: 'forgotten' })).rejects.toThrow(
      /^That capture is no longer available: capture the screen again\.$/,
    );
    expect(await t.invoke(IpcChannel.openSettings)).toBeUndefined();
    expect(t.windowsShown).toEqual([{ kind: 'settings' }]);
  });

  it('cancel aborts a running answer', async () => {
    const t = setup();
    await t.start();
    let release!: () => void;
    t.engine.gate = new Promise((r) => (release = r));
    const { askId } = (await t.invoke(IpcChannel.ask, { question: 'q' })) as AskReply;
    await t.invoke(IpcChannel.cancel, { askId });
    release();
    await settle();
    expect(t.streams.get(askId)).toEqual([{ type: 'token', text: 'It is ' }, { type: 'error', message: 'cancelled' }]);
  });

  it('a capture failure (macOS permission) is shown to the user with the fix, not thrown', async () => {
    const t = setup({ capture: async () => Promise.reject(new CaptureError('permission-denied', 'needs Screen Recording', SCREEN_RECORDING_SETTINGS_URL)) });
    await t.start();
    await t.screenAsk.trigger('screen');
    expect(t.notify).toHaveBeenCalledWith('needs Screen Recording', SCREEN_RECORDING_SETTINGS_URL);
    expect(t.windowsShown).toEqual([]);
  });

  it('`screenask --ask` at first launch and from a second launch asks; settings changes re-register the hotkey', async () => {
    const t = setup({ argv: ['screenask', '--ask'] });
    await t.start();
    expect(t.captureScreen).toHaveBeenCalledTimes(1);
    t.app.emit('second-instance', {}, ['screenask', '--ask'], '/');
    await settle();
    expect(t.captureScreen).toHaveBeenCalledTimes(2);

    const sender = new FakeWebContents();
    await t.invoke(IpcChannel.subscribeStatus, undefined, sender);
    await t.invoke(IpcChannel.setSettings, { hotkey: 'alt+q' }, sender);
    expect([...t.globalShortcut.registered.keys()]).toEqual(['Alt+Q']);
    expect(statuses(sender).at(-1)).toMatchObject({ hotkey: { accelerator: 'Alt+Q', state: 'registered' } });
    await expect(t.invoke(IpcChannel.setSettings, { hotkey: 5 }, sender)).rejects.toThrow(/malformed/);
  });

  it('quit releases the hotkey, IPC, tray and engine', async () => {
    const t = setup();
    await t.start();
    lastMenu(t.tray).find((i) => i.label === 'Quit ScreenAsk')?.click?.();
    expect(t.app.quitCalls).toBe(1);
    expect(t.globalShortcut.registered.size).toBe(0);
    expect(t.ipcMain.handlers.size).toBe(0);
    expect(t.tray.destroyed).toBe(true);
    expect(t.engine.stopped).toBe(1);
  });
});

describe('model display name', () => {
  it.each([
    [null, 'No model'],
    ['SmolVLM-256M-Instruct', 'SmolVLM-256M-Instruct'],
    ['HuggingFaceTB/SmolVLM-256M-Instruct', 'HuggingFaceTB/SmolVLM-256M-Instruct'],
    ['/home/me/models/my-finetune', 'my-finetune'],
    ['C:\\Users\\me\\models\\my-finetune', 'my-finetune'],
    ['D:/models/other/', 'other'],
  ])('%s → %s', (model, name) => {
    expect(modelDisplayName(model)).toBe(name);
  });
});
