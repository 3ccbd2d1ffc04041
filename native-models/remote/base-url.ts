// The server's base URL as OpenAI clients take it (`http://host:8000/v1`), checked before anything is sent. One rule
// for every caller: the client, the CLI, and the app's settings (electron/shared/settings.ts), so the address the
// settings store is the address the client asks and the confirmation to send captures is kept under. Plain URL
// parsing only: the renderer runs it too.
import { ScreenAskError } from '../model/errors.js';

export type BaseUrlCheck = { readonly ok: true; readonly baseUrl: string } | { readonly ok: false; readonly problem: string };

/**
 * Normalises a base URL: http or https only, no credentials, query or fragment (they would be sent on every request
 * or silently dropped), no trailing slash, the host as URL spells it (lower case, no default port). A bare origin gets
 * `/v1`, where vLLM, Ollama, LM Studio, llama.cpp and `npm run serve` all put the API; any other path is kept as
 * given (a proxy may mount the API elsewhere). A refusal's `problem` starts with "it" and never repeats a password.
 */
export function checkBaseUrl(input: string): BaseUrlCheck {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    return { ok: false, problem: 'it is not a web address: write it as http://host:port/v1' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, problem: `it must start with http:// or https:// (got ${url.protocol})` };
  if (url.username || url.password) return { ok: false, problem: 'it must not contain a user name or password: pass the key as the API key instead' };
  if (url.search || url.hash) return { ok: false, problem: 'it must not contain ? or #: give the server’s base address only, e.g. http://host:8000/v1' };
  const path = url.pathname.replace(/\/+$/, '');
  return { ok: true, baseUrl: `${url.origin}${path === '' ? '/v1' : path}` };
}

/** checkBaseUrl, throwing a one-line ScreenAskError (the address is repeated unless it holds credentials). */
export function normaliseBaseUrl(input: string): string {
  const checked = checkBaseUrl(input);
  if (checked.ok) return checked.baseUrl;
  const shown = /^it must not contain a user name/.test(checked.problem) ? '' : ` "${input.trim()}"`;
  throw new ScreenAskError(`Invalid server URL${shown}: ${checked.problem}.`);
}
