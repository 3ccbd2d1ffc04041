import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ScreenAskError } from '../../native-models/index.js';
import { openSettingsStore, settingsMigrations, type SettingsFileSystem } from '../../electron/main/settings-store.js';
import { SETTINGS_VERSION, defaultSettings, type Settings } from '../../electron/shared/settings.js';

let dir: string;
const fixedNow = () => new Date('2025-03-04T05:06:07.089Z');
const asideName = 'settings.corrupt-2025-03-04T05-06-07-089Z.json';

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'screenask-settings-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const settingsFile = () => path.join(dir, 'settings.json');
const readStored = async (): Promise<Record<string, unknown>> => JSON.parse(await readFile(settingsFile(), 'utf8'));
const writeStored = (data: unknown) => writeFile(settingsFile(), typeof data === 'string' ? data : JSON.stringify(data));

describe('settings store', () => {
  it('starts from the defaults without a file, and writes nothing until something changes', async () => {
    const store = await openSettingsStore(dir);
    expect(store.get()).toEqual(defaultSettings);
    expect(store.problems).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
  });

  it('round-trips an update through the file, with the version stamped', async () => {
    const store = await openSettingsStore(dir);
    const result = await store.update({ temperature: 0.7, hotkey: 'ctrl+alt+q', model: '/models/smolvlm' });
    expect(result).toEqual({ ok: true, settings: { ...defaultSettings, temperature: 0.7, hotkey: 'Control+Alt+Q', model: '/models/smolvlm' } });
    expect(await readStored()).toEqual({ version: SETTINGS_VERSION, ...store.get() });
    const reopened = await openSettingsStore(dir);
    expect(reopened.get()).toEqual(store.get());
    expect(reopened.problems).toEqual([]);
  });

  it('refuses an invalid patch with field errors and changes nothing', async () => {
    const store = await openSettingsStore(dir);
    const seen: Settings[] = [];
    store.onChange((s) => seen.push(s));
    const result = await store.update({ temperature: 9, topK: 3 });
    expect(result).toEqual({ ok: false, errors: [{ field: 'temperature', message: 'Temperature must be at most 5 (got 9).' }] });
    expect(store.get()).toEqual(defaultSettings);
    expect(seen).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
  });

  it('tells listeners about real changes only, and lets them unsubscribe', async () => {
    const store = await openSettingsStore(dir);
    const calls: [Settings, Settings][] = [];
    const off = store.onChange((next, previous) => calls.push([next, previous]));
    await store.update({ useCache: false });
    await store.update({ useCache: false }); // no change: no call
    expect(calls).toHaveLength(1);
    expect(calls[0]![0].useCache).toBe(false);
    expect(calls[0]![1].useCache).toBe(true);
    off();
    await store.update({ useCache: true });
    expect(calls).toHaveLength(1);
  });

  it('a listener that throws does not fail the update', async () => {
    const store = await openSettingsStore(dir);
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => errors.push(args);
    try {
      store.onChange(() => {
        throw new Error('boom');
      });
      expect((await store.update({ topK: 7 })).ok).toBe(true);
    } finally {
      console.error = original;
    }
    expect(store.get().topK).toBe(7);
    expect(errors).toHaveLength(1);
  });

  it('applies concurrent updates in turn, so none is lost', async () => {
    const store = await openSettingsStore(dir);
    const results = await Promise.all([
      store.update({ temperature: 1 }),
      store.update({ topK: 5 }),
      store.update({ imageDetail: 'high' }),
      store.update({ hotkey: null }),
    ]);
    expect(results.every((r) => r.ok)).toBe(true);
    const expected = { ...defaultSettings, temperature: 1, topK: 5, imageDetail: 'high', hotkey: null };
    expect(store.get()).toEqual(expected);
    expect(await readStored()).toEqual({ version: SETTINGS_VERSION, ...expected });
    expect((await readdir(dir)).sort()).toEqual(['settings.json']); // no temp files left
  });

  it('a crash between the temp write and the rename leaves the old file intact', async () => {
    const first = await openSettingsStore(dir);
    await first.update({ temperature: 0.5 });
    const before = await readFile(settingsFile(), 'utf8');

    // The "crash": the temp file is written and fsynced, then the rename never happens.
    let tempWritten = '';
    const crashing: Partial<SettingsFileSystem> = {
      rename: async (from) => {
        tempWritten = await readFile(from, 'utf8');
        throw Object.assign(new Error('simulated crash'), { code: 'EIO' });
      },
    };
    const store = await openSettingsStore(dir, { fs: crashing });
    await expect(store.update({ temperature: 2 })).rejects.toBeInstanceOf(ScreenAskError);
    expect(JSON.parse(tempWritten).temperature).toBe(2); // the new content was complete in the temp file
    expect(await readFile(settingsFile(), 'utf8')).toBe(before);
    expect(store.get().temperature).toBe(0.5); // the failed update did not change the settings in memory either

    // A real crash leaves the temp file behind; the next start reads the old settings and removes the litter.
    await writeFile(path.join(dir, 'settings.json.999-0.tmp'), '{"version":2,"temperat');
    const after = await openSettingsStore(dir);
    expect(after.get().temperature).toBe(0.5);
    expect(after.problems).toEqual([]);
    expect(await readdir(dir)).toEqual(['settings.json']);
  });

  it('keeps serving updates after one failed write', async () => {
    let fail = true;
    const store = await openSettingsStore(dir, {
      fs: {
        rename: async (from, to) => {
          if (fail) throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
          const { rename } = await import('node:fs/promises');
          return rename(from, to);
        },
      },
    });
    const failing = store.update({ topK: 1 });
    const next = store.update({ topP: 0.9 });
    await expect(failing).rejects.toThrow(/the disk is full/);
    fail = false;
    await expect(next).resolves.toMatchObject({ ok: true });
    expect(store.get()).toMatchObject({ topK: null, topP: 0.9 });
  });

  it('migrates a version 1 file (maxTokens, kvCache, empty hotkey) and saves it as the current version', async () => {
    expect(settingsMigrations).toHaveLength(SETTINGS_VERSION - 1);
    await writeStored({
      version: 1,
      model: 'HuggingFaceTB/SmolVLM-256M-Instruct',
      precision: 'q8',
      device: 'cpu',
      maxTokens: 300,
      temperature: 0,
      topK: null,
      topP: null,
      repetitionPenalty: 1.1,
      kvCache: false,
      imageDetail: 'high',
      hotkey: '',
      saveScreenshotsInHistory: true,
    });
    const store = await openSettingsStore(dir);
    const expected: Settings = {
      ...defaultSettings,
      model: 'HuggingFaceTB/SmolVLM-256M-Instruct',
      precision: 'q8',
      device: 'cpu',
      maxNewTokens: 300,
      temperature: 0,
      repetitionPenalty: 1.1,
      useCache: false,
      imageDetail: 'high',
      hotkey: null,
      saveScreenshotsInHistory: true,
    };
    expect(store.problems).toEqual([]);
    expect(store.get()).toEqual(expected);
    expect(await readStored()).toEqual({ version: SETTINGS_VERSION, ...expected });
  });

  it('reads a file without a version as version 1', async () => {
    await writeStored({ maxTokens: 64, kvCache: true, hotkey: 'Alt+Space' });
    const store = await openSettingsStore(dir);
    expect(store.problems).toEqual([]);
    expect(store.get()).toEqual({ ...defaultSettings, maxNewTokens: 64, useCache: true, hotkey: 'Alt+Space' });
  });

  it('migrates a version 2 file to the current version: answers stay on this computer, no server named or confirmed', async () => {
    const v2 = {
      version: 2,
      model: 'SmolVLM-256M-Instruct',
      precision: 'q4',
      device: 'cpu',
      maxNewTokens: 200,
      temperature: 0.2,
      topK: null,
      topP: 0.9,
      repetitionPenalty: null,
      useCache: true,
      imageDetail: 'high',
      hotkey: 'Alt+Space',
      saveScreenshotsInHistory: false,
    };
    await writeStored(v2);
    const store = await openSettingsStore(dir);
    const { version: _, ...fields } = v2;
    const expected = { ...fields, backend: 'local', serverUrl: null, serverModel: null, confirmedServers: [], serveModel: false, servePort: 8080 };
    expect(store.problems).toEqual([]);
    expect(store.get()).toEqual(expected);
    // Saved at once as the current version, so the next start reads it as it is.
    expect(await readStored()).toEqual({ version: SETTINGS_VERSION, ...expected });
  });

  it('the v2 → v3 step keeps a server a hand-edited v2 file already names, and v1 files pass through both steps', async () => {
    const v2ToV3 = settingsMigrations[1]!;
    expect(v2ToV3({ backend: 'server', serverUrl: 'http://gpu-box:8000/v1' })).toEqual({
      backend: 'server',
      serverUrl: 'http://gpu-box:8000/v1',
      serverModel: null,
      confirmedServers: [],
    });
    await writeStored({ version: 1, maxTokens: 64, hotkey: '' });
    const store = await openSettingsStore(dir);
    expect(store.problems).toEqual([]);
    expect(store.get()).toEqual({ ...defaultSettings, maxNewTokens: 64, hotkey: null, backend: 'local', serverUrl: null });
    expect((await readStored()).version).toBe(SETTINGS_VERSION);
  });

  it('migrates a version 3 file to version 4: the model is not served (nothing listens) until the user switches it on', async () => {
    const v3 = {
      version: 3,
      ...Object.fromEntries(Object.entries(defaultSettings).filter(([key]) => key !== 'serveModel' && key !== 'servePort')),
      model: 'SmolVLM-256M-Instruct',
      backend: 'server',
      serverUrl: 'http://gpu-box:8000/v1',
      serverModel: 'qwen',
      confirmedServers: ['http://gpu-box:8000/v1'],
    };
    await writeStored(v3);
    const store = await openSettingsStore(dir);
    const { version: _, ...fields } = v3;
    expect(store.problems).toEqual([]);
    expect(store.get()).toEqual({ ...fields, serveModel: false, servePort: 8080 });
    expect(await readStored()).toEqual({ version: 4, ...fields, serveModel: false, servePort: 8080 });
    // The step keeps what a hand-edited v3 file already says.
    expect(settingsMigrations[2]!({ serveModel: true, servePort: 0 })).toEqual({ serveModel: true, servePort: 0 });
  });

  it('serving is off by default, on port 8080; the port is 0 or 1024–65535, and a bad one is refused by name', async () => {
    const store = await openSettingsStore(dir);
    expect(store.get()).toMatchObject({ serveModel: false, servePort: 8080 });
    expect(await store.update({ serveModel: true, servePort: 0 })).toMatchObject({ ok: true, settings: { serveModel: true, servePort: 0 } });
    expect(await store.update({ servePort: 65535 })).toMatchObject({ ok: true, settings: { servePort: 65535 } });
    for (const port of [80, 1023, 65536, -1]) {
      expect(await store.update({ servePort: port })).toEqual({
        ok: false,
        errors: [{ field: 'servePort', message: 'Port: must be from 1024 to 65535, or 0 for any free port.' }],
      });
    }
    expect(await store.update({ servePort: 8080.5 })).toEqual({ ok: false, errors: [{ field: 'servePort', message: 'Port must be a whole number (got 8080.5).' }] });
    expect(await store.update({ servePort: '8080' })).toEqual({ ok: false, errors: [{ field: 'servePort', message: 'Port must be a number (got "8080").' }] });
    expect(await store.update({ serveModel: 'yes' })).toMatchObject({ ok: false, errors: [{ field: 'serveModel' }] });
    expect((await openSettingsStore(dir)).get()).toMatchObject({ serveModel: true, servePort: 65535 });
    // A hand edit to a bad port resets that field alone.
    await writeStored({ version: 4, ...defaultSettings, serveModel: true, servePort: 22 });
    const reopened = await openSettingsStore(dir);
    expect(reopened.get()).toMatchObject({ serveModel: true, servePort: 8080 });
    expect(reopened.problems.join('\n')).toContain('Port');
  });

  it('a server setting round-trips; the URL is stored in one spelling; the API key is not a setting', async () => {
    const store = await openSettingsStore(dir);
    const result = await store.update({ backend: 'server', serverUrl: ' http://GPU-box:8000/v1/ ', serverModel: 'Qwen/Qwen2.5-VL-7B-Instruct' });
    expect(result).toMatchObject({ ok: true, settings: { backend: 'server', serverUrl: 'http://gpu-box:8000/v1', serverModel: 'Qwen/Qwen2.5-VL-7B-Instruct' } });
    expect((await openSettingsStore(dir)).get()).toEqual(store.get());
    expect(await store.update({ apiKey: 'sk-secret' })).toEqual({ ok: false, errors: [{ field: '', message: '"apiKey" is not a setting ScreenAsk knows.' }] });
    expect(await readFile(settingsFile(), 'utf8')).not.toContain('sk-secret');
  });

  it('sets a corrupt JSON file aside, uses the defaults and reports it in one line', async () => {
    await writeStored('{"version": 2, "temperature": 0.');
    const store = await openSettingsStore(dir, { now: fixedNow });
    expect(store.get()).toEqual(defaultSettings);
    expect(store.problems).toEqual([
      `settings.json is not valid JSON; it was set aside as ${asideName} and the default settings are in use.`,
    ]);
    expect(await readdir(dir)).toEqual([asideName]);
    expect(await readFile(path.join(dir, asideName), 'utf8')).toBe('{"version": 2, "temperature": 0.');

    // A second corrupt file in the same millisecond does not overwrite the first copy.
    await writeStored('[]');
    const again = await openSettingsStore(dir, { now: fixedNow });
    expect(again.problems[0]).toMatch(/does not hold a settings object; it was set aside as settings\.corrupt-2025-03-04T05-06-07-089Z-1\.json/);
  });

  it('sets aside a file from a newer version instead of guessing or overwriting it', async () => {
    const future = { version: SETTINGS_VERSION + 1, temperature: 0.3, brandNewSetting: true };
    await writeStored(future);
    const store = await openSettingsStore(dir, { now: fixedNow });
    expect(store.get()).toEqual(defaultSettings);
    expect(store.problems).toEqual([
      `settings.json was written by a newer ScreenAsk (settings version 5; this one reads up to 4); it was set aside as ${asideName} and the default settings are in use.`,
    ]);
    expect(JSON.parse(await readFile(path.join(dir, asideName), 'utf8'))).toEqual(future);
    await store.update({ topK: 3 });
    expect(JSON.parse(await readFile(path.join(dir, asideName), 'utf8'))).toEqual(future);
  });

  it('resets only the invalid fields of a readable file, keeps the original aside, and names the fields', async () => {
    await writeStored({ version: 2, temperature: 9, topK: 20, hotkey: 'Q', device: 'cpu', colour: 'red' });
    const store = await openSettingsStore(dir, { now: fixedNow });
    expect(store.get()).toEqual({ ...defaultSettings, topK: 20, device: 'cpu' });
    expect(store.problems).toHaveLength(1);
    const [problem] = store.problems;
    expect(problem).toMatch(/^Some settings were invalid and are back to their defaults: Temperature must be at most 5 \(got 9\); /);
    expect(problem).toContain('Hotkey: Add CommandOrControl');
    expect(problem).toContain('"colour" is not a setting ScreenAsk knows');
    expect(problem).toContain(`the original file was kept as ${asideName}`);
    expect(problem).not.toContain('\n');
    expect(await readStored()).toEqual({ version: SETTINGS_VERSION, ...store.get() }); // the repaired file is saved
    expect((await readdir(dir)).sort()).toEqual([asideName, 'settings.json']);
  });

  it('sets aside an invalid version number', async () => {
    await writeStored({ version: 'two' });
    const store = await openSettingsStore(dir, { now: fixedNow });
    expect(store.problems[0]).toMatch(/^settings\.json has an invalid version \("two"\); it was set aside/);
  });

  it('never throws when the settings cannot be read', async () => {
    await rm(dir, { recursive: true });
    await writeFile(dir, 'a file where the folder should be');
    const store = await openSettingsStore(dir);
    expect(store.get()).toEqual(defaultSettings);
    expect(store.problems).toEqual([
      `Could not read ${path.join(dir, 'settings.json')} (part of the path is a file, not a folder); using the default settings.`,
    ]);
    await rm(dir);
  });

  it('gives a one-line ScreenAskError when the folder cannot be written', async () => {
    // Tests may run as root, which ignores permission bits; a file in place of the folder fails for everyone.
    const blocked = path.join(dir, 'not-a-folder');
    await writeFile(blocked, '');
    const store = await openSettingsStore(blocked);
    const error = await store.update({ topK: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScreenAskError);
    expect((error as Error).message).toMatch(/^Could not save settings to .*not-a-folder.settings\.json: .+\. Check that the folder exists and is writable\.$/);
    expect((error as Error).message).not.toContain('\n');
    expect(store.get()).toEqual(defaultSettings);
  });

  it('creates a missing folder on the first update', async () => {
    const nested = path.join(dir, 'a', 'b');
    const store = await openSettingsStore(nested);
    await store.update({ topK: 2 });
    expect(JSON.parse(await readFile(path.join(nested, 'settings.json'), 'utf8')).topK).toBe(2);
  });
});
