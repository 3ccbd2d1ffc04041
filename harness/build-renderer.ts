// Builds the renderer with the app's own Vite config into a folder the harness serves.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const configFile = fileURLToPath(new URL('../renderer/vite.config.ts', import.meta.url));

export async function buildRenderer(outDir: string): Promise<string> {
  await build({ configFile, logLevel: 'warn', build: { outDir: path.resolve(outDir), emptyOutDir: true } });
  return path.resolve(outDir);
}
