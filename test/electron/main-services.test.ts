/**
 * createServices as the web harness uses it: the real settings store, model process (the utility entry as a Node
 * child process), model manager and history, under ScreenAskApp with fake Electron parts. A generated model answers,
 * so this checks that the user's generation settings reach the engine and that each turn reaches the history.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createNodeLauncher } from '../../electron/main/process-launcher.js';
import { createServices, type Services } from '../../electron/main/services.js';
import { IpcChannel, IpcEvent, type AnswerStatsView, type AskReply, type HistoryEntry, type ModelsSnapshot, type StreamMessage, type TriggerMessage } from '../../electron/shared/ipc.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { writeScreenshotLike } from '../support/images.js';
import { received, setup, stubFrame } from './app-stubs.js';
import { FakeWebContents } from './fakes.js';

let root: string;
let modelDir: string;
let screenPng: Uint8Array;
let services: Services;
let t: ReturnType<typeof setup>;
const log = vi.fn();

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-services-'));
  modelDir = path.join(root, 'my-finetune');
  await writeSmolVlmModel(modelDir, { seed: 8, precisions: ['fp32'] });
  screenPng = new Uint8Array(await readFile(await writeScreenshotLike(path.join(root, 'screen.png'), 640, 360)));
  services = await createServices({
    userDataDir: path.join(root, 'user-data'),
    modelsDir: path.join(root, 'models'),
    launcher: createNodeLauncher(),
    machine: { hasGpu: false, totalMemoryBytes: 4 * 1024 ** 3 },
    log,
  });
  await services.settings.set({ model: modelDir, precision: 'fp32', maxNewTokens: 3, temperature: 0, saveScreenshotsInHistory: true });
  t = setup({ services, capture: async () => ({ ...stubFrame('screen', 640, 360), png: screenPng }) });
  await t.start();
  await vi.waitFor(() => expect(t.screenAsk.status().model.state).toBe('ready'), { timeout: 60_000, interval: 50 });
});

afterAll(async () => {
  t?.app.quit();
  await services?.dispose();
  if (root) await rm(root, { recursive: true, force: true });
});

/** Waits for the answer's last message and returns its stats. */
async function finished(askId: string): Promise<AnswerStatsView> {
  let last: StreamMessage | undefined;
  await vi.waitFor(
    () => {
      last = t.streams.get(askId)?.at(-1);
      expect(['done', 'error']).toContain(last?.type);
    },
    { timeout: 30_000, interval: 20 },
  );
  if (last?.type !== 'done' || !last.stats || last.stats.provider === 'remote') throw new Error(`the answer did not finish locally: ${JSON.stringify(last)}`);
  return last.stats;
}

describe('createServices under the app', () => {
  it('opens fresh folders without problems and loads the selected folder, describing the model', () => {
    expect(services.problems).toEqual([]);
    expect(t.screenAsk.status().model).toEqual({
      name: 'my-finetune',
      state: 'ready',
      info: {
        family: 'smolvlm',
        precision: 'fp32',
        precisions: ['fp32'],
        provider: 'cpu',
        warnings: [],
        imageTokens: { low: 64, high: 832 },
        // The decoder's fast path as the model process reports it (a generated model in the public exports' style).
        fastPath: { applied: expect.arrayContaining(['new-kv-outputs', 'last-row-logits']), skipped: [] },
      },
    });
  });

  it('answers with the generation settings of each moment, remembers both cache figures, and records the turns', async () => {
    await t.screenAsk.trigger('screen');
    const { captureId } = received<TriggerMessage>(t.windowContents, IpcEvent.trigger).at(-1)!;
    const { askId } = (await t.invoke(IpcChannel.ask, { question: 'What is on the screen?', captureId, detail: 'low' })) as AskReply;
    const first = await finished(askId);
    expect(first).toMatchObject({ generatedTokens: 3, stopReason: 'max-new-tokens', cache: 'on', imageTokens: 64, precision: 'fp32' });

    await t.invoke(IpcChannel.setSettings, { useCache: false, maxNewTokens: 2 });
    const followUp = (await t.invoke(IpcChannel.followUp, { askId, question: 'And then?' })) as AskReply;
    const second = await finished(followUp.askId);
    expect(second).toMatchObject({ generatedTokens: 2, cache: 'off', reusedPromptTokens: 0 });
    expect(t.screenAsk.status().lastAnswers).toEqual({ cacheOn: first, cacheOff: second });

    const answerOf = (id: string) => (t.streams.get(id) ?? []).flatMap((m) => (m.type === 'token' ? [m.text] : [])).join('');
    await vi.waitFor(async () => expect(await services.history.list()).toHaveLength(1));
    const [entry] = (await t.invoke(IpcChannel.listHistory, {})) as HistoryEntry[];
    expect(entry).toMatchObject({
      model: 'my-finetune',
      hasScreenshot: true,
      turns: [
        { question: 'What is on the screen?', answer: answerOf(askId), stats: first },
        { question: 'And then?', answer: answerOf(followUp.askId), stats: second },
      ],
    });
    expect(await t.invoke(IpcChannel.historyScreenshot, { id: entry!.id })).toMatch(/^data:image\/png;base64,/);
  });

  it('lists the models folder for the Models view, and says when the selected model is not installed', async () => {
    const page = new FakeWebContents();
    await t.invoke(IpcChannel.subscribeModels, undefined, page);
    expect(received<ModelsSnapshot>(page, IpcEvent.models).at(-1)).toMatchObject({ modelsDir: path.join(root, 'models'), installed: [] });
    await t.invoke(IpcChannel.setSettings, { model: 'SmolVLM-500M-Instruct' });
    await vi.waitFor(() => expect(t.screenAsk.status().model).toMatchObject({ name: 'SmolVLM-500M-Instruct', state: 'error', message: expect.stringMatching(/not installed/) }));
    await expect(t.invoke(IpcChannel.ask, { question: 'hi' })).rejects.toThrow(/not installed/);
  });
});
