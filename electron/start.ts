// `npm start`: build the app into out/ and launch Electron on it. The Electron binary is not part of the npm package:
// its postinstall downloads it, which npm 11 skips unless install scripts are allowed. So look for the binary
// ourselves; when it is absent, download Electron's archive into the cache Electron's installer reads (showing the
// progress: it is ~100 MB), then run that installer, which finds it there and unpacks it. If that fails too (no
// network), say in one line why, how to get it, and what works without it.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatBytes } from '../native-models/hub/errors.js';
import { firstLine } from '../native-models/model/errors.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export type ElectronBinary = { ok: true; path: string } | { ok: false; reason: string };

/** Where the Electron binary is, following the rules of the electron package's index.js, without its download. */
export function findElectronBinary(env: NodeJS.ProcessEnv = process.env, projectRoot = root): ElectronBinary {
  const pkgDir = path.join(projectRoot, 'node_modules', 'electron');
  if (!existsSync(path.join(pkgDir, 'package.json'))) return { ok: false, reason: 'the electron package is not installed' };
  const pathFile = path.join(pkgDir, 'path.txt');
  const relative = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : undefined;
  const override = env.ELECTRON_OVERRIDE_DIST_PATH;
  if (override) {
    const binary = path.join(override, relative || 'electron');
    return existsSync(binary) ? { ok: true, path: binary } : { ok: false, reason: `ELECTRON_OVERRIDE_DIST_PATH has no ${binary}` };
  }
  if (!relative) return { ok: false, reason: 'its binary was never downloaded (node_modules/electron/path.txt is missing)' };
  const binary = path.join(pkgDir, 'dist', relative);
  return existsSync(binary) ? { ok: true, path: binary } : { ok: false, reason: `its binary is missing (${path.relative(projectRoot, binary)})` };
}

export interface ArchiveDownload {
  /** Electron's version (node_modules/electron/package.json). */
  readonly version: string;
  /** sha256 of each release file by name (node_modules/electron/checksums.json), checked after the download. */
  readonly checksums: Record<string, string>;
  /** @electron/get's cache folder (default: its own, where the installer looks; electron_config_cache overrides). */
  readonly cacheRoot?: string;
  /** Where the release files are (default: GitHub's releases, or ELECTRON_MIRROR). */
  readonly mirror?: string;
  readonly onProgress: (progress: { readonly transferred: number; readonly total: number | null }) => void;
}

/** Downloads Electron's archive for this machine into the cache; resolves with its path, rejects with why not. */
export async function downloadElectronArchive(options: ArchiveDownload): Promise<string> {
  const { downloadArtifact } = await import('@electron/get');
  return downloadArtifact({
    version: options.version,
    artifactName: 'electron',
    platform: process.platform,
    arch: process.arch,
    checksums: options.checksums,
    ...(options.cacheRoot ? { cacheRoot: options.cacheRoot } : {}),
    ...(options.mirror ? { mirrorOptions: { mirror: options.mirror } } : {}),
    downloadOptions: {
      quiet: true,
      getProgressCallback: async ({ transferred, total }: { transferred: number; total: number | null }) => options.onProgress({ transferred, total }),
    },
  });
}

/** A progress line that rewrites itself on a terminal and prints every tenth elsewhere (CI logs, IDEs). */
export function progressPrinter(label: string, out: { write(text: string): unknown; isTTY?: boolean } = process.stderr) {
  let lastTenth = -1;
  return ({ transferred, total }: { transferred: number; total: number | null }) => {
    const done = total ? `${Math.floor((100 * transferred) / total)}% (${formatBytes(transferred)} of ${formatBytes(total)})` : formatBytes(transferred);
    if (out.isTTY) {
      out.write(`\r${label}: ${done}   ${total !== null && transferred >= total ? '\n' : ''}`);
      return;
    }
    const tenth = total ? Math.floor((10 * transferred) / total) : lastTenth;
    if (tenth > lastTenth) out.write(`${label}: ${done}\n`);
    lastTenth = tenth;
  };
}

/** Runs electron's own installer (its skipped postinstall), which unpacks the cached archive; false when it fails. */
export function runElectronInstaller(installer = path.join(root, 'node_modules', 'electron', 'install.js')): Promise<boolean> {
  if (!existsSync(installer)) return Promise.resolve(false);
  return new Promise((resolve) => {
    // Its own errors go to the terminal: they say what went wrong (a proxy, a checksum) better than we could.
    const child = spawn(process.execPath, [installer], { cwd: path.dirname(installer), stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
}

/** The first start on a machine: the archive with its progress, then the installer. False when either fails. */
async function installElectron(): Promise<boolean> {
  const pkgDir = path.join(root, 'node_modules', 'electron');
  if (!existsSync(path.join(pkgDir, 'checksums.json'))) return false;
  const { version } = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version: string };
  const label = `ScreenAsk: downloading Electron ${version} for ${process.platform}-${process.arch} (first start only)`;
  try {
    await downloadElectronArchive({
      version,
      checksums: JSON.parse(readFileSync(path.join(pkgDir, 'checksums.json'), 'utf8')) as Record<string, string>,
      ...(process.env.electron_config_cache ? { cacheRoot: process.env.electron_config_cache } : {}),
      onProgress: progressPrinter(label),
    });
  } catch (error) {
    process.stderr.write(`${label}: failed: ${firstLine(error)}\n`);
    return false;
  }
  return runElectronInstaller();
}

async function main(): Promise<void> {
  let electron = findElectronBinary();
  if (!electron.ok && !process.env.ELECTRON_OVERRIDE_DIST_PATH) {
    if (await installElectron()) electron = findElectronBinary();
  }
  if (!electron.ok) {
    process.stderr.write(
      `ScreenAsk: cannot start the desktop app: Electron is not available: ${electron.reason}, and downloading it ` +
        'failed (no network?). On a machine with network access run `npm start` again (or `npx electron --version`), or set ' +
        'ELECTRON_OVERRIDE_DIST_PATH to a folder holding an Electron 45 build. Without Electron, `npm run dev:web` shows ' +
        'the interface in a browser and `npm run ask -- --model DIR --image FILE "question"` answers on the command line.\n',
    );
    process.exitCode = 1;
    return;
  }
  const { buildElectron } = await import('../scripts/build-electron.mjs');
  await buildElectron();
  const env = { ...process.env };
  // Inherited from some shells and IDEs, it would make Electron run the app as plain Node.
  delete env.ELECTRON_RUN_AS_NODE;
  // `.` makes Electron read package.json ("main": out/main/index.js), so the app's name and userData path are right.
  const child = spawn(electron.path, ['.', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit', env });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    process.exitCode = code ?? (signal ? 1 : 0);
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`ScreenAsk: cannot start the desktop app: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
