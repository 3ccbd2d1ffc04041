// What the `shipped` test project builds once before its tests (global-setup.ts): the app into out/, exactly as
// `npm run dist` does (minified), and the fake Electron's modules as plain JavaScript, so that the app's process runs
// on plain Node with no TypeScript loader, as it will on Electron.
import path from 'node:path';
import { repoRoot } from '../support/run-script.js';

export const shippedCacheDir = () => path.join(repoRoot, '.cache', 'shipped');
export const fakeElectronDir = () => path.join(shippedCacheDir(), 'fake-electron');
