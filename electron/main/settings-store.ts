/**
 * The settings file: `settings.json` in a folder (Electron's userData in the app, a temp folder in tests).
 *
 * Guarantees:
 * - Reading never throws. A missing file means defaults; an unreadable or corrupt one is set aside
 *   (`settings.corrupt-<timestamp>.json`, so nothing the user had is deleted) and reported in `problems`, one line each,
 *   for the app to show once.
 * - Writing is atomic: a temp file in the same folder (same file system, so the rename is atomic), fsynced, then
 *   renamed over `settings.json`. A crash at any point leaves either the old file or the new one, never half of each.
 * - Updates are serialized: each one applies its patch to the result of the previous one, so two concurrent changes
 *   (say the hotkey from one window and the temperature from another) both land.
 *
 * Corruption policy, chosen field by field rather than all or nothing: a file that is not JSON, not an object, or has
 * a version this build cannot read is set aside whole and the defaults are used. A readable file of a known version
 * with some invalid fields (a hand edit such as `"temperature": 9`) keeps its valid fields; only the invalid ones
 * fall back to their defaults, the original is still set aside for reference, and the report names each field.
 * Losing every preference because one number is out of range would be a worse surprise than the bad number.
 */
import * as fsp from 'node:fs/promises';
import path from 'node:path';
import { ScreenAskError, firstLine } from '../../native-models/model/errors.js';
import {
  SETTINGS_VERSION,
  defaultSettings,
  settingsSchema,
  validateSettingsPatch,
  type Settings,
  type SettingsUpdateResult,
} from '../shared/settings.js';

export const SETTINGS_FILE = 'settings.json';

export type { SettingsUpdateResult };

export type SettingsListener = (settings: Settings, previous: Settings) => void;

export interface SettingsStore {
  /** The settings file's full path. */
  readonly file: string;
  /** One line per problem found while opening (corrupt file set aside, fields reset, folder unreadable). */
  readonly problems: readonly string[];
  /** The current settings (frozen). */
  get(): Settings;
  /**
   * Validates and saves a change. Invalid input resolves with per-field errors and changes nothing; a folder that
   * cannot be written rejects with a one-line ScreenAskError and also changes nothing.
   */
  update(patch: unknown): Promise<SettingsUpdateResult>;
  /** Called after each saved change that altered something; returns the unsubscribe function. */
  onChange(listener: SettingsListener): () => void;
}

/** The file operations the store uses; tests replace some to simulate a crash or a failing disk. */
export type SettingsFileSystem = Pick<typeof fsp, 'readFile' | 'open' | 'rename' | 'unlink' | 'mkdir' | 'readdir' | 'access'>;

export interface SettingsStoreOptions {
  /** Clock for the corrupt file's timestamp. */
  readonly now?: () => Date;
  readonly fs?: Partial<SettingsFileSystem>;
}

// ---------------------------------------------------------------------------------------------------------------
// Migrations

type RawSettings = Record<string, unknown>;

/**
 * `settingsMigrations[i]` turns a version i+1 object into version i+2. Each works on plain objects and never throws
 * on odd values: the schema check after the last step decides what is valid.
 *
 * Version 1 (the 0.1 development builds):
 *   { version: 1, model, precision, device, maxTokens, temperature, topK, topP, repetitionPenalty, kvCache,
 *     imageDetail, hotkey, saveScreenshotsInHistory }
 *   where `hotkey: ""` meant "no shortcut".
 * Version 2: `maxTokens` → `maxNewTokens` and `kvCache` → `useCache`, the engine's own option names, so the
 *   settings and the engine share one schema; "no shortcut" is `hotkey: null`.
 * Version 3: where answers come from: `backend` ('local' | 'server'), `serverUrl`, `serverModel` and
 *   `confirmedServers`. A version 2 file answers on this computer, with no server named and none confirmed; the API
 *   key never lives here (server-key-store.ts).
 * Version 4 (now): `serveModel` (serve the loaded model to other programs, on 127.0.0.1) and `servePort`. A version 3
 *   file does not serve: nothing listens unless the user switches it on.
 */
