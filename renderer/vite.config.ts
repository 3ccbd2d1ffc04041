// Builds the Svelte renderer into out/renderer/ (scripts/build-electron.mjs calls this). `base: './'`: the same files are
// served from screenask://app/ in the app and from the web harness's origin; one page serves every window, which picks
// its view from the URL hash.
import { svelte } from '@sveltejs/vite-plugin-svelte';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * One classic, deferred script instead of a module script: module scripts are fetched in CORS mode, which the app's
 * scheme would need its own CORS privilege for; a single IIFE bundle needs none, and also loads from a saved copy of
 * the page.
 */
function classicScript(): Plugin {
  return {
    name: 'screenask-classic-script',
    apply: 'build',
    enforce: 'post',
    transformIndexHtml: (html) =>
      html
        .replace(/<script type="module" crossorigin src=/g, '<script defer src=')
        .replace(/<link rel="stylesheet" crossorigin href=/g, '<link rel="stylesheet" href='),
  };
}

export default defineConfig({
  root: here,
  base: './',
  plugins: [svelte(), classicScript()],
  logLevel: 'warn',
  build: {
    outDir: path.resolve(here, '../out/renderer'),
    emptyOutDir: true,
    target: 'chrome140',
    // No inlined assets: the CSP allows data: for images only.
    assetsInlineLimit: 0,
    sourcemap: true,
    // No module preload polyfill: there is one chunk, loaded as a classic script.
    modulePreload: false,
    rollupOptions: { output: { format: 'iife' } },
  },
});
