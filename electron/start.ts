// `npm start`: build the app into out/ and launch Electron on it. The Electron binary is not part of the npm package:
// its postinstall downloads it, which npm 11 skips unless install scripts are allowed. So look for the binary
// ourselves; when it is absent, run the package's own installer once (a fresh machine needs no manual step), and
// if that fails too (no network), say in one line why and how to get it.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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

/** Runs electron's own installer (its skipped postinstall); resolves false when it fails or takes too long. */
export function downloadElectron(installer = path.join(root, 'node_modules', 'electron', 'install.js')): Promise<boolean> {
  if (!existsSync(installer)) return Promise.resolve(false);
  process.stderr.write('ScreenAsk: downloading the Electron binary (first start only)…\n');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [installer], { cwd: path.dirname(installer), stdio: 'ignore', timeout: 300_000 });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
}

async function main(): Promise<void> {
  let electron = findElectronBinary();
  if (!electron.ok && !process.env.ELECTRON_OVERRIDE_DIST_PATH) {
    if (await downloadElectron()) electron = findElectronBinary();
  }
  if (!electron.ok) {
    process.stderr.write(
      `ScreenAsk: cannot start the desktop app: Electron is not available: ${electron.reason}, and downloading it ` +
        'failed (no network?). On a machine with network access run `npm start` again (or `npx electron --version`), or set ' +
        'ELECTRON_OVERRIDE_DIST_PATH to a folder holding an Electron 45 build; the command line works without it ' +
        '(npm run ask -- --model DIR --image FILE "question").\n',
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
