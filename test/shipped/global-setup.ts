import { build } from 'esbuild';
import path from 'node:path';
import { buildElectron } from '../../scripts/build-electron.mjs';
import { repoRoot } from '../support/run-script.js';
import { fakeElectronDir } from './build-output.js';

export default async function setup(): Promise<void> {
  const here = path.join(repoRoot, 'test', 'shipped', 'fake-electron');
  await Promise.all([
    buildElectron({ minify: true }),
    build({
      entryPoints: ['electron', 'loader', 'hooks', 'parent-port'].map((name) => path.join(here, `${name}.ts`)),
      outdir: fakeElectronDir(),
      outExtension: { '.js': '.mjs' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      logLevel: 'error',
    }),
  ]);
}
