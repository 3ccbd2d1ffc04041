// The server's API key: encrypted with safeStorage in its own file, never in plain text on disk (every file in the
// folder is read back and searched), never given to another server, and kept in memory only where safeStorage
// cannot protect it, with the reason for the page.
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SERVER_KEY_FILE, openServerKeyStore } from '../../electron/main/server-key-store.js';
import { openSettingsStore } from '../../electron/main/settings-store.js';
import { FakeSafeStorage } from './fakes.js';

const KEY = 'sk-live-0123456789abcdefSECRET';
const SERVER = 'http://gpu-box:8000/v1';
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'screenask-key-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every file in the folder, as bytes: what a thief with the disk would have. */
async function everythingOnDisk(): Promise<Buffer> {
  const names = await readdir(dir);
  return Buffer.concat(await Promise.all(names.map((name) => readFile(path.join(dir, name)))));
}

function expectNoPlainKey(bytes: Buffer): void {
  for (const form of [KEY, Buffer.from(KEY).toString('base64'), Buffer.from(KEY).toString('hex'), 'SECRET']) {
    expect(bytes.includes(form), form).toBe(false);
  }
}

describe('the API key store', () => {
  it('encrypts the key with safeStorage into its own file, and reads it back after a restart', async () => {
    const safeStorage = new FakeSafeStorage();
    const store = await openServerKeyStore({ dir, safeStorage, platform: 'linux' });
    expect(store.state(SERVER)).toEqual({ set: false, kept: 'encrypted' });
    expect(await store.set(SERVER, KEY)).toEqual({ set: true, kept: 'encrypted' });
    expect(safeStorage.encrypted).toEqual([KEY]);
    expect(await readdir(dir)).toEqual([SERVER_KEY_FILE]);
    expectNoPlainKey(await everythingOnDisk());
    if (process.platform !== 'win32') expect((await stat(path.join(dir, SERVER_KEY_FILE))).mode & 0o777).toBe(0o600);

    const reopened = await openServerKeyStore({ dir, safeStorage, platform: 'linux' });
    expect(reopened.problems).toEqual([]);
    expect(reopened.key(SERVER)).toBe(KEY);
    expect(reopened.state(SERVER)).toEqual({ set: true, kept: 'encrypted' });
  });

  it('is not the settings file: settings saved beside it hold no key either', async () => {
    const store = await openServerKeyStore({ dir, safeStorage: new FakeSafeStorage(), platform: 'darwin' });
    const settings = await openSettingsStore(dir);
    await settings.update({ backend: 'server', serverUrl: SERVER, serverModel: 'qwen2.5-vl-7b' });
    await store.set(SERVER, KEY);
    expect((await readdir(dir)).sort()).toEqual(['server-key.json', 'settings.json']);
    expectNoPlainKey(await everythingOnDisk());
  });

  it('gives the key only for the server it was entered for (another host, port or scheme gets none)', async () => {
    const store = await openServerKeyStore({ dir, safeStorage: new FakeSafeStorage(), platform: 'win32' });
    await store.set(SERVER, KEY);
    expect(store.key('http://gpu-box:8000/v2')).toBe(KEY); // the same server, another path
    for (const other of ['http://evil.example:8000/v1', 'http://gpu-box:8001/v1', 'https://gpu-box:8000/v1', null]) {
      expect(store.key(other), String(other)).toBeUndefined();
      expect(store.state(other).set).toBe(false);
    }
  });

  it('forgets the key on disk and in memory', async () => {
    const store = await openServerKeyStore({ dir, safeStorage: new FakeSafeStorage(), platform: 'linux' });
    await store.set(SERVER, KEY);
    expect(await store.clear()).toEqual({ set: false, kept: 'encrypted' });
    expect(store.key(SERVER)).toBeUndefined();
    expect(await readdir(dir)).toEqual([]);
  });

  it('without encryption available: keeps the key until quit, writes nothing, and says why', async () => {
    const safeStorage = new FakeSafeStorage();
    safeStorage.available = false;
    const store = await openServerKeyStore({ dir, safeStorage, platform: 'linux' });
    const state = await store.set(SERVER, KEY);
    expect(state).toMatchObject({ set: true, kept: 'until-quit' });
    expect(state.note).toMatch(/no encrypted storage.*never saved in plain text/);
    expect(store.key(SERVER)).toBe(KEY);
    expect(await readdir(dir)).toEqual([]);
    expect((await openServerKeyStore({ dir, safeStorage, platform: 'linux' })).key(SERVER)).toBeUndefined();
  });

  it("on Linux with Electron's basic_text fallback (no keyring): treats it as weak, keeps the key until quit and says so", async () => {
    const safeStorage = new FakeSafeStorage();
    safeStorage.backend = 'basic_text';
    const store = await openServerKeyStore({ dir, safeStorage, platform: 'linux' });
    const state = await store.set(SERVER, KEY);
    expect(state).toMatchObject({ set: true, kept: 'until-quit' });
    expect(state.note).toMatch(/No keyring.*publicly known password.*as weak as plain text/);
    expect(safeStorage.encrypted).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
  });

  it('without safeStorage (the browser harness): memory only, and the page is told', async () => {
    const store = await openServerKeyStore({ dir, safeStorage: undefined, platform: 'linux' });
    expect(store.state(SERVER)).toMatchObject({ set: false, kept: 'until-quit', note: expect.stringMatching(/harness has no safeStorage/) });
    await store.set(SERVER, KEY);
    expect(await readdir(dir)).toEqual([]);
  });

  it('a damaged or undecryptable file means no key, reported in one line each', async () => {
    await writeFile(path.join(dir, SERVER_KEY_FILE), '{"version":1,"origin":');
    const damaged = await openServerKeyStore({ dir, safeStorage: new FakeSafeStorage(), platform: 'linux' });
    expect(damaged.problems).toEqual([`${SERVER_KEY_FILE} is damaged: enter the server's API key again in Settings.`]);
    expect(damaged.key(SERVER)).toBeUndefined();

    // Encrypted by another keychain (another user, a reinstalled system).
    await (await openServerKeyStore({ dir, safeStorage: new FakeSafeStorage(), platform: 'linux' })).set(SERVER, KEY);
    const foreign = await openServerKeyStore({ dir, safeStorage: new FakeSafeStorage(), platform: 'linux' });
    expect(foreign.problems).toHaveLength(1);
    expect(foreign.problems[0]).toMatch(/^The saved API key could not be decrypted \(.*\): enter it again in Settings\.$/);
    expect(foreign.key(SERVER)).toBeUndefined();
  });

  it('re-encrypts when the keychain asks (a rotated key)', async () => {
    const safeStorage = new FakeSafeStorage();
    await (await openServerKeyStore({ dir, safeStorage, platform: 'darwin' })).set(SERVER, KEY);
    const before = await readFile(path.join(dir, SERVER_KEY_FILE), 'utf8');
    safeStorage.rotated = true;
    const reopened = await openServerKeyStore({ dir, safeStorage, platform: 'darwin' });
    expect(reopened.key(SERVER)).toBe(KEY);
    expect(safeStorage.encrypted).toEqual([KEY, KEY]);
    expect(await readFile(path.join(dir, SERVER_KEY_FILE), 'utf8')).not.toBe(before);
  });

  it('refuses a key before a server address', async () => {
    const store = await openServerKeyStore({ dir, safeStorage: new FakeSafeStorage(), platform: 'linux' });
    await expect(store.set('', KEY)).rejects.toThrow('Enter the server address before its API key.');
  });
});
