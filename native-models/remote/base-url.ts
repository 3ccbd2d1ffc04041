// The server's base URL as OpenAI clients take it (`http://host:8000/v1`), checked before anything is sent.
import { ScreenAskError } from '../model/errors.js';

/**
 * Normalises a base URL: http or https only, no credentials, query or fragment (they would be sent on every request
 * or silently dropped), no trailing slash. A bare origin gets `/v1`, where vLLM, Ollama, LM Studio, llama.cpp and
 * `npm run serve` all put the API; any other path is kept as given (a proxy may mount the API elsewhere).
 */
export function normaliseBaseUrl(input: string): string {
  const text = input.trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ScreenAskError(`Invalid server URL "${text}": give the base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ScreenAskError(`Invalid server URL "${text}": it must start with http:// or https:// (got ${url.protocol}).`);
  }
  if (url.username || url.password) {
    throw new ScreenAskError(`Invalid server URL: remove the user name and password from it and pass the key with an API key instead.`);
  }
  if (url.search || url.hash) {
    throw new ScreenAskError(`Invalid server URL "${text}": remove the ${url.search ? 'query (?…)' : 'fragment (#…)'}; give the API's base URL only.`);
  }
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.origin}${path === '' ? '/v1' : path}`;
}
