// Answers from a server, through the app as the pages drive it: the first question for a server is confirmed (no
// means nothing is sent; yes is remembered), the status and the history name the server, nothing is read ahead, and
// switching between this computer and a server never stops or needlessly reloads the local model.
import { describe, expect, it } from 'vitest';
import { IpcChannel, IpcEvent, type ServerKeyState, type StreamMessage } from '../../electron/shared/ipc.js';
import type { Settings } from '../../electron/shared/settings.js';
import { INSTALLED_DIR, serverStats, settle, setup, statuses } from './app-stubs.js';
import { FakeWebContents } from './fakes.js';

const SERVER: Partial<Settings> = { backend: 'server', serverUrl: 'http://gpu-box:8000/v1', serverModel: 'qwen2.5-vl-7b' };

async function finished(t: ReturnType<typeof setup>, askId: string): Promise<StreamMessage[]> {
  await settle();
  const messages = t.streams.get(askId) ?? [];
  expect(messages.at(-1)?.type).toBe('done');
  return messages;
}

describe('answers from a server', () => {
  it('declining the confirmation sends nothing: no request reaches the server, one line says why', async () => {
    const t = setup({ settings: SERVER, confirmServer: async () => false });
    await t.start();
    await t.screenAsk.trigger('screen');
    await expect(t.invoke(IpcChannel.ask, { question: 'What is this?', captureId: 'id1' })).rejects.toThrow(
      /^Nothing was sent: you chose not to send captures to gpu-box:8000\. Ask again to be asked again, or choose "This computer"/,
    );
    expect(t.confirmServer).toHaveBeenCalledWith({ baseUrl: 'http://gpu-box:8000/v1', host: 'gpu-box:8000' });
    expect(t.remote.asks).toEqual([]);
    expect(t.engine.asks).toEqual([]);
    expect(t.settings.get().confirmedServers).toEqual([]);
    expect(t.history.records).toEqual([]);
  });

  it('accepted once: remembered per base URL, not asked again; the answer streams with the server named', async () => {
    const t = setup({ settings: SERVER });
    await t.start();
    await t.screenAsk.trigger('screen');
    const { askId } = (await t.invoke(IpcChannel.ask, { question: 'What is this?', captureId: 'id1', detail: 'high' })) as { askId: string };
    const messages = await finished(t, askId);
    expect(messages).toEqual([{ type: 'token', text: 'From the server.' }, { type: 'done', stats: serverStats() }]);
    expect(t.settings.get().confirmedServers).toEqual(['http://gpu-box:8000/v1']);
    // The capture goes with the question, at the ask's detail; nothing was read ahead.
    expect(t.remote.asks).toHaveLength(1);
    expect(t.remote.asks[0]).toMatchObject({ question: 'What is this?', detail: 'high', followUp: false, image: new TextEncoder().encode('frame') });
    expect(t.remote.asks[0]).not.toHaveProperty('readAhead');
    expect(t.engine.readAheads).toEqual([]);
    expect(t.engine.asks).toEqual([]);

    await t.invoke(IpcChannel.followUp, { askId, question: 'And then?' });
    await t.invoke(IpcChannel.ask, { question: 'Another?' });
    await settle();
    expect(t.confirmServer).toHaveBeenCalledTimes(1);
    expect(t.remote.asks.map((a) => a.question)).toEqual(['What is this?', 'And then?', 'Another?']);

    // Another address is another server: asked again.
    await t.settings.set({ serverUrl: 'http://other-box:8000/v1' });
    await t.invoke(IpcChannel.ask, { question: 'Here?' });
    expect(t.confirmServer).toHaveBeenCalledTimes(2);
    expect(t.confirmServer).toHaveBeenLastCalledWith({ baseUrl: 'http://other-box:8000/v1', host: 'other-box:8000' });
  });

  it('questions asked while the dialog is open wait for the one answer', async () => {
    let answer!: (ok: boolean) => void;
    const t = setup({ settings: SERVER, confirmServer: () => new Promise<boolean>((resolve) => (answer = resolve)) });
    await t.start();
    const first = t.invoke(IpcChannel.ask, { question: 'One?' });
    const second = t.invoke(IpcChannel.ask, { question: 'Two?' });
    await settle();
    expect(t.confirmServer).toHaveBeenCalledTimes(1);
    expect(t.remote.asks).toEqual([]);
    answer(true);
    await Promise.all([first, second]);
    await settle();
    expect(t.remote.asks.map((a) => a.question).sort()).toEqual(['One?', 'Two?']);
  });

  it('the status names the server; a missing address or model is an error with the fix, and asks are refused', async () => {
    const t = setup({ settings: SERVER });
    const page = new FakeWebContents();
    await t.start();
    await t.invoke(IpcChannel.subscribeStatus, undefined, page);
    expect(statuses(page).at(-1)?.model).toEqual({ name: 'qwen2.5-vl-7b on gpu-box:8000', state: 'ready', server: { host: 'gpu-box:8000', model: 'qwen2.5-vl-7b' } });
    await t.settings.set({ serverModel: null });
    expect(statuses(page).at(-1)?.model).toEqual({ name: 'No server', state: 'error', message: 'No model chosen on gpu-box:8000: pick one in Settings → Where answers come from.' });
    await expect(t.invoke(IpcChannel.ask, { question: 'Hi?' })).rejects.toThrow('No model chosen on gpu-box:8000: pick one in Settings → Where answers come from.');
    expect(t.confirmServer).not.toHaveBeenCalled();
  });

  it('records the answer in the history under the server, without the local figures', async () => {
    const t = setup({ settings: SERVER });
    await t.start();
    const { askId } = (await t.invoke(IpcChannel.ask, { question: 'What is this?' })) as { askId: string };
    await finished(t, askId);
    await t.screenAsk.drain();
    expect(t.history.records).toEqual([{ conversationId: askId, model: 'qwen2.5-vl-7b on gpu-box:8000', question: 'What is this?', answer: 'From the server.' }]);
    expect(t.screenAsk.status().lastAnswers).toEqual({});
  });

  it('switching to a server keeps the model process and its model; switching back reloads only what changed', async () => {
    const t = setup();
    await t.start();
    expect(t.engine.loads).toHaveLength(1);
    await t.settings.set(SERVER);
    await t.settings.set({ backend: 'local' });
    await settle();
    expect(t.engine.stopped).toBe(0);
    expect(t.engine.loads).toHaveLength(1);
    // A local setting changed while the server answered: loaded when this computer answers again, not before.
    await t.settings.set({ backend: 'server' });
    await t.settings.set({ precision: 'fp32' });
    await settle();
    expect(t.engine.loads).toHaveLength(1);
    await t.settings.set({ backend: 'local' });
    await settle();
    expect(t.engine.loads).toEqual([{ dir: INSTALLED_DIR, precision: 'auto', device: 'auto' }, { dir: INSTALLED_DIR, precision: 'fp32', device: 'auto' }]);
    expect(t.engine.stopped).toBe(0);
  });

  it('a server backend at start loads no local model, and a capture is not read ahead', async () => {
    const t = setup({ settings: SERVER });
    await t.start();
    expect(t.engine.started).toBe(1);
    expect(t.engine.loads).toEqual([]);
    t.engine.emit({ state: 'ready' });
    await t.screenAsk.trigger('screen');
    expect(t.engine.readAheads).toEqual([]);
    expect(t.windowContents.sent.filter((s) => s.channel === IpcEvent.readAhead)).toEqual([]);
  });

  it('the API key: set only for the saved server, and the page only ever learns whether one is set', async () => {
    const t = setup({ settings: { backend: 'server' } });
    await t.start();
    await expect(t.invoke(IpcChannel.setServerKey, { apiKey: 'sk-1' })).rejects.toThrow('Enter the server address before its API key.');
    await t.settings.set({ serverUrl: 'http://gpu-box:8000/v1' });
    const state = (await t.invoke(IpcChannel.setServerKey, { apiKey: 'sk-secret-1' })) as ServerKeyState;
    expect(state).toEqual({ set: true, kept: 'encrypted' });
    expect(JSON.stringify(await t.invoke(IpcChannel.serverKey))).not.toContain('sk-secret-1');
    expect(t.serverKeys.keys.get('http://gpu-box:8000/v1')).toBe('sk-secret-1');
    expect(await t.invoke(IpcChannel.setServerKey, { apiKey: null })).toEqual({ set: false, kept: 'encrypted' });
    expect(await t.invoke(IpcChannel.listServerModels, { serverUrl: 'http://gpu-box:8000/v1' })).toEqual({ models: ['qwen2.5-vl-7b', 'llava'] });
    expect(t.remote.listed).toEqual(['http://gpu-box:8000/v1']);
  });

  it('a page cannot mark a server as confirmed through setSettings', async () => {
    const t = setup({ settings: SERVER });
    await t.start();
    await expect(t.invoke(IpcChannel.setSettings, { confirmedServers: ['http://gpu-box:8000/v1'] })).rejects.toThrow(/malformed message/);
    expect(t.settings.get().confirmedServers).toEqual([]);
  });
});
