/**
 * Where downloaded models live. The Electron app passes its own `app.getPath('userData')/models` explicitly; the CLI
 * and tests use `SCREENASK_MODELS_DIR` or the platform's per-user data folder, which is the same place the app uses.
 */
import os from 'node:os';
import path from 'node:path';
import { ScreenAskError } from '../model/errors.js';

export interface ModelsDirEnvironment {
  readonly platform?: NodeJS.Platform;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly homeDir?: string;
}

/** The per-user app data folder (`…/ScreenAsk`), per platform. */
export function appDataDir({ platform = process.platform, env = process.env, homeDir = os.homedir() }: ModelsDirEnvironment = {}): string {
  // Build with the target platform's path rules so the result is right even when computed on another OS (tests).
  const p = platform === 'win32' ? path.win32 : path.posix;
  if (platform === 'win32') {
    return p.join(env.APPDATA || p.join(homeDir, 'AppData', 'Roaming'), 'ScreenAsk');
  }
  if (platform === 'darwin') return p.join(homeDir, 'Library', 'Application Support', 'ScreenAsk');
  // XDG says a relative XDG_DATA_HOME is invalid and must be ignored.
  const xdg = env.XDG_DATA_HOME && p.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : p.join(homeDir, '.local', 'share');
  return p.join(xdg, 'ScreenAsk');
}

/** The models folder: an explicit path wins, then `SCREENASK_MODELS_DIR`, then `<app data>/models`. */
export function modelsDir(explicit?: string, environment: ModelsDirEnvironment = {}): string {
  const env = environment.env ?? process.env;
  const chosen = explicit ?? (env.SCREENASK_MODELS_DIR || undefined);
  if (chosen !== undefined) {
    if (chosen.trim() === '') throw new ScreenAskError('The models folder is empty: pass a path with --models-dir.');
    return path.resolve(chosen);
  }
  const platform = environment.platform ?? process.platform;
  return (platform === 'win32' ? path.win32 : path.posix).join(appDataDir(environment), 'models');
}

/** `owner/name` → `owner--name`, the folder of one repo (the Hub cache's convention, minus its `models--` prefix). */
export function repoFolderName(repo: string): string {
  const [owner, name, ...rest] = repo.split('/');
  if (!owner || !name || rest.length > 0 || !/^[\w.-]+$/.test(owner) || !/^[\w.-]+$/.test(name) || owner.startsWith('.') || name.startsWith('.')) {
    throw new ScreenAskError(`"${repo}" is not a Hub repo id: expected owner/name.`);
  }
  return `${owner}--${name}`;
}

export function repoFolder(dir: string, repo: string): string {
  return path.join(dir, repoFolderName(repo));
}

/** Whether `target` lies strictly inside `root` (after resolving `..`), the guard before deleting anything. */
export function isInside(root: string, target: string): boolean {
  const relative = path.relative(path.resolve(root), path.resolve(target));
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}
