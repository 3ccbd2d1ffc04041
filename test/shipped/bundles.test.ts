// The bundles in out/, as `npm run dist` builds them (global-setup.ts): what each process may load, and the page's
// shape that Electron's loading rules depend on.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/run-script.js';
import { REFUSED_IN_MAIN } from './fake-electron/loader-env.js';

const out = (file: string) => path.join(repoRoot, 'out', file);
/** Every package a bundle loads at run time: static imports, dynamic imports and require() calls. */
const loads = (code: string) => new Set([...code.matchAll(/(?:from|import\(|require\()\s*["']([^"'./][^"']*)["']/g)].map((m) => m[1]!.split('/').slice(0, m[1]!.startsWith('@') ? 2 : 1).join('/')));

describe('the built bundles', () => {
  it('main loads electron but neither onnxruntime-node nor sharp; the utility entry loads both', async () => {
    const main = loads(await readFile(out('main/index.js'), 'utf8'));
    const utility = loads(await readFile(out('utility/main.js'), 'utf8'));
    expect(main.has('electron')).toBe(true);
    for (const name of REFUSED_IN_MAIN) expect([name, main.has(name)]).toEqual([name, false]);
    expect(utility.has('onnxruntime-node')).toBe(true);
    expect(utility.has('sharp')).toBe(true);
    expect(utility.has('electron')).toBe(false);
  });

  it('the preload is sandbox-safe CommonJS that requires only electron, and carries no zod', async () => {
    const preload = await readFile(out('preload/index.cjs'), 'utf8');
    expect([...preload.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1])).toEqual(['electron']);
    expect(preload).toMatch(/exposeInMainWorld\("screenask"/);
    expect(preload).not.toMatch(/ZodError|zod/);
  });

  it('the page: the CSP kept, one classic deferred script, relative asset URLs that all exist, an icon', async () => {
    const html = await readFile(out('renderer/index.html'), 'utf8');
    expect(html).toMatch(/http-equiv="Content-Security-Policy"/);
    expect(html).not.toMatch(/type="module"/);
    expect(html).toMatch(/<script defer src="\.\/assets\/[^"]+\.js"><\/script>/);
    expect(html).toMatch(/<link rel="icon" type="image\/png" href="\.\/assets\/[^"]+\.png"/);
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    for (const asset of assets) {
      expect(asset.startsWith('./')).toBe(true);
      expect((await stat(path.join(repoRoot, 'out', 'renderer', asset))).isFile()).toBe(true);
    }
  });
});
