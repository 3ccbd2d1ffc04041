// `npm start` without an Electron binary: one line saying why and how to get it, a non-zero exit, no download.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findElectronBinary } from '../../electron/start.js';
import { repoRoot } from '../support/run-script.js';

function start(env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'electron/start.ts')], { cwd: repoRoot, env, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

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

  it('finds the binary the way the electron package does, without downloading', () => {
    const env = { ELECTRON_OVERRIDE_DIST_PATH: undefined };
    const found = findElectronBinary(env);
    if (!found.ok) expect(found.reason).toMatch(/path\.txt is missing|binary is missing|not installed/);
    expect(findElectronBinary(env, path.join(repoRoot, 'no-such-project'))).toEqual({ ok: false, reason: 'the electron package is not installed' });
  });
});
