// The app and the models: which model loads and when it reloads, a missing model, the Models view's requests and the
// snapshots pushed to it.
import { describe, expect, it } from 'vitest';
import { NO_MODEL_CHOSEN } from '../../electron/main/model-loader.js';
import { IpcChannel, IpcEvent, type ModelsSnapshot } from '../../electron/shared/ipc.js';
import { INSTALLED_DIR, INSTALLED_ID, loadedInfo, received, settle, setup, statuses } from './app-stubs.js';
import { FakeWebContents } from './fakes.js';

const notInstalled = (id: string) => `Model "${id}" is not installed: open Models and download it.`;

describe('model selection', () => {
  it('loads the selected id with the precision and device of the settings; the status names it and describes the loaded model', async () => {
    const t = setup({ settings: { precision: 'q8', device: 'cpu' } });
    await t.start();
    expect(t.models.resolve).toHaveBeenCalledWith(INSTALLED_ID);
    expect(t.engine.loads).toEqual([{ dir: INSTALLED_DIR, precision: 'q8', device: 'cpu' }]);
    t.engine.emit({ state: 'ready', info: loadedInfo });
    expect(t.screenAsk.status().model).toEqual({ name: INSTALLED_ID, state: 'ready', info: loadedInfo });
  });

  it('loads a model folder as it is, named after the folder', async () => {
    const t = setup({ settings: { model: '/home/me/models/my-finetune' } });
    await t.start();
    expect(t.engine.loads).toEqual([{ dir: '/home/me/models/my-finetune', precision: 'auto', device: 'auto' }]);
    expect(t.screenAsk.status().model).toEqual({ name: 'my-finetune', state: 'loading' });
  });

  it('without a chosen model: an error status saying where to choose one, and nothing loads', async () => {
    const t = setup({ settings: { model: null } });
    await t.start();
    expect(t.engine.loads).toEqual([]);
    expect(t.screenAsk.status().model).toEqual({ name: 'No model', state: 'error', message: NO_MODEL_CHOSEN });
  });

  it('reloads when the model, precision or device change, and for no other setting', async () => {
    const t = setup();
    await t.start();
    expect(t.engine.loads).toHaveLength(1);
    await t.invoke(IpcChannel.setSettings, { temperature: 0.2, maxNewTokens: 64, useCache: false, imageDetail: 'high', hotkey: null });
    await t.invoke(IpcChannel.setSettings, { saveScreenshotsInHistory: true, precision: 'auto', device: 'auto', model: INSTALLED_ID });
    await settle();
    expect(t.engine.loads).toHaveLength(1);
    await t.invoke(IpcChannel.setSettings, { precision: 'fp32' });
    await settle();
    await t.invoke(IpcChannel.setSettings, { device: 'cpu' });
    await settle();
    await t.invoke(IpcChannel.setSettings, { model: '/srv/models/other' });
    await settle();
    expect(t.engine.loads.slice(1)).toEqual([
      { dir: INSTALLED_DIR, precision: 'fp32', device: 'auto' },
      { dir: INSTALLED_DIR, precision: 'fp32', device: 'cpu' },
      { dir: '/srv/models/other', precision: 'fp32', device: 'cpu' },
    ]);
  });

  it('changes during a load run one more load, with the latest settings; the ones in between are skipped', async () => {
    const t = setup();
    await t.start();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    t.models.resolve.mockImplementationOnce(async () => (await held, { dir: INSTALLED_DIR }));
    await t.invoke(IpcChannel.setSettings, { precision: 'fp32' });
    await t.invoke(IpcChannel.setSettings, { precision: 'fp16' });
    await t.invoke(IpcChannel.setSettings, { precision: 'q4' });
    release();
    await settle();
    expect(t.engine.loads.map((l) => l.precision)).toEqual(['auto', 'fp32', 'q4']);
  });

  it('a selected model that is not installed: the status says so, asks are refused, and it loads once its pull is done', async () => {
    const t = setup({ settings: { model: 'SmolVLM-500M-Instruct' } });
    await t.start();
    const page = new FakeWebContents();
    await t.invoke(IpcChannel.subscribeStatus, undefined, page);
    expect(statuses(page).at(-1)?.model).toEqual({ name: 'SmolVLM-500M-Instruct', state: 'error', message: notInstalled('SmolVLM-500M-Instruct') });
    await expect(t.invoke(IpcChannel.ask, { question: 'q' })).rejects.toThrow(new RegExp(`^${notInstalled('SmolVLM-500M-Instruct').replace(/[.()]/g, '\\$&')}$`));
    // Engine statuses (the old model's) do not hide why the selection cannot run.
    t.engine.emit({ state: 'ready', info: loadedInfo });
    expect(t.screenAsk.status().model.state).toBe('error');
    // Download progress: still missing, still not loaded.
    t.models.change();
    await settle();
    expect(t.engine.loads).toEqual([]);
    t.models.installed.set('SmolVLM-500M-Instruct', '/models/HuggingFaceTB--SmolVLM-500M-Instruct');
    t.models.change();
    await settle();
    expect(t.engine.loads).toEqual([{ dir: '/models/HuggingFaceTB--SmolVLM-500M-Instruct', precision: 'auto', device: 'auto' }]);
    expect(statuses(page).at(-1)?.model).toEqual({ name: 'SmolVLM-500M-Instruct', state: 'loading' });
    expect(t.engine.asks).toEqual([]);
  });

  it('an import that makes the selected model available loads it; a failed import does not', async () => {
    const t = setup({ settings: { model: 'my-finetune' } });
    await t.start();
    t.models.import.mockImplementationOnce(async (dir) => ({ dir, ok: false, precisions: [], missing: ['onnx/vision_encoder.onnx'], problems: [], notes: [], summary: 'incomplete' }));
    await t.invoke(IpcChannel.importModel, { dir: '/home/me/my-finetune' });
    await settle();
    expect(t.engine.loads).toEqual([]);
    t.models.installed.set('my-finetune', '/home/me/my-finetune');
    expect(await t.invoke(IpcChannel.importModel, { dir: '/home/me/my-finetune' })).toMatchObject({ ok: true });
    await settle();
    expect(t.engine.loads).toEqual([{ dir: '/home/me/my-finetune', precision: 'auto', device: 'auto' }]);
  });

  it('a loaded model is not reloaded by model-manager changes; removing it says it is gone', async () => {
    const t = setup();
    await t.start();
    t.models.change();
    t.models.change();
    await settle();
    expect(t.engine.loads).toHaveLength(1);
    await t.invoke(IpcChannel.removeModel, { id: INSTALLED_ID });
    await settle();
    expect(t.models.remove).toHaveBeenCalledWith(INSTALLED_ID);
    expect(t.screenAsk.status().model).toMatchObject({ state: 'error', message: notInstalled(INSTALLED_ID) });
  });

  it('after quit, a model resolved late is not loaded (it would start a new model process)', async () => {
    const t = setup();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    t.models.resolve.mockImplementationOnce(async () => (await held, { dir: INSTALLED_DIR }));
    await t.start();
    t.app.quit();
    release();
    await settle();
    expect(t.engine.loads).toEqual([]);
  });
});

