// The build (esbuild into a temp dir) and Electronegativity's static scan of the shell's source.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/run-script.js';

interface Finding {
  id: string;
  file: string;
  severity: { name: string };
  confidence: { name: string };
  location: { line: number };
  description: string;
}
type Electronegativity = (
  options: Record<string, unknown>,
  forCli: boolean,
) => Promise<{ issues: Finding[]; errors: Array<{ file: string; message: string; tolerable: boolean }>; atomicChecks: number }>;

let outDir: string | undefined;
afterAll(async () => {
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

describe('electron build', () => {
  it('bundles main (ESM), preload (CJS, sandbox-safe), renderer and utility with native packages external', async () => {
    outDir = await mkdtemp(path.join(os.tmpdir(), 'screenask-out-'));
    await new Promise<void>((resolve, reject) =>
      execFile(process.execPath, [path.join(repoRoot, 'scripts/build-electron.mjs'), '--out', outDir!], { cwd: repoRoot }, (error, _out, stderr) =>
        error ? reject(new Error(stderr || error.message)) : resolve(),
      ),
    );
    const main = await readFile(path.join(outDir, 'main/index.js'), 'utf8');
    const preload = await readFile(path.join(outDir, 'preload/index.cjs'), 'utf8');
    expect(main).toMatch(/from "electron"/);
    expect(main).not.toMatch(/require\("electron"\)/);
    // A sandboxed preload may require only 'electron': everything else must be bundled in, and zod is kept out of it.
    expect([...preload.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1])).toEqual(['electron']);
    expect(preload).toMatch(/exposeInMainWorld\("screenask"/);
    expect(preload).not.toMatch(/ZodError|zod/);
    // The renderer (Vite): relative asset URLs (file:// has no root), the CSP kept, one classic deferred script (a
    // module script would not load from file://; test/e2e/file-url.test.ts opens the page from disk).
    const html = await readFile(path.join(outDir, 'renderer/index.html'), 'utf8');
    expect(html).toMatch(/http-equiv="Content-Security-Policy"/);
    expect(html).not.toMatch(/type="module"/);
    expect(html).toMatch(/<script defer src="\.\/assets\/[^"]+\.js"><\/script>/);
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    for (const asset of assets) {
      expect(asset.startsWith('./')).toBe(true);
      expect((await stat(path.join(outDir, 'renderer', asset))).isFile()).toBe(true);
    }
    if ((await stat(path.join(repoRoot, 'electron/utility/main.ts')).catch(() => null)) !== null) {
      const utility = await readFile(path.join(outDir, 'utility/main.js'), 'utf8');
      expect(utility).toMatch(/from "onnxruntime-node"/);
      expect(utility).not.toMatch(/napi-v6/);
    }
  });
});

function scan(input: string) {
  const require = createRequire(import.meta.url);
  const mod = require('@doyensec/electronegativity') as Electronegativity | { default: Electronegativity };
  const run = typeof mod === 'function' ? mod : mod.default;
  return run(
      {
        input,
        isRelative: true,
        customScan: [],
        // That check downloads Electron's release list (no network in CI sandboxes); the version is pinned instead.
        excludeFromScan: ['AvailableSecurityFixesGlobalCheck'],
        electronVersionOverride: '45.4.1',
        severitySet: 'informational',
        confidenceSet: 'tentative',
        parserPlugins: [],
      },
      false,
    );
}

describe('electronegativity', () => {
  it('finds no high-severity problem in the shell', async () => {
    // The source, not the bundle: its parser does not know private class fields, which the bundle keeps.
    const result = await scan(path.join(repoRoot, 'electron'));
    expect(result.atomicChecks).toBeGreaterThan(30);
    expect(result.errors.filter((e) => !e.tolerable)).toEqual([]);
    const high = result.issues.filter((i) => i.severity.name === 'HIGH');
    expect(high.map((i) => `${i.id} ${i.file}:${i.location.line} ${i.description}`)).toEqual([]);
  }, 30_000);

  it('does flag an insecure window (the scan is live, not vacuous)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'screenask-insecure-'));
    try {
      await writeFile(path.join(dir, 'main.ts'), "import { BrowserWindow } from 'electron';\nnew BrowserWindow({ webPreferences: { contextIsolation: false, nodeIntegration: true } });\n");
      const result = await scan(dir);
      expect(result.issues.filter((i) => i.severity.name === 'HIGH').map((i) => i.id)).toEqual(expect.arrayContaining(['CONTEXT_ISOLATION_JS_CHECK']));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
