// `npm start` without an Electron binary: it tries the download once, and failing that prints one line saying why and
// how to get it, and exits non-zero.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadElectron, findElectronBinary } from '../../electron/start.js';
import { repoRoot } from '../support/run-script.js';

function start(env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'electron/start.ts')], { cwd: repoRoot, env, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-start-'));
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('npm start', () => {
  it('exits non-zero with one line when the binary is absent', async () => {
    // An override folder without the binary: absent on every machine, whether or not Electron was downloaded there.
    const { code, stdout, stderr } = await start({ ...process.env, ELECTRON_OVERRIDE_DIST_PATH: path.join(repoRoot, 'no-such-electron-dist') });
    expect(code).toBe(1);
    expect(stdout).toBe('');
    const lines = stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/Electron is not available/);
    expect(lines[0]).toMatch(/npx electron --version/);
    expect(lines[0]).toMatch(/ELECTRON_OVERRIDE_DIST_PATH/);
  });

  it('runs the Electron installer when the binary is absent and reports whether it worked', async () => {
    // Stand-ins for electron's install.js: the real one fetches ~100 MB, and fails like the first one offline.
    const failing = path.join(root, 'failing-installer.mjs');
    const working = path.join(root, 'working-installer.mjs');
    await writeFile(failing, "console.error('fetch failed'); process.exit(1);\n");
    await writeFile(working, 'process.exit(0);\n');
    expect(await downloadElectron(failing)).toBe(false);
    expect(await downloadElectron(working)).toBe(true);
    expect(await downloadElectron(path.join(root, 'no-installer.js'))).toBe(false);
  });

  it('finds the binary the way the electron package does, without downloading', () => {
    const env = { ELECTRON_OVERRIDE_DIST_PATH: undefined };
    const found = findElectronBinary(env);
    if (!found.ok) expect(found.reason).toMatch(/path\.txt is missing|binary is missing|not installed/);
    expect(findElectronBinary(env, path.join(repoRoot, 'no-such-project'))).toEqual({ ok: false, reason: 'the electron package is not installed' });
  });
});
