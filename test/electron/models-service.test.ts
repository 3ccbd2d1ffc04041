/**
 * The Models view's backend end to end: real HTTP to the fake Hub on loopback, real temp folders and generated tiny
 * SmolVLM models. Each test uses its own models folder; faults are cleared after each.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ModelsService, type ModelsServiceOptions } from '../../electron/main/models-service.js';
import type { DownloadView, ModelsSnapshot } from '../../electron/shared/ipc.js';
import { catalogue, findModel, type CatalogueEntry } from '../../native-models/hub/catalogue.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { fakeSha, folderFiles, startFakeHub, type FakeHub } from '../support/fake-hub.js';

const GiB = 1024 ** 3;
const tiny: CatalogueEntry = { ...findModel('SmolVLM-256M-Instruct'), id: 'Tiny-Instruct', repo: 'test/Tiny-Instruct' };
const missing: CatalogueEntry = { ...tiny, id: 'Missing-Instruct', repo: 'test/Missing-Instruct' };
const testCatalogue = [...catalogue, tiny, missing];
/** The largest file of the tiny model (~280 kB), fetched first of the graphs: where a slow fault makes a download last. */
const bigFile = 'onnx/vision_encoder_quantized.onnx';
const slowBigFile = (hub: FakeHub, bytesPerSecond: number) => hub.setFault(`${tiny.repo}/${bigFile}`, { kind: 'slow', bytesPerSecond });

let root: string;
let hub: FakeHub;
let repoBytes: number;
const services: ModelsService[] = [];
let dirCount = 0;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-models-service-'));
  await writeSmolVlmModel(path.join(root, 'src'), { seed: 7, precisions: ['q8'] });
  const files = await folderFiles(path.join(root, 'src'));
  repoBytes = Object.values(files).reduce((sum, f) => sum + f.length, 0);
  hub = await startFakeHub({ repos: { [tiny.repo]: { sha: fakeSha('tiny'), files } } });
});

afterEach(() => {
  for (const service of services.splice(0)) service.dispose();
  hub.clearFaults();
});

afterAll(async () => {
  await hub?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

function newModelsDir(): string {
  return path.join(root, `models-${++dirCount}`);
}

function makeService(overrides: Partial<ModelsServiceOptions> = {}): ModelsService {
  const service = new ModelsService({
    modelsDir: newModelsDir(),
    hub: { endpoint: hub.endpoint, token: '' },
    catalogue: testCatalogue,
    machine: { hasGpu: false, totalMemoryBytes: 4 * GiB },
    activeModel: () => null,
    progressIntervalMs: 50,
    ...overrides,
  });
  services.push(service);
  return service;
}

/** Resolves with the first snapshot that passes `predicate`, checked now and after every announced change. */
function waitFor(service: ModelsService, predicate: (s: ModelsSnapshot) => boolean, what: string): Promise<ModelsSnapshot> {
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => finish(() => reject(new Error(`timed out waiting for ${what}`))), 30_000);
    const finish = (settle: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      off();
      settle();
    };
    const check = () => {
      service.snapshot().then((s) => predicate(s) && finish(() => resolve(s)), (e: unknown) => finish(() => reject(e)));
    };
    const off = service.onChange(check);
    check();
  });
}

const download = (s: ModelsSnapshot, id: string): DownloadView | undefined => s.downloads.find((d) => d.id === id);
const inState = (id: string, state: DownloadView['state']) => (s: ModelsSnapshot) => download(s, id)?.state === state;
const partFile = (modelsDir: string) => path.join(modelsDir, 'test--Tiny-Instruct', `${bigFile}.part`);

