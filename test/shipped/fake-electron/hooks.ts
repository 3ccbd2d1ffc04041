// Module hooks for the app's main process under the fake: 'electron' resolves to the fake module, and the native
// libraries the main process must never load are refused, so that an import of them, however indirect or late,
// fails the run instead of passing silently.
import type { InitializeHook, ResolveHook } from 'node:module';

export interface HookData {
  readonly electronUrl: string;
  readonly refused: readonly string[];
}

let data: HookData;

export const initialize: InitializeHook<HookData> = (options) => {
  data = options;
};

export const resolve: ResolveHook = (specifier, context, next) => {
  if (specifier === 'electron') return { url: data.electronUrl, shortCircuit: true, format: 'module' };
  const name = packageName(specifier);
  if (data.refused.includes(name)) {
    throw new Error(`the main process imported ${name} (from ${context.parentURL ?? 'the entry'}): it must never load a native library`);
  }
  return next(specifier, context);
};

/** 'sharp' → sharp, '@img/sharp-linux-x64/lib' → @img/sharp-linux-x64, './x' → ./x. */
export function packageName(specifier: string): string {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.includes(':')) return specifier;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}
