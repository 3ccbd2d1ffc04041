/**
 * The API key of the server answers come from, kept apart from the settings: `server-key.json` in userData holds the
 * key encrypted by Electron's safeStorage (the system keychain, DPAPI or the desktop's keyring), with the server it
 * belongs to. It is never written in plain text: where safeStorage cannot protect it, the key is kept in memory until
 * the app quits and the page is told why.
 *
 * - A key belongs to one server (the origin of the address it was entered for): changing the address to another
 *   server does not send it there; the page shows "no key" for that server until one is entered for it.
 * - `weak`: on Linux without a keyring Electron falls back to 'basic_text', encryption with a fixed password that is
 *   in Chromium's source: as good as plain text on disk, so ScreenAsk treats it as unavailable.
 * - The key itself never leaves the main process: pages learn only whether one is set (`state`).
 * - The file is replaced atomically and readable only by its owner (0600 on POSIX). A damaged or undecryptable file
 *   (another user's keychain, a reinstalled system) is reported in `problems` and treated as no key: the user enters
 *   it again.
 */
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import { ScreenAskError, firstLine } from '../../native-models/model/errors.js';
import type { ServerKeyState } from '../shared/ipc.js';
import { describeFsError, writeFileAtomic, type SettingsFileSystem } from './settings-store.js';

export const SERVER_KEY_FILE = 'server-key.json';
const FILE_VERSION = 1;

/** Electron's safeStorage, as far as this store uses it (signatures as in electron.d.ts). */
export interface SafeStorageLike {
  isAsyncEncryptionAvailable(): Promise<boolean>;
  encryptStringAsync(plainText: string): Promise<Buffer>;
  decryptStringAsync(encrypted: Buffer): Promise<{ shouldReEncrypt: boolean; result: string }>;
  getSelectedStorageBackend(): 'basic_text' | 'gnome_libsecret' | 'kwallet' | 'kwallet5' | 'kwallet6' | 'unknown';
}

export interface ServerKeyStoreOptions {
  /** The user data folder. */
  readonly dir: string;
  /** Electron's safeStorage; undefined where there is none (the web harness): keys are then kept in memory only. */
  readonly safeStorage: SafeStorageLike | undefined;
  readonly platform: NodeJS.Platform;
  /** Why there is no safeStorage, for the page (default: a browser harness). */
  readonly noStorageNote?: string;
}

export interface ServerKeyStore {
  /** One line per problem found while opening (a damaged or undecryptable key file). */
  readonly problems: readonly string[];
  /** What the page may know about the key for `serverUrl` (whether one is set, where it is kept). */
  state(serverUrl: string | null): ServerKeyState;
  /** The key for `serverUrl`'s server, or undefined (none, or one entered for another server). Main process only. */
  key(serverUrl: string | null): string | undefined;
  /** Keeps `key` for `serverUrl`'s server (replacing any other); rejects with one line when it cannot be saved. */
  set(serverUrl: string, key: string): Promise<ServerKeyState>;
  /** Forgets the key, on disk and in memory. */
  clear(): Promise<ServerKeyState>;
}

const HARNESS_NOTE = 'This browser harness has no safeStorage: the key is kept in memory until the harness stops, never on disk.';
const UNAVAILABLE_NOTE =
  'This system offers ScreenAsk no encrypted storage, and the key is never saved in plain text: it is kept until you quit, then you enter it again.';
const BASIC_TEXT_NOTE =
  'No keyring (GNOME Keyring, KWallet) was found: Electron would encrypt the key with a fixed, publicly known password, which is as weak as plain text, so ScreenAsk keeps it only until you quit. Install and unlock a keyring to keep it.';

/** The server a key belongs to: scheme, host and port. */
function originOf(serverUrl: string | null): string | undefined {
  if (serverUrl === null) return undefined;
  try {
    return new URL(serverUrl).origin;
  } catch {
    return undefined;
  }
}

