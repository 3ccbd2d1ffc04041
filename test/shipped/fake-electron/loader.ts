// Loaded with `--import` into the app's main process (plain Node running out/main/index.js): installs hooks.ts for
// ES modules, and the same refusal for CommonJS require(), which those hooks do not see in Node 20.
import Module, { register } from 'node:module';
import { FAKE_ELECTRON_MODULE_ENV, REFUSED_IN_MAIN } from './loader-env.js';
import { packageName, type HookData } from './hooks.js';

const electronUrl = process.env[FAKE_ELECTRON_MODULE_ENV];
if (!electronUrl) throw new Error(`${FAKE_ELECTRON_MODULE_ENV} is not set`);
const hooksUrl = new URL('./hooks.mjs', import.meta.url);
register<HookData>(hooksUrl, { data: { electronUrl, refused: REFUSED_IN_MAIN } });

type ResolveFilename = (request: string, parent: unknown, ...rest: unknown[]) => string;
const cjs = Module as unknown as { _resolveFilename: ResolveFilename };
const original = cjs._resolveFilename;
cjs._resolveFilename = function (request, parent, ...rest) {
  if (REFUSED_IN_MAIN.includes(packageName(request))) {
    throw new Error(`the main process required ${packageName(request)}: it must never load a native library`);
  }
  return original.call(this, request, parent, ...rest);
};
