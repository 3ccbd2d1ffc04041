// The one place the remote backend sends HTTP: the API key header, a watchdog on silence, and every failure turned
// into a one-line ServerError naming the server.
import { closedEarly, garbage, httpFailure, stalled, unreachable } from './server-errors.js';
import { Watchdog } from './watchdog.js';

export type Fetch = typeof globalThis.fetch;

/** Where and how to reach one server. */
export interface ServerEndpoint {
  /** Normalised (see normaliseBaseUrl). */
  readonly baseUrl: string;
  readonly apiKey: string | undefined;
  readonly fetch: Fetch;
  /** Longest silence allowed: before the response starts, and between two chunks of it. */
  readonly stallMs: number;
}

export interface SendOptions {
  readonly method: 'GET' | 'POST';
  readonly body?: unknown;
  readonly signal?: AbortSignal;
  /** Names the request in messages: "the model list", "the question". */
  readonly what: string;
  /** The model asked for, so a 404 says the model is missing rather than the URL. */
  readonly model?: string;
}

/** A response that started (2xx), with the watchdog still running for its body; `done()` disarms it. */
export interface Started {
  readonly response: Response;
  readonly watchdog: Watchdog;
  /** Aborts when the caller's signal does or the watchdog expires: pass it on to whatever reads the body. */
  readonly signal: AbortSignal;
}

/** Non-2xx bodies are error messages; no need to read a megabyte of one. */
const MAX_ERROR_BODY = 64 * 1024;

/** Distinguishes the caller's cancel (rethrown as the AbortError it is) from silence and from failures. */
export function failureOf(endpoint: ServerEndpoint, error: unknown, watchdog: Watchdog, signal: AbortSignal | undefined, during: string): unknown {
  if (signal?.aborted) return error;
  if (watchdog.expired) return stalled(endpoint.baseUrl, endpoint.stallMs, during);
  return error;
}

export async function send(endpoint: ServerEndpoint, path: string, options: SendOptions): Promise<Started> {
  const watchdog = new Watchdog(endpoint.stallMs);
  const signal = options.signal ? AbortSignal.any([options.signal, watchdog.signal]) : watchdog.signal;
  const headers: Record<string, string> = { accept: options.method === 'POST' ? 'text/event-stream, application/json' : 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (endpoint.apiKey) headers.authorization = `Bearer ${endpoint.apiKey}`;
  let response: Response;
  try {
    response = await endpoint.fetch(`${endpoint.baseUrl}${path}`, {
      method: options.method,
      headers,
      signal,
      redirect: 'error',
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
  } catch (error) {
    watchdog.stop();
    const failure = failureOf(endpoint, error, watchdog, options.signal, `after ${options.what} was sent`);
    if (failure !== error || options.signal?.aborted) throw failure;
    throw unreachable(endpoint.baseUrl, error);
  }
  if (!response.ok) {
    const body = await readText(response, MAX_ERROR_BODY).catch(() => '');
    watchdog.stop();
    throw httpFailure(endpoint.baseUrl, response.status, body, options.what, options.model);
  }
  watchdog.kick();
  return { response, watchdog, signal };
}

/** GET a JSON document; `parse` checks its shape (throw to call it garbage). */
export async function getJson<T>(endpoint: ServerEndpoint, path: string, what: string, parse: (json: unknown) => T, signal?: AbortSignal): Promise<T> {
  const started = await send(endpoint, path, { method: 'GET', what, ...(signal ? { signal } : {}) });
  let text: string;
  try {
    text = await readText(started.response, 16 * 1024 * 1024);
  } catch (error) {
    const failure = failureOf(endpoint, error, started.watchdog, signal, `while sending ${what}`);
    throw failure !== error || signal?.aborted ? failure : closedEarly(endpoint.baseUrl, error);
  } finally {
    started.watchdog.stop();
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw garbage(endpoint.baseUrl, what, `not JSON: ${text.trim().slice(0, 60) || 'an empty body'}`);
  }
  try {
    return parse(json);
  } catch (error) {
    throw garbage(endpoint.baseUrl, what, error instanceof Error ? error.message : String(error));
  }
}

/** The body as text, refusing more than `max` bytes. */
async function readText(response: Response, max: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) {
        await reader.cancel();
        break;
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(chunks).toString('utf8');
}
