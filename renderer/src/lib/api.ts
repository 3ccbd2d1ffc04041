// The page's one door to the app: `window.screenask`, exposed by the preload (electron/preload). Views receive the API
// as a prop so that tests can hand them a fake; only main.ts reads the global.
import type { ScreenAskApi } from '../../../electron/shared/ipc.js';

/**
 * The preload's API, or undefined when the page is opened outside ScreenAsk (a plain browser) or the preload failed.
 * Read through a cast rather than a global `Window` augmentation, which would clash with the tests' declarations.
 */
export function getApi(): ScreenAskApi | undefined {
  return (window as Window & { readonly screenask?: ScreenAskApi }).screenask;
}

/** One line for an error of unknown shape (IPC rejections arrive as Errors whose message Electron prefixes). */
export function errorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  // Electron wraps handler errors as "Error invoking remote method 'channel': Error: the real message".
  const unwrapped = text.replace(/^Error invoking remote method '[^']*': (?:\w*Error: )?/, '');
  return unwrapped.split('\n')[0]?.trim() || 'Something went wrong.';
}