export const settingsMigrations: readonly ((raw: RawSettings) => RawSettings)[] = [
  function v1ToV2(raw) {
    const { maxTokens, kvCache, ...rest } = raw;
    const next: RawSettings = { ...rest };
    // A hand-edited file may carry both spellings; the new name is the one the user meant last.
    if (!('maxNewTokens' in next) && maxTokens !== undefined) next.maxNewTokens = maxTokens;
    if (!('useCache' in next) && kvCache !== undefined) next.useCache = kvCache;
    if (next.hotkey === '') next.hotkey = null;
    return next;
  },
  function v2ToV3(raw) {
    // Written out rather than left to the defaults: whatever a newer default may become, a file from before servers
    // existed keeps answering on this computer.
    return { backend: 'local', serverUrl: null, serverModel: null, confirmedServers: [], ...raw };
  },
  function v3ToV4(raw) {
    // Written out, like v2ToV3: a file from before the switch existed never starts listening on a port.
    return { serveModel: false, servePort: 8080, ...raw };
  },
];
if (settingsMigrations.length !== SETTINGS_VERSION - 1) {
  // A bumped SETTINGS_VERSION without its migration would silently mis-read old files.
  throw new Error(`settings: ${settingsMigrations.length} migrations for version ${SETTINGS_VERSION}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

interface Loaded {
  readonly settings: Settings;
  readonly problems: string[];
  /** The file should be rewritten now (migrated or repaired), so the next start reads it as it is. */
  readonly rewrite: boolean;
}

/** Either why the file is set aside whole, or its version and content, to migrate and check field by field. */
type Verdict = { kind: 'corrupt'; why: string } | { kind: 'readable'; version: number; raw: RawSettings };

function judge(text: string): Verdict {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { kind: 'corrupt', why: 'is not valid JSON' };
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return { kind: 'corrupt', why: 'does not hold a settings object' };
  }
  const { version = 1, ...raw } = data as RawSettings; // no version field: the earliest builds, i.e. version 1
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    return { kind: 'corrupt', why: `has an invalid version (${JSON.stringify(version)})` };
  }
  if (version > SETTINGS_VERSION) {
    // A newer ScreenAsk wrote it (the user went back a release). We cannot know what its fields mean, so we neither
    // guess nor overwrite it: it is set aside, where the newer release's file is still there to copy back.
    return {
      kind: 'corrupt',
      why: `was written by a newer ScreenAsk (settings version ${version}; this one reads up to ${SETTINGS_VERSION})`,
    };
  }
  return { kind: 'readable', version, raw };
}

/** Keeps the valid fields of a migrated object; the others become their defaults and are described. */
function salvage(raw: RawSettings): { settings: Settings; errors: string[] } {
  const kept: Partial<Settings> = {};
  const errors: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (!(key in defaultSettings)) {
      errors.push(`"${key}" is not a setting ScreenAsk knows`);
      continue;
    }
    const checked = validateSettingsPatch({ [key]: value });
    if (checked.ok) Object.assign(kept, checked.patch);
    else errors.push(...checked.errors.map((e) => e.message.replace(/\.$/, '')));
  }
  // Fields missing from the file take their defaults silently: that is how a new optional setting arrives.
  return { settings: settingsSchema.parse({ ...defaultSettings, ...kept }), errors };
}

function timestamp(date: Date): string {
  return date.toISOString().replace(/[:.]/g, '-'); // colons are not allowed in Windows file names
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

let tempCounter = 0;

/**
 * Replaces `file` with `text` atomically (temp file, fsync, rename, folder fsync). `mode` applies to the new file
 * (e.g. 0o600 for one only its owner may read; Windows ignores it).
 */
export async function writeFileAtomic(fs: SettingsFileSystem, file: string, text: string, mode = 0o666): Promise<void> {
  const temp = `${file}.${process.pid}-${tempCounter++}.tmp`;
  const handle = await fs.open(temp, 'w', mode);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync(); // the data must be on disk before the rename makes it the settings file
  } finally {
    await handle.close();
  }
  try {
    await renameWithRetry(fs, temp, file);
  } catch (error) {
    await fs.unlink(temp).catch(() => {});
    throw error;
  }
  await syncFolder(fs, path.dirname(file));
}

/** Windows refuses to replace a file another process (an antivirus, an indexer) has just opened; that passes. */
async function renameWithRetry(fs: SettingsFileSystem, from: string, to: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fs.rename(from, to);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (process.platform !== 'win32' || attempt >= 4 || (code !== 'EPERM' && code !== 'EBUSY')) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt));
    }
  }
}

/** Makes the rename itself durable (POSIX). Windows cannot open a folder for fsync; NTFS journals renames anyway. */
async function syncFolder(fs: SettingsFileSystem, dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  try {
    const handle = await fs.open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Best effort: the file's own fsync already happened; some file systems refuse fsync on folders.
  }
}

/** A file system error in a few words a user understands (permission denied, the disk is full, …). */
export function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const known: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EROFS: 'the disk is read-only',
    ENOSPC: 'the disk is full',
    ENOTDIR: 'part of the path is a file, not a folder',
    EISDIR: 'it is a folder, not a file',
  };
  return (code && known[code]) || firstLine(error);
}

// ---------------------------------------------------------------------------------------------------------------
// The store

export async function openSettingsStore(dir: string, options: SettingsStoreOptions = {}): Promise<SettingsStore> {
  const fs: SettingsFileSystem = {
    readFile: fsp.readFile,
    open: fsp.open,
    rename: fsp.rename,
    unlink: fsp.unlink,
    mkdir: fsp.mkdir,
    readdir: fsp.readdir,
    access: fsp.access,
    ...options.fs,
  };
  const now = options.now ?? (() => new Date());
  const file = path.join(dir, SETTINGS_FILE);

  await removeStaleTempFiles(fs, dir);
  const loaded = await load();
  let current: Settings = Object.freeze({ ...loaded.settings });
  const problems = loaded.problems;
  if (loaded.rewrite) {
    try {
      await writeFileAtomic(fs, file, serialize(current));
    } catch (error) {
      problems.push(`Could not save the repaired settings to ${file} (${describeFsError(error)}); changes will not be kept.`);
    }
  }

  const listeners = new Set<SettingsListener>();
  let queue: Promise<unknown> = Promise.resolve();

  async function load(): Promise<Loaded> {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { settings: defaultSettings, problems: [], rewrite: false };
      return {
        settings: defaultSettings,
        problems: [`Could not read ${file} (${describeFsError(error)}); using the default settings.`],
        rewrite: false,
      };
    }
    const verdict = judge(text);
    if (verdict.kind === 'corrupt') {
      const aside = await setAside();
      const where = aside.ok ? `it was set aside as ${aside.name}` : `it could not be set aside (${aside.why})`;
      return {
        settings: defaultSettings,
        problems: [`${SETTINGS_FILE} ${verdict.why}; ${where} and the default settings are in use.`],
        rewrite: false,
      };
    }
    const migrated = settingsMigrations.slice(verdict.version - 1).reduce((raw, step) => step(raw), verdict.raw);
    const { settings, errors } = salvage(migrated);
    if (errors.length === 0) return { settings, problems: [], rewrite: verdict.version !== SETTINGS_VERSION };
    const aside = await setAside();
    const where = aside.ok ? `the original file was kept as ${aside.name}` : `the original file could not be set aside (${aside.why})`;
    const problem = `Some settings were invalid and are back to their defaults: ${errors.join('; ')}; ${where}.`;
    // Rewriting over a file we could not set aside would destroy the only copy of what the user had.
    return { settings, problems: [problem], rewrite: aside.ok };
  }

  /** Renames the settings file out of the way, to a name that no earlier corrupt copy holds. */
  async function setAside(): Promise<{ ok: true; name: string } | { ok: false; why: string }> {
    const base = `settings.corrupt-${timestamp(now())}`;
    for (let n = 0; n < 100; n++) {
      const name = n === 0 ? `${base}.json` : `${base}-${n}.json`;
      const taken = await fs.access(path.join(dir, name)).then(() => true, () => false);
      if (taken) continue;
      try {
        await fs.rename(file, path.join(dir, name));
        return { ok: true, name };
      } catch (error) {
        return { ok: false, why: describeFsError(error) };
      }
    }
    return { ok: false, why: 'too many earlier corrupt copies with the same time stamp' };
  }

  async function apply(patch: Partial<Settings>): Promise<SettingsUpdateResult> {
    const previous = current;
    const next: Settings = Object.freeze({ ...previous, ...patch });
    try {
      await fs.mkdir(dir, { recursive: true });
      await writeFileAtomic(fs, file, serialize(next));
    } catch (error) {
      throw new ScreenAskError(
        `Could not save settings to ${file}: ${describeFsError(error)}. Check that the folder exists and is writable.`,
        { cause: error },
      );
    }
    current = next;
    if (Object.keys(next).some((key) => next[key as keyof Settings] !== previous[key as keyof Settings])) {
      for (const listener of listeners) {
        try {
          listener(next, previous);
        } catch (error) {
          // The change is saved; one faulty listener must not make the update look failed or starve the others.
          console.error('settings listener failed:', error);
        }
      }
    }
    return { ok: true, settings: next };
  }

  return {
    file,
    problems,
    get: () => current,
    update(patch: unknown): Promise<SettingsUpdateResult> {
      // Validation needs no queue: it depends on the patch alone. Merging does, so it happens in turn.
      const checked = validateSettingsPatch(patch);
      if (!checked.ok) return Promise.resolve({ ok: false, errors: checked.errors });
      const run = queue.then(() => apply(checked.patch));
      queue = run.catch(() => {}); // a failed write must not block the updates queued behind it
      return run;
    },
    onChange(listener: SettingsListener): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

function serialize(settings: Settings): string {
  return `${JSON.stringify({ version: SETTINGS_VERSION, ...settings }, null, 2)}\n`;
}

/** Temp files left by a crash between write and rename: the settings file itself is intact, these are litter. */
async function removeStaleTempFiles(fs: SettingsFileSystem, dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return;
  }
  const stale = names.filter((name) => name.startsWith(`${SETTINGS_FILE}.`) && name.endsWith('.tmp'));
  await Promise.all(stale.map((name) => fs.unlink(path.join(dir, name)).catch(() => {})));
}
