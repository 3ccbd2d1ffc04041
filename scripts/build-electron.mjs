#!/usr/bin/env node
// Builds the Electron app into out/ (or --out DIR) with esbuild:
//   out/main/index.js      main process, ESM (package.json "type": "module" makes Electron load it as ESM)
//   out/preload/index.cjs  preload, CommonJS: sandboxed preloads cannot be ES modules
//   out/utility/main.js    the model process, ESM (when electron/utility/main.ts exists)
//   out/renderer/          the Svelte renderer, built by Vite (renderer/vite.config.ts)
//   out/assets/            tray icons
// Native and heavy packages stay external: they are loaded from node_modules (unpacked from the asar when packaged),
// because bundling a .node addon or its sibling shared libraries cannot work.
import { cp, mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { build as viteBuild } from 'vite';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const EXTERNALS = ['electron', 'onnxruntime-node', 'onnxruntime-common', 'sharp', '@huggingface/*'];

const exists = (p) => stat(p).then(() => true, () => false);

/** Builds everything; returns the list of files written. */
export async function buildElectron({ outDir = path.join(root, 'out'), minify = false, logLevel = 'warning' } = {}) {
  await rm(outDir, { recursive: true, force: true });
  const common = { bundle: true, sourcemap: 'linked', minify, logLevel, absWorkingDir: root, legalComments: 'none' };
  // Bundled CommonJS dependencies may call require() for Node built-ins; give ESM output a real require.
  const esmBanner = { js: "import { createRequire as __screenaskCreateRequire } from 'node:module'; const require = __screenaskCreateRequire(import.meta.url);" };
  const node = { ...common, platform: 'node', target: 'node22', external: EXTERNALS };

  const jobs = [
    build({ ...node, entryPoints: ['electron/main/index.ts'], outfile: path.join(outDir, 'main/index.js'), format: 'esm', banner: esmBanner }),
    build({ ...node, entryPoints: ['electron/preload/index.ts'], outfile: path.join(outDir, 'preload/index.cjs'), format: 'cjs', external: ['electron'] }),
    viteBuild({
      configFile: path.join(root, 'renderer', 'vite.config.ts'),
      logLevel: logLevel === 'warning' ? 'warn' : logLevel,
      build: { outDir: path.join(outDir, 'renderer'), minify },
    }),
  ];
  if (await exists(path.join(root, 'electron/utility/main.ts'))) {
    jobs.push(build({ ...node, entryPoints: ['electron/utility/main.ts'], outfile: path.join(outDir, 'utility/main.js'), format: 'esm', banner: esmBanner }));
  }
  await Promise.all(jobs);

  await mkdir(path.join(outDir, 'assets'), { recursive: true });
  for (const size of [16, 32, 64]) {
    const icon = path.join(root, 'build', 'tray', `tray-${size}.png`);
    if (await exists(icon)) await cp(icon, path.join(outDir, 'assets', `tray-${size}.png`));
  }
  return outDir;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--out');
  const outDir = i > 0 && process.argv[i + 1] ? path.resolve(process.argv[i + 1]) : undefined;
  const minify = process.argv.includes('--minify');
  buildElectron({ outDir, minify }).then(
    (dir) => process.stderr.write(`built the Electron app into ${path.relative(process.cwd(), dir) || '.'}\n`),
    (error) => {
      process.stderr.write(`build failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
