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
      { test: { ...shared, name: 'node', include: ['test/**/*.test.ts'], exclude: ['test/renderer/**'] } },
      {
        // The renderer's components and logic, in jsdom with Svelte's browser build (end-to-end runs in Chromium).
        plugins: [svelte({ configFile: 'renderer/svelte.config.js' }), svelteTesting()],
        test: { ...shared, name: 'renderer', include: ['test/renderer/**/*.test.ts'], environment: 'jsdom' },
      },
    ],
  },
});
