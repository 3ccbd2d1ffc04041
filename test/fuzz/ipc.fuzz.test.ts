/**
 * The main process's IPC entry (electron/main/ipc.ts over the shared schemas of electron/shared/ipc.ts), fed random
 * and mutated payloads on every channel: each invoke either reaches its handler with a payload that satisfies the
 * channel's schema, or is refused with the generic IpcRejected; nothing else escapes, and a foreign frame never
 * reaches a handler, whatever it sends.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IpcRejected, registerIpc, type IpcHandlers } from '../../electron/main/ipc.js';
import { appPageUrl, isAppSchemeUrl } from '../../electron/main/app-protocol.js';
import { fixedPayloadSchemas, IpcChannel, type IpcChannelName } from '../../electron/shared/ipc.js';
import { pageSettingsPatchSchema } from '../../electron/shared/settings.js';
import { FakeIpcMain, FakeWebContents } from '../electron/fakes.js';
import { anyMessage, mutated } from './arbitraries.js';

const ours = appPageUrl('ask');
/** What the app registers for setSettings (services.ts). */
const settingsPatchSchema = pageSettingsPatchSchema;
const schemas: Record<IpcChannelName, { safeParse(value: unknown): { success: boolean } }> = {
  ...fixedPayloadSchemas,
  [IpcChannel.setSettings]: settingsPatchSchema,
};

/** A valid payload per channel, as the renderer sends it: the starting points of the mutations. */
const valid: Record<IpcChannelName, object | undefined> = {
  [IpcChannel.ask]: { question: 'What is this?', captureId: 'c1', detail: 'low' },
  [IpcChannel.followUp]: { askId: 'a1', question: 'and?' },
  [IpcChannel.cancel]: { askId: 'a1' },
  [IpcChannel.capture]: { mode: 'region', region: { x: 1, y: 2, width: 3, height: 4 } },
  [IpcChannel.getSettings]: undefined,
  [IpcChannel.setSettings]: { temperature: 0.7, hotkey: 'Alt+A' },
  [IpcChannel.subscribeStatus]: undefined,
  [IpcChannel.capturePreview]: { captureId: 'c1' },
  [IpcChannel.openSettings]: undefined,
  [IpcChannel.subscribeModels]: undefined,
  [IpcChannel.remoteModel]: { id: 'SmolVLM-256M-Instruct' },
  [IpcChannel.pullModel]: { id: 'SmolVLM-256M-Instruct', precision: 'q8' },
  [IpcChannel.cancelPull]: { id: 'SmolVLM-256M-Instruct' },
  [IpcChannel.importModel]: { dir: '/home/me/export' },
  [IpcChannel.removeModel]: { id: 'my-finetune' },
  [IpcChannel.pickFolder]: undefined,
  [IpcChannel.listHistory]: { query: 'error' },
  [IpcChannel.deleteHistory]: { id: 'h1' },
  [IpcChannel.clearHistory]: undefined,
  [IpcChannel.historyScreenshot]: { id: 'h1' },
  [IpcChannel.openLink]: { url: 'https://docs.example/errors' },
  [IpcChannel.listServerModels]: { serverUrl: 'http://gpu-box:8000/v1' },
  [IpcChannel.serverKey]: undefined,
  [IpcChannel.setServerKey]: { apiKey: 'sk-test-123' },
};

function setup() {
  const ipcMain = new FakeIpcMain();
  const calls: { channel: string; payload: unknown }[] = [];
  // Every handler records what reached it and answers; the payload is the first argument of those that take one.
  const handlers = new Proxy({} as IpcHandlers, {
    get: (_target, channel: string) => async (...args: unknown[]) => {
      calls.push({ channel, payload: args.length > 1 ? args[0] : undefined });
      return null;
    },
  });
  registerIpc({ ipcMain, isAppUrl: isAppSchemeUrl, settingsSchema: settingsPatchSchema, handlers, log: () => {} });
  return { ipcMain, calls, sender: new FakeWebContents() };
}

/** A channel with the name of its handler (`ask` for `screenask:ask`). */
const channel = fc.constantFrom(...(Object.entries(IpcChannel) as [keyof IpcHandlers, IpcChannelName][]));
const payloadFor = (name: IpcChannelName) => {
  const start = valid[name];
  return start === undefined ? fc.oneof(fc.constant(undefined), anyMessage()) : fc.oneof(anyMessage(), mutated(fc.constant(start)));
};
const invocation = channel.chain(([handler, name]) =>
  fc.record({
    handler: fc.constant(handler),
    name: fc.constant(name),
    args: fc.oneof(payloadFor(name).map((p) => [p]), fc.array(anyMessage(), { maxLength: 3 })),
  }),
);

describe('IPC validation (fuzzed)', () => {
  it('passes a payload to its handler only when it satisfies the channel schema, and refuses the rest as IpcRejected', async () => {
    const { ipcMain, calls, sender } = setup();
    await fc.assert(
      fc.asyncProperty(invocation, async ({ handler, name, args }) => {
        calls.length = 0;
        const outcome = await ipcMain.invoke(ours, sender, name, ...args).then(
          () => 'handled',
          (error: unknown) => error,
        );
        const acceptable = args.length <= 1 && schemas[name].safeParse(args[0]).success;
        if (outcome === 'handled') {
          expect(acceptable).toBe(true);
          expect(calls.map((c) => c.channel)).toEqual([handler]);
          if (calls[0]!.payload !== undefined) expect(schemas[name].safeParse(calls[0]!.payload).success).toBe(true);
        } else {
          expect(outcome).toBeInstanceOf(IpcRejected);
          expect(acceptable).toBe(false);
          expect(calls).toEqual([]);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('never lets a foreign frame reach a handler, whatever the payload', async () => {
    const { ipcMain, calls, sender } = setup();
    const foreign = fc.oneof(fc.webUrl(), fc.constant('file:///tmp/evil.html'), fc.constant(''), fc.constant(null));
    await fc.assert(
      fc.asyncProperty(foreign, invocation, async (url, { name, args }) => {
        await expect(ipcMain.invoke(url, sender, name, ...args)).rejects.toBeInstanceOf(IpcRejected);
        expect(calls).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});
