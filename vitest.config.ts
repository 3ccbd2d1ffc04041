import { svelte } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';
import { defineConfig } from 'vitest/config';

const shared = {
  // Model-running tests are CPU-bound native work; two cores, so keep parallelism low.
  pool: 'forks' as const,
  testTimeout: 120_000,
  hookTimeout: 300_000,
};

export default defineConfig({
  test: {
    maxWorkers: 2,
    projects: [
      { test: { ...shared, name: 'node', include: ['test/**/*.test.ts'], exclude: ['test/renderer/**', 'test/shipped/**'] } },
      {
        // What ships: the built bundles in out/ (built once, minified, as `npm run dist` builds them) and the package
        // electron-builder makes of them.
        test: { ...shared, name: 'shipped', include: ['test/shipped/**/*.test.ts'], globalSetup: ['test/shipped/global-setup.ts'] },
      },
      {
        // The renderer's components and logic, in jsdom with Svelte's browser build (end-to-end runs in Chromium).
        plugins: [svelte({ configFile: 'renderer/svelte.config.js' }), svelteTesting()],
        test: { ...shared, name: 'renderer', include: ['test/renderer/**/*.test.ts'], environment: 'jsdom' },
      },
    ],
  },
});
