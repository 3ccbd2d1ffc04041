// The preload against a fake 'electron': it exposes exactly the ScreenAskApi methods as `window.screenask`, each on
// its own channel; subscriptions listen before they ask for the first value; stream ports are handed to the page.
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { IpcChannel, IpcEvent, STREAM_PORT_MESSAGE } from '../../electron/shared/ipc-channels.js';
import type { ScreenAskApi } from '../../electron/shared/ipc.js';

type Listener = (event: unknown, ...args: unknown[]) => void;
const h = vi.hoisted(() => ({
  exposed: new Map<string, unknown>(),
  invokes: [] as unknown[][],
  listeners: new Map<string, Set<(event: unknown, ...args: unknown[]) => void>>(),
}));

vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (key: string, api: unknown) => h.exposed.set(key, api) },
  ipcRenderer: {
    invoke: async (...args: unknown[]) => (h.invokes.push(args), `reply:${String(args[0])}`),
    on: (channel: string, listener: Listener) => {
      if (!h.listeners.has(channel)) h.listeners.set(channel, new Set());
      h.listeners.get(channel)!.add(listener);
    },
    removeListener: (channel: string, listener: Listener) => h.listeners.get(channel)?.delete(listener),
  },
}));

/** Every method of ScreenAskApi, checked by the compiler both ways (a missing or an extra name fails to build). */
const apiMethods = {
  ask: true,
  followUp: true,
  cancel: true,
  capture: true,
  getSettings: true,
  setSettings: true,
  subscribeStatus: true,
  onTrigger: true,
  onReadAhead: true,
  capturePreview: true,
  openSettings: true,
  subscribeModels: true,
  remoteModel: true,
  pullModel: true,
  cancelPull: true,
  importModel: true,
  removeModel: true,
  pickFolder: true,
  listHistory: true,
  deleteHistory: true,
  clearHistory: true,
  historyScreenshot: true,
  openLink: true,
  listServerModels: true,
  serverKey: true,
  setServerKey: true,
} satisfies Record<keyof ScreenAskApi, true>;

const emit = (channel: string, event: unknown, ...args: unknown[]) => h.listeners.get(channel)?.forEach((l) => l(event, ...args));

async function loadPreload(): Promise<ScreenAskApi> {
  await import('../../electron/preload/index.js');
  return h.exposed.get('screenask') as ScreenAskApi;
}

beforeEach(() => {
  h.invokes.length = 0;
});

describe('preload', () => {
  it('exposes exactly the ScreenAskApi methods, and nothing else, as window.screenask', async () => {
    const api = await loadPreload();
    expect([...h.exposed.keys()]).toEqual(['screenask']);
    expect(Object.keys(api).sort()).toEqual(Object.keys(apiMethods).sort());
    for (const value of Object.values(api)) expect(value).toBeTypeOf('function');
  });

  it('sends each request on its own channel, with the payload as the only argument', async () => {
    const api = await loadPreload() as unknown as Record<string, (payload?: unknown) => Promise<unknown>>;
    const withPayload = ['ask', 'followUp', 'cancel', 'capture', 'setSettings', 'capturePreview', 'remoteModel', 'pullModel', 'cancelPull', 'importModel', 'removeModel', 'listHistory', 'deleteHistory', 'historyScreenshot', 'openLink'] as const;
    const without = ['getSettings', 'openSettings', 'pickFolder', 'clearHistory'] as const;
    for (const name of withPayload) {
      expect(await api[name]!({ probe: name })).toBe(`reply:${IpcChannel[name]}`);
      expect(h.invokes.at(-1)).toEqual([IpcChannel[name], { probe: name }]);
    }
    for (const name of without) {
      await api[name]!();
      expect(h.invokes.at(-1)).toEqual([IpcChannel[name]]);
    }
  });

  it.each([
    ['subscribeStatus', IpcEvent.status, IpcChannel.subscribeStatus],
    ['subscribeModels', IpcEvent.models, IpcChannel.subscribeModels],
  ] as const)('%s listens before asking for the first value, hands the listener only the payload, and unsubscribes', async (name, event, channel) => {
    const api = await loadPreload();
    const seen: unknown[] = [];
    const before = h.listeners.get(event)?.size ?? 0;
    const unsubscribe = await api[name]((value: unknown) => seen.push(value));
    expect(h.invokes).toEqual([[channel]]);
    expect(h.listeners.get(event)?.size).toBe(before + 1);
    emit(event, { sender: 'secret' }, { n: 1 });
    expect(seen).toEqual([{ n: 1 }]);
    unsubscribe();
    emit(event, {}, { n: 2 });
    expect(seen).toEqual([{ n: 1 }]);
  });

  it('hands a stream port to the page, and ignores messages that do not carry exactly one', async () => {
    await loadPreload();
    const postMessage = vi.fn();
    vi.stubGlobal('window', { postMessage });
    try {
      const port = {};
      emit(IpcEvent.streamPort, { ports: [port] }, { askId: 'a1' });
      emit(IpcEvent.streamPort, { ports: [] }, { askId: 'a2' });
      emit(IpcEvent.streamPort, { ports: [port] }, { askId: 7 });
      expect(postMessage.mock.calls).toEqual([[{ type: STREAM_PORT_MESSAGE, askId: 'a1' }, '*', [port]]]);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