describe('the Models view', () => {
  it('gets the snapshot when it subscribes and after every change, while its page lives', async () => {
    const t = setup();
    await t.start();
    const first = new FakeWebContents();
    const second = new FakeWebContents();
    await t.invoke(IpcChannel.subscribeModels, undefined, first);
    expect(received<ModelsSnapshot>(first, IpcEvent.models)).toHaveLength(1);
    expect(received<ModelsSnapshot>(first, IpcEvent.models)[0]?.installed.map((m) => m.id)).toEqual([INSTALLED_ID]);
    t.models.installed.set('my-finetune', '/home/me/my-finetune');
    t.models.change();
    await settle();
    expect(received<ModelsSnapshot>(first, IpcEvent.models).at(-1)?.installed.map((m) => m.id)).toEqual([INSTALLED_ID, 'my-finetune']);
    await t.invoke(IpcChannel.subscribeModels, undefined, second);
    expect(received(second, IpcEvent.models)).toHaveLength(1);
    first.destroyed = true;
    const before = first.sent.length;
    t.models.change();
    await settle();
    expect(first.sent.length).toBe(before);
    expect(received(second, IpcEvent.models)).toHaveLength(2);
    // Choosing another model changes which one the snapshot marks active.
    await t.invoke(IpcChannel.setSettings, { model: 'my-finetune' });
    await settle();
    expect(received(second, IpcEvent.models)).toHaveLength(3);
  });

  it('a snapshot that fails is logged, and the next change sends one again', async () => {
    const t = setup();
    await t.start();
    const page = new FakeWebContents();
    t.models.snapshot.mockRejectedValueOnce(new Error('EACCES: permission denied, scandir /models\n    at readdir'));
    await t.invoke(IpcChannel.subscribeModels, undefined, page);
    expect(t.log).toHaveBeenCalledWith('models: could not list the models: EACCES: permission denied, scandir /models');
    t.models.change();
    await settle();
    expect(received(page, IpcEvent.models)).toHaveLength(1);
  });

  it('passes remote, pull, cancel, import and remove to the model manager, and shows the folder picker', async () => {
    const t = setup();
    await t.start();
    expect(await t.invoke(IpcChannel.remoteModel, { id: 'SmolVLM-500M-Instruct' })).toMatchObject({ id: 'SmolVLM-500M-Instruct', precisions: [{ precision: 'q8' }] });
    expect(await t.invoke(IpcChannel.pullModel, { id: 'SmolVLM-500M-Instruct', precision: 'q8' })).toBeUndefined();
    expect(t.models.pull).toHaveBeenCalledWith({ id: 'SmolVLM-500M-Instruct', precision: 'q8' });
    await t.invoke(IpcChannel.cancelPull, { id: 'SmolVLM-500M-Instruct' });
    expect(t.models.cancel).toHaveBeenCalledWith('SmolVLM-500M-Instruct');
    expect(await t.invoke(IpcChannel.importModel, { dir: '/home/me/export' })).toMatchObject({ dir: '/home/me/export', ok: true });
    await t.invoke(IpcChannel.removeModel, { id: 'my-finetune' });
    expect(t.models.remove).toHaveBeenCalledWith('my-finetune');
    expect(await t.invoke(IpcChannel.pickFolder)).toBe('/home/me/my-finetune');
    t.pickFolder.mockResolvedValueOnce(null);
    expect(await t.invoke(IpcChannel.pickFolder)).toBeNull();
    // A manager's error reaches the page as its one line.
    t.models.pull.mockRejectedValueOnce(new Error('SmolVLM-500M-Instruct is already downloading: wait for it to finish, or cancel it first.\nstack'));
    await expect(t.invoke(IpcChannel.pullModel, { id: 'SmolVLM-500M-Instruct', precision: 'q8' })).rejects.toThrow(
      /^SmolVLM-500M-Instruct is already downloading: wait for it to finish, or cancel it first\.$/,
    );
  });
});
