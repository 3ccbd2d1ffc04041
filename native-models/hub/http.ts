/**
 * The one place that opens HTTP connections to the Hub: proxies from the environment, timeouts, redirects that drop
 * the token when they leave the Hub's origin, and the mapping of socket failures and aborts to HubErrors.
 *
 * undici's `request` rather than `fetch`: it streams the body as a Node Readable with backpressure (files are GBs),
 * exposes the redirect responses so we decide what follows them, and takes a dispatcher for the proxy.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PassThrough, type Readable } from 'node:stream';
import { Agent, EnvHttpProxyAgent, request, type Dispatcher } from 'undici';
import { HubError, cancelledError, httpError, isNetworkFailure, networkError, type RequestContext } from './errors.js';

export interface HubResponse {
  status: number;
  /** Lower-case header names, first value only. */
  headers: Record<string, string | undefined>;
  body: Readable & { dump(opts?: { limit: number }): Promise<void> };
  /** The URL that finally answered (after redirects). */
  url: string;
}

export interface GetOptions {
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  token?: string;
  signal?: AbortSignal;
  /** Names the model and file in error messages. */
  context: RequestContext;
}

const MAX_REDIRECTS = 10;
// Generous, because a mirror or a proxy can be slow to start, but finite, so a dead connection becomes a retry
// instead of a hang: bodyTimeout is the longest silence allowed *between* chunks, not the length of a download.
const TIMEOUTS = { connect: { timeout: 15_000 }, headersTimeout: 30_000, bodyTimeout: 60_000 } as const;

let proxied: Dispatcher | undefined;
let direct: Dispatcher | undefined;

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * HTTPS_PROXY / HTTP_PROXY / NO_PROXY through undici's EnvHttpProxyAgent; loopback always goes direct (a local mirror,
 * and the tests' fake hub, must not be sent to a corporate proxy that cannot reach them).
 */
function dispatcherFor(url: URL): Dispatcher {
  if (isLoopback(url.hostname)) return (direct ??= new Agent(TIMEOUTS));
  return (proxied ??= new EnvHttpProxyAgent(TIMEOUTS));
}

function firstValues(headers: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = Array.isArray(value) ? value[0] : value;
  return out;
}

/** Wraps whatever a request threw into a HubError: aborted → cancelled, socket trouble → network. */
export function toHubError(error: unknown, signal: AbortSignal | undefined, endpoint: string): unknown {
  if (error instanceof HubError) return error;
  if (signal?.aborted) return cancelledError(error);
  if (isNetworkFailure(error)) return networkError(error, endpoint);
  return error;
}

/**
 * One request, following redirects. The Authorization header goes only to the origin of the first URL: the Hub
 * redirects large files to a CDN with a signed URL, and the token must not leak there (huggingface_hub and
 * requests do the same). Range / If-Range headers are kept across redirects so a resume reaches the CDN.
 * Non-2xx answers (other than redirects) become HubErrors named after `context`.
 */
export async function hubGet(url: string, options: GetOptions): Promise<HubResponse> {
  const { signal, token, context } = options;
  const origin = new URL(url).origin;
  let current = new URL(url);
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = { 'user-agent': 'screenask', ...options.headers };
    if (token && current.origin === origin) headers.authorization = `Bearer ${token}`;
    let response: Dispatcher.ResponseData;
    try {
      signal?.throwIfAborted();
      response = await request(current, {
        method: options.method ?? 'GET',
        headers,
        signal,
        dispatcher: dispatcherFor(current),
      });
    } catch (error) {
      throw toHubError(error, signal, context.endpoint);
    }
    const status = response.statusCode;
    const responseHeaders = firstValues(response.headers);
    const location = responseHeaders.location;
    if (status >= 300 && status < 400 && location) {
      await response.body.dump().catch(() => undefined);
      if (hop >= MAX_REDIRECTS) throw new HubError('server', `${current.host} redirected more than ${MAX_REDIRECTS} times: try again later.`);
      current = new URL(location, current);
      continue;
    }
    if (status >= 400) {
      // The body is the Hub's JSON error; its headers already say everything we print.
      await response.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      throw httpError(status, context, { code: responseHeaders['x-error-code'], message: responseHeaders['x-error-message'] });
    }
    return { status, headers: responseHeaders, body: response.body, url: current.href };
  }
}

/**
 * The body's chunks, including those that had arrived when the connection broke. A Node stream destroyed with an error
 * drops what it had buffered; on a dropped connection that can be the whole tail of what the server sent, which a
 * resume would then fetch again. So the bytes are moved out as they arrive (with backpressure), and the error is
 * thrown only after everything received has been consumed.
 */
export function bodyChunks(body: Readable): AsyncIterable<Buffer> {
  // Listeners go on now, not at the first read: the caller may await other things (opening the file) meanwhile.
  const pass = new PassThrough({ highWaterMark: 1 << 20 });
  let failure: unknown;
  let ended = false;
  const end = (error?: unknown): void => {
    if (ended) return;
    ended = true;
    failure = error;
    pass.end();
  };
  body.on('data', (chunk: Buffer) => {
    if (!pass.write(chunk)) body.pause();
  });
  pass.on('drain', () => body.resume());
  body.on('end', () => end());
  body.on('error', (error) => end(error));
  body.on('close', () => end(body.errored ?? undefined));
  if (body.destroyed || body.readableEnded) end(body.errored ?? undefined);
  return (async function* () {
    try {
      for await (const chunk of pass) yield chunk as Buffer;
    } finally {
      if (!ended) body.destroy();
    }
    if (failure) throw failure;
  })();
}

/** Reads a JSON body (the API's answers are small; the limit keeps a misbehaving mirror from eating memory). */
export async function readJson(response: HubResponse, limit = 64 * 1024 * 1024): Promise<unknown> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > limit) {
      response.body.destroy();
      throw new HubError('server', `The answer from ${new URL(response.url).host} is too large to be a model listing: check HF_ENDPOINT.`);
    }
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** Delay before the second attempt; doubles each time, up to 8 s. */
  baseDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 500 };

/** True for failures another attempt may cure: the network, and the server's own 5xx / 429 troubles. */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof HubError)) return false;
  return error.kind === 'network' || (error.kind === 'server' && error.status !== undefined && (error.status >= 500 || error.status === 429));
}

/** Waits before retry `attempt` (1-based), ending early with a 'cancelled' HubError when the signal fires. */
export async function backoff(attempt: number, policy: RetryPolicy, signal?: AbortSignal): Promise<void> {
  const delay = Math.min(policy.baseDelayMs * 2 ** (attempt - 1), 8_000);
  try {
    await sleep(delay, undefined, { signal });
  } catch (error) {
    throw cancelledError(error);
  }
}

/** Runs `attempt` until it succeeds, fails for good, or the retries are spent (then its last error is thrown). */
export async function withRetries<T>(attempt: () => Promise<T>, policy: RetryPolicy, signal?: AbortSignal): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isTransient(error) || n >= policy.attempts) throw error;
      await backoff(n, policy, signal);
    }
  }
}