interface KeyFile {
  readonly version: number;
  readonly origin: string;
  /** base64 of safeStorage's encrypted bytes. */
  readonly encrypted: string;
}

function parseKeyFile(text: string): KeyFile | undefined {
  try {
    const data = JSON.parse(text) as Partial<KeyFile> | null;
    if (data && data.version === FILE_VERSION && typeof data.origin === 'string' && typeof data.encrypted === 'string') {
      return { version: data.version, origin: data.origin, encrypted: data.encrypted };
    }
  } catch {
    // Reported below as damaged.
  }
  return undefined;
}

export async function openServerKeyStore(options: ServerKeyStoreOptions): Promise<ServerKeyStore> {
  const { safeStorage, platform } = options;
  const file = path.join(options.dir, SERVER_KEY_FILE);
  const fs: SettingsFileSystem = fsp;
  const problems: string[] = [];

  // Where keys can go: encrypted on disk, or memory with the reason.
  let note: string | undefined;
  if (!safeStorage) note = options.noStorageNote ?? HARNESS_NOTE;
  else if (platform === 'linux' && safeStorage.getSelectedStorageBackend() === 'basic_text') note = BASIC_TEXT_NOTE;
  else if (!(await safeStorage.isAsyncEncryptionAvailable())) note = UNAVAILABLE_NOTE;
  const persistent = note === undefined;

  let current: { origin: string; key: string } | undefined;

  if (persistent && safeStorage) {
    const text = await fsp.readFile(file, 'utf8').catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`Could not read the API key file ${file} (${describeFsError(error)}): enter the key again in Settings.`);
      return undefined;
    });
    if (text !== undefined) {
      const stored = parseKeyFile(text);
      if (!stored) problems.push(`${SERVER_KEY_FILE} is damaged: enter the server's API key again in Settings.`);
      else {
        try {
          const { result, shouldReEncrypt } = await safeStorage.decryptStringAsync(Buffer.from(stored.encrypted, 'base64'));
          current = { origin: stored.origin, key: result };
          if (shouldReEncrypt) await write(current).catch(() => {});
        } catch (error) {
          problems.push(`The saved API key could not be decrypted (${firstLine(error)}): enter it again in Settings.`);
        }
      }
    }
  }

  async function write(entry: { origin: string; key: string }): Promise<void> {
    const encrypted = await safeStorage!.encryptStringAsync(entry.key);
    const content: KeyFile = { version: FILE_VERSION, origin: entry.origin, encrypted: encrypted.toString('base64') };
    await fsp.mkdir(options.dir, { recursive: true });
    await writeFileAtomic(fs, file, `${JSON.stringify(content)}\n`, 0o600);
  }

  function state(serverUrl: string | null): ServerKeyState {
    const origin = originOf(serverUrl);
    return {
      set: current !== undefined && origin !== undefined && current.origin === origin,
      kept: persistent ? 'encrypted' : 'until-quit',
      ...(note ? { note } : {}),
    };
  }

  return {
    problems,
    state,
    key: (serverUrl) => {
      const origin = originOf(serverUrl);
      return current && origin !== undefined && current.origin === origin ? current.key : undefined;
    },
    async set(serverUrl, key) {
      const origin = originOf(serverUrl);
      if (origin === undefined) throw new ScreenAskError('Enter the server address before its API key.');
      const entry = { origin, key };
      if (persistent) {
        try {
          await write(entry);
        } catch (error) {
          throw new ScreenAskError(`Could not save the API key: ${describeFsError(error)}.`, { cause: error });
        }
      }
      current = entry;
      return state(serverUrl);
    },
    async clear() {
      current = undefined;
      try {
        await fsp.rm(file, { force: true });
      } catch (error) {
        throw new ScreenAskError(`Could not delete the saved API key ${file}: ${describeFsError(error)}.`, { cause: error });
      }
      return state(null);
    },
  };
}
