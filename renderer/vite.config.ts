// Builds the Svelte renderer into out/renderer/ (scripts/build-electron.mjs calls this). `base: './'` because Electron
// loads the page from file://; one page serves every window, which picks its view from the URL hash.
import { svelte } from '@sveltejs/vite-plugin-svelte';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: './',
  plugins: [svelte()],
  logLevel: 'warn',
  build: {
    outDir: path.resolve(here, '../out/renderer'),
    emptyOutDir: true,
    target: 'chrome140',
    // No inlined assets: the CSP allows data: for images only.
    assetsInlineLimit: 0,
    sourcemap: true,
  },
});