describe('ModelsService', () => {
  it('lists the catalogue with exactly one recommended model, per machine', async () => {
    const cpu = await makeService().snapshot();
    expect(cpu.catalogue.map((c) => c.id)).toEqual(testCatalogue.map((e) => e.id));
    expect(cpu.catalogue.filter((c) => c.recommended).map((c) => c.id)).toEqual(['SmolVLM-256M-Instruct']);
    expect(cpu.catalogue[0]).toEqual({
      id: 'SmolVLM-256M-Instruct',
      repo: 'HuggingFaceTB/SmolVLM-256M-Instruct',
      family: 'smolvlm',
      class: 'cpu',
      description: catalogue[0]!.description,
      defaultPrecision: 'q8',
      engineSupported: true,
      recommended: true,
    });
    const gpu = await makeService({ machine: { hasGpu: true, totalMemoryBytes: 32 * GiB } }).snapshot();
    expect(gpu.catalogue.filter((c) => c.recommended).map((c) => c.id)).toEqual(['Qwen2.5-VL-3B-Instruct']);
    // A catalogue without the models the rule names recommends nothing rather than failing.
    const custom = await makeService({ catalogue: [tiny] }).snapshot();
    expect(custom.catalogue).toEqual([expect.objectContaining({ id: 'Tiny-Instruct', recommended: false })]);
    expect(cpu.installed).toEqual([]);
    expect(cpu.downloads).toEqual([]);
  });

  it('lists installed models with the active flag following the settings (id or folder)', async () => {
    let active: string | null = null;
    const modelsDir = newModelsDir();
    const service = makeService({ modelsDir, activeModel: () => active });
    const alpha = path.join(root, 'alpha');
    const beta = path.join(root, 'beta');
    await writeSmolVlmModel(alpha, { seed: 1, precisions: ['q8'] });
    await writeSmolVlmModel(beta, { seed: 2, precisions: ['fp32', 'q8'] });
    expect((await service.import(alpha)).ok).toBe(true);
    expect((await service.import(beta)).ok).toBe(true);

    const activeIds = async () => (await service.snapshot()).installed.filter((m) => m.active).map((m) => m.id);
    expect(await activeIds()).toEqual([]);
    active = 'alpha';
    expect(await activeIds()).toEqual(['alpha']);
    active = beta;
    expect(await activeIds()).toEqual(['beta']);
    active = path.join(root, 'elsewhere');
    expect(await activeIds()).toEqual([]);

    const snapshot = await service.snapshot();
    expect(snapshot.modelsDir).toBe(modelsDir);
    expect(snapshot.installed).toEqual([
      { id: 'alpha', dir: alpha, source: 'folder', precisions: ['q8'], complete: true, active: false },
      { id: 'beta', dir: beta, source: 'folder', precisions: ['fp32', 'q8'], complete: true, active: false },
    ]);
  });

  it('reports the precisions the Hub offers, with their sizes, at a commit', async () => {
    const remote = await makeService().remote('tiny-instruct');
    expect(remote).toEqual({ id: 'Tiny-Instruct', sha: fakeSha('tiny'), precisions: [{ precision: 'q8', bytes: repoBytes }] });
    await expect(makeService().remote('Nope')).rejects.toThrow(/^Unknown model "Nope": choose one of .*Tiny-Instruct.* in Models\.$/);
  });

  it('pulls a model to done, then lists it installed and resolves it to its folder', async () => {
    let active: string | null = 'Tiny-Instruct';
    const modelsDir = newModelsDir();
    const service = makeService({ modelsDir, activeModel: () => active });
    expect(await service.resolve('Tiny-Instruct')).toEqual({ missing: 'Model "Tiny-Instruct" is not installed: open Models and download it.' });

    await service.pull({ id: 'Tiny-Instruct', precision: 'q8' });
    const done = await waitFor(service, inState('Tiny-Instruct', 'done'), 'the download to finish');
    const view = download(done, 'Tiny-Instruct')!;
    expect(view).toMatchObject({ precision: 'q8', bytes: repoBytes, total: repoBytes });
    expect(view.message).toBeUndefined();
    const dir = path.join(modelsDir, 'test--Tiny-Instruct');
    expect(done.installed).toEqual([
      { id: 'Tiny-Instruct', repo: 'test/Tiny-Instruct', dir, source: 'hub', precisions: ['q8'], complete: true, active: true },
    ]);
    expect(await service.resolve('Tiny-Instruct')).toEqual({ dir });
    expect(await service.resolve('test/tiny-instruct')).toEqual({ dir });
    active = dir;
    expect((await service.snapshot()).installed[0]!.active).toBe(true);

    // Pulling what is installed fetches nothing and still ends as done.
    const before = hub.requests.length;
    await service.pull({ id: 'test/Tiny-Instruct', precision: 'q8' });
    await waitFor(service, inState('Tiny-Instruct', 'done'), 'the second pull to finish');
    expect(hub.requests.slice(before).filter((r) => r.url.includes('/resolve/'))).toEqual([]);
    expect((await service.snapshot()).downloads).toHaveLength(1); // the finished record was replaced, not added
  });

  /** Every view of the download that a change announced, read synchronously at the announcement. */
  async function announcedViews(service: ModelsService): Promise<(DownloadView | undefined)[]> {
    const seen: Promise<DownloadView | undefined>[] = [];
    service.onChange(() => seen.push(service.snapshot().then((s) => download(s, 'Tiny-Instruct'))));
    await service.pull({ id: 'Tiny-Instruct', precision: 'q8' });
    await waitFor(service, inState('Tiny-Instruct', 'done'), 'the download to finish');
    return Promise.all(seen);
  }

  it('announces progress with growing bytes, a rate, an ETA and the file', async () => {
    slowBigFile(hub, 300_000);
    const views = await announcedViews(makeService({ progressIntervalMs: 0 }));
    const running = views.filter((v): v is DownloadView => v?.state === 'running' && v.total > 0);
    expect(running.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < running.length; i++) expect(running[i]!.bytes).toBeGreaterThanOrEqual(running[i - 1]!.bytes);
    expect(running.at(-1)!.bytes).toBeGreaterThan(running[0]!.bytes);
    expect(running.every((v) => v.total === repoBytes && v.bytes <= v.total)).toBe(true);
    expect(running.some((v) => v.file === bigFile && v.bytesPerSecond > 0 && (v.etaSeconds ?? 0) > 0)).toBe(true);
  });

  it('throttles progress by the interval: within one interval only the state changes are announced', async () => {
    slowBigFile(hub, 300_000);
    const every = await announcedViews(makeService({ progressIntervalMs: 0 }));
    // An interval longer than the download: no progress announcement falls due, whatever the machine's speed.
    const throttled = await announcedViews(makeService({ progressIntervalMs: 3_600_000 }));
    expect(throttled.map((v) => v?.state)).toEqual(['running', 'done']);
    expect(throttled[0]!.bytes).toBe(0);
    // Unthrottled, the same download announces every progress step between those two.
    expect(every.filter((v) => v?.state === 'running' && v.bytes > 0).length).toBeGreaterThanOrEqual(3);
  });

  it('cancels mid-download keeping the partial file, and a second pull resumes it with a Range request', async () => {
    slowBigFile(hub, 40_000);
    const modelsDir = newModelsDir();
    const service = makeService({ modelsDir });
    await service.pull({ id: 'Tiny-Instruct', precision: 'q8' });
    await waitFor(service, (s) => download(s, 'Tiny-Instruct')?.file === bigFile && (download(s, 'Tiny-Instruct')?.bytesPerSecond ?? 0) > 0, 'the big file to flow');
    await service.cancel('Tiny-Instruct');

    // cancel resolves once the download has stopped.
    const cancelled = await service.snapshot();
    expect(download(cancelled, 'Tiny-Instruct')).toMatchObject({ state: 'cancelled' });
    expect(download(cancelled, 'Tiny-Instruct')!.message).toBeUndefined();
    expect(cancelled.installed).toEqual([expect.objectContaining({ id: 'Tiny-Instruct', complete: false })]);
    expect(await service.resolve('Tiny-Instruct')).toEqual({
      missing: 'Model "Tiny-Instruct" is only partly downloaded: open Models and resume its download.',
    });
    const kept = (await stat(partFile(modelsDir))).size;
    expect(kept).toBeGreaterThan(0);

    const before = hub.requests.length;
    await service.pull({ id: 'Tiny-Instruct', precision: 'q8' });
    const done = await waitFor(service, inState('Tiny-Instruct', 'done'), 'the resumed download to finish');
    expect(download(done, 'Tiny-Instruct')).toMatchObject({ bytes: repoBytes, total: repoBytes });
    // The CDN's log names the file in its (encoded) query; the Hub's in its path. Both saw the Range.
    const resumed = hub.requests.slice(before).filter((r) => r.url.includes(bigFile) || r.url.includes(encodeURIComponent(bigFile)));
    expect(resumed.map((r) => r.range)).toContain(`bytes=${kept}-`);
    expect(resumed.every((r) => r.range !== undefined)).toBe(true); // nothing fetched it from the start again
    expect(existsSync(partFile(modelsDir))).toBe(false);
  });

  it('a repo the Hub does not have fails with one line naming the fix', async () => {
    const service = makeService();
    await service.pull({ id: 'Missing-Instruct', precision: 'q8' });
    const failed = await waitFor(service, inState('Missing-Instruct', 'failed'), 'the download to fail');
    const message = download(failed, 'Missing-Instruct')!.message!;
    expect(message).toMatch(/^Model "test\/Missing-Instruct" was not found on 127\.0\.0\.1:\d+: check the model id/);
    expect(message).not.toContain('\n');
    expect(failed.installed).toEqual([]);
  });

  it('refuses an unknown id or precision up front, naming the fix', async () => {
    const service = makeService();
    await expect(service.pull({ id: 'NoSuchModel', precision: 'q8' })).rejects.toThrow(
      `Unknown model "NoSuchModel": choose one of ${testCatalogue.map((e) => e.id).join(', ')} in Models.`,
    );
    // An owner/name outside the catalogue is refused too: the view offers the catalogue only.
    await expect(service.pull({ id: 'someone/other-model', precision: 'q8' })).rejects.toThrow(/^Unknown model "someone\/other-model"/);
    await expect(service.pull({ id: 'Tiny-Instruct', precision: 'q7' as never })).rejects.toThrow(
      /^Unknown precision "q7": choose one of fp32, .*bnb4\.$/,
    );
    expect((await service.snapshot()).downloads).toEqual([]);
  });

  it('refuses a second pull of a model while it downloads, under either spelling', async () => {
    slowBigFile(hub, 40_000);
    const service = makeService();
    await service.pull({ id: 'Tiny-Instruct', precision: 'q8' });
    await expect(service.pull({ id: 'Tiny-Instruct', precision: 'q8' })).rejects.toThrow(
      'Tiny-Instruct is already downloading: wait for it to finish, or cancel it first.',
    );
    await expect(service.pull({ id: 'test/tiny-instruct', precision: 'fp32' })).rejects.toThrow(/already downloading/);
    const snapshot = await service.snapshot();
    expect(snapshot.downloads).toEqual([expect.objectContaining({ id: 'Tiny-Instruct', precision: 'q8', state: 'running' })]);
    await service.cancel('Tiny-Instruct');
  });

  it('imports a good folder as an installed model, and reports every missing file of a broken one', async () => {
    const service = makeService();
    let changes = 0;
    service.onChange(() => changes++);
    const good = path.join(root, 'import-good');
    await writeSmolVlmModel(good, { seed: 3, precisions: ['q8'] });
    const report = await service.import(good);
    expect(report).toEqual({
      dir: good,
      ok: true,
      family: 'smolvlm',
      precisions: ['q8'],
      missing: [],
      problems: [],
      // The import names the decoder's graph style and the fast path that applies (hub/import.ts decoderNotes).
      notes: [expect.stringMatching(/^Decoder graphs written as plain ONNX ops .*; fast path: .+ \(q8\)\.$/)],
      summary: `Model folder ${good} is ready: smolvlm, precisions q8; used in place, not copied.`,
    });
    expect(changes).toBe(1);
    expect((await service.snapshot()).installed).toEqual([expect.objectContaining({ id: 'import-good', dir: good, source: 'folder' })]);
    expect(await service.resolve('import-good')).toEqual({ dir: good });

    const broken = path.join(root, 'import-broken');
    await writeSmolVlmModel(broken, { seed: 4, precisions: ['q8'] });
    await unlink(path.join(broken, 'tokenizer.json'));
    await unlink(path.join(broken, 'onnx', 'embed_tokens_quantized.onnx'));
    const bad = await service.import(broken);
    expect(bad.ok).toBe(false);
    expect(bad.missing).toEqual(['tokenizer.json', path.join('onnx', 'embed_tokens_quantized.onnx')]);
    expect(bad.summary).toMatch(/cannot be used: missing tokenizer\.json, onnx.embed_tokens_quantized\.onnx\.$/);
    expect(changes).toBe(1); // nothing was recorded, so nothing changed
    expect((await service.snapshot()).installed.map((m) => m.id)).toEqual(['import-good']);

    // An imported folder whose files went away is not handed to the engine.
    await rm(good, { recursive: true });
    expect(await service.resolve('import-good')).toEqual({
      missing: `Model "import-good" has no model files in ${good} any more: import the folder again in Models.`,
    });
  });

  it('removes a downloaded model, and refuses while it downloads', async () => {
    const modelsDir = newModelsDir();
    const service = makeService({ modelsDir });
    await service.pull({ id: 'Tiny-Instruct', precision: 'q8' });
    await waitFor(service, inState('Tiny-Instruct', 'done'), 'the download to finish');
    await service.remove('Tiny-Instruct');
    const after = await service.snapshot();
    expect(after.installed).toEqual([]);
    expect(after.downloads).toEqual([]); // a 'done' for a model that is gone would mislead
    expect(existsSync(path.join(modelsDir, 'test--Tiny-Instruct'))).toBe(false);
    expect(await service.resolve('Tiny-Instruct')).toEqual({ missing: 'Model "Tiny-Instruct" is not installed: open Models and download it.' });

    slowBigFile(hub, 40_000);
    await service.pull({ id: 'Tiny-Instruct', precision: 'q8' });
    await waitFor(service, (s) => download(s, 'Tiny-Instruct')?.file === bigFile, 'the big file to start');
    await expect(service.remove('Tiny-Instruct')).rejects.toThrow('Tiny-Instruct is downloading: cancel its download first, then remove it.');
    expect(await service.resolve('Tiny-Instruct')).toEqual({ missing: 'Model "Tiny-Instruct" is still downloading: wait for it to finish in Models.' });
    expect(existsSync(partFile(modelsDir))).toBe(true);

    // Once cancelled, the partial download can be removed.
    await service.cancel('Tiny-Instruct');
    await service.remove('Tiny-Instruct');
    expect(existsSync(path.join(modelsDir, 'test--Tiny-Instruct'))).toBe(false);
    await expect(service.remove('Tiny-Instruct')).rejects.toThrow(/No installed model "Tiny-Instruct"/);
  });

  it('dispose cancels running downloads and stops announcing', async () => {
    slowBigFile(hub, 40_000);
    const modelsDir = newModelsDir();
    const service = makeService({ modelsDir });
    await service.pull({ id: 'Tiny-Instruct', precision: 'q8' });
    await waitFor(service, (s) => download(s, 'Tiny-Instruct')?.file === bigFile && (download(s, 'Tiny-Instruct')?.bytes ?? 0) > 0, 'the big file to flow');
    let changes = 0;
    service.onChange(() => changes++);
    service.dispose();

    // No listener runs any more, so poll.
    const deadline = Date.now() + 10_000;
    while (download(await service.snapshot(), 'Tiny-Instruct')?.state === 'running' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(download(await service.snapshot(), 'Tiny-Instruct')?.state).toBe('cancelled');
    const size = (await stat(partFile(modelsDir))).size;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await stat(partFile(modelsDir))).size).toBe(size); // nothing arrives any more
    expect(changes).toBe(0);
  });

  it('cancel of a model that is not downloading is a no-op; an absolute folder resolves as is', async () => {
    const service = makeService();
    await expect(service.cancel('Tiny-Instruct')).resolves.toBeUndefined();
    expect((await service.snapshot()).downloads).toEqual([]);
    const folder = path.join(root, 'some', 'export');
    expect(await service.resolve(folder)).toEqual({ dir: folder });
  });

  it('keeps announcing to the other listeners when one throws', async () => {
    const service = makeService();
    const calls: string[] = [];
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => errors.push(args);
    try {
      service.onChange(() => {
        throw new Error('closed window');
      });
      const off = service.onChange(() => calls.push('second'));
      const folder = path.join(root, 'listeners');
      await writeSmolVlmModel(folder, { seed: 5, precisions: ['q8'] });
      await service.import(folder);
      expect(calls).toEqual(['second']);
      off();
      await service.remove('listeners');
      expect(calls).toEqual(['second']); // unsubscribed
      expect(errors).toHaveLength(2);
    } finally {
      console.error = original;
    }
  });
});
