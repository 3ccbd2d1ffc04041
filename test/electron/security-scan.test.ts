// Electronegativity's static scan of the shell's source (the built bundles are checked in test/shipped/).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
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
