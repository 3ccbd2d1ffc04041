/**
 * Errors of talking to the Hugging Face Hub, each one line naming the problem and the fix, with a `kind` the callers
 * (pull, the app's model manager) branch on: retry later, ask for a token, free disk space, ...
 */
import { ScreenAskError, firstLine } from '../model/errors.js';

export type HubErrorKind = 'not-found' | 'unauthorized' | 'gated' | 'network' | 'disk-full' | 'corrupt' | 'cancelled' | 'server';

export class HubError extends ScreenAskError {
  override name = 'HubError';
  readonly kind: HubErrorKind;
  /** The HTTP status behind it, when there was one. */
  readonly status: number | undefined;
  constructor(kind: HubErrorKind, message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options);
    this.kind = kind;
    this.status = options?.status;
  }
}

/** What a failed request was about, so the message can name the model, the file and the server. */
export interface RequestContext {
  endpoint: string;
  repo: string;
  revision?: string;
  /** A file in the repo; absent for the repo listing. */
  file?: string;
  hasToken: boolean;
}

/** The Hub's own explanation, from its `X-Error-Code` / `X-Error-Message` headers. */
export interface HubErrorHeaders {
  code?: string;
  message?: string;
}

const TOKEN_FIX = 'create a read token at https://huggingface.co/settings/tokens and set HF_TOKEN to it';

function host(endpoint: string): string {
  try {
    return new URL(endpoint).host;
  } catch {
    return endpoint;
  }
}

/** Maps an HTTP error status from the Hub (or a mirror, or the CDN it redirected to) to a HubError. */
export function httpError(status: number, context: RequestContext, hub: HubErrorHeaders = {}): HubError {
  const error = statusError(status, context, hub);
  return new HubError(error.kind, error.message, { status });
}

function statusError(status: number, context: RequestContext, hub: HubErrorHeaders): HubError {
  const { repo, file, revision, hasToken, endpoint } = context;
  const model = `model "${repo}"`;
  const what = file ? `file "${file}" of ${model}` : model;
  const page = `${endpoint.replace(/\/+$/, '')}/${repo}`;
  // The Hub answers 401 RepoNotFound for repos that do not exist *and* for private ones when no token is sent.
  if (hub.code === 'RepoNotFound' || (status === 404 && !file && hub.code !== 'RevisionNotFound')) {
    const fix = hasToken ? 'check the model id (owner/name)' : `check the model id (owner/name), or if it is private ${TOKEN_FIX}`;
    return new HubError('not-found', `Model "${repo}" was not found on ${host(endpoint)}: ${fix}.`);
  }
  if (hub.code === 'RevisionNotFound') {
    return new HubError('not-found', `Revision "${revision ?? '?'}" of ${model} was not found: check the branch name or commit sha.`);
  }
  if (status === 404 || hub.code === 'EntryNotFound') {
    return new HubError(
      'not-found',
      `The ${what} was not found at revision ${revision ?? 'main'}: check the file name and the revision.`,
    );
  }
  if (status === 401) {
    // A gated repo asked for without a token answers 401 GatedRepo: the token comes first, then the licence.
    const licence = hub.code === 'GatedRepo' ? ` (the model is gated: also accept its licence at ${page})` : '';
    return new HubError(
      'unauthorized',
      hasToken
        ? `The Hugging Face token was refused for ${model}: check HF_TOKEN (it may be expired or lack read access)${licence}.`
        : `The ${model} needs a Hugging Face access token: ${TOKEN_FIX}${licence}.`,
    );
  }
  if (status === 407) {
    return new HubError('unauthorized', `The proxy refused the request for ${what} (407): check the credentials in HTTPS_PROXY.`);
  }
  if (status === 403 || hub.code === 'GatedRepo') {
    return new HubError(
      'gated',
      `The ${model} is gated: accept its licence at ${page} while logged in, then ${hasToken ? 'make sure HF_TOKEN is a token of that account' : TOKEN_FIX}.`,
    );
  }
  if (status === 429) {
    return new HubError(
      'server',
      `${host(endpoint)} is rate-limiting downloads (429): wait a few minutes and try again${hasToken ? '' : ', or set HF_TOKEN (logged-in limits are higher)'}.`,
    );
  }
  if (status >= 500) {
    return new HubError('server', `${host(endpoint)} failed with ${status} for ${what}: the service is having trouble; try again later.`);
  }
  const detail = hub.message ? ` (${firstLine(hub.message)})` : '';
  return new HubError('server', `${host(endpoint)} answered ${status} for ${what}${detail}: try again later, or report it if it persists.`);
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

/** The first error code along the `cause` chain (undici wraps socket errors). */
export function errorCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** True for failures worth retrying: the connection, not the request, went wrong. */
export function isNetworkFailure(error: unknown): boolean {
  if (error instanceof HubError) return error.kind === 'network';
  const code = errorCode(error);
  if (code && NETWORK_CODES.has(code)) return true;
  // Node's fetch-style errors carry no code: "fetch failed", "other side closed", "terminated".
  return error instanceof TypeError && /fetch failed|terminated|other side closed/i.test(error.message);
}

export function networkError(error: unknown, endpoint: string): HubError {
  const code = errorCode(error) ?? firstLine(error);
  const proxy = process.env.HTTPS_PROXY ?? process.env.https_proxy ?? process.env.HTTP_PROXY ?? process.env.http_proxy;
  const fix = proxy
    ? 'check the internet connection, the proxy in HTTPS_PROXY, or HF_ENDPOINT if you use a mirror'
    : 'check the internet connection, or HF_ENDPOINT if you use a mirror';
  return new HubError('network', `Cannot reach ${host(endpoint)} (${code}): ${fix}; run again to resume.`, { cause: error });
}

export function cancelledError(cause?: unknown): HubError {
  return new HubError('cancelled', 'Download cancelled: run the same command again to resume where it stopped.', { cause });
}

export function isDiskFull(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** Human sizes for messages: 1.2 GB, 340 MB, 12 kB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function diskFullError(dir: string, needed: number, free: number | undefined, cause?: unknown): HubError {
  const sizes = free === undefined ? `needs ${formatBytes(needed)} more` : `needs ${formatBytes(needed)} more but only ${formatBytes(free)} is free`;
  return new HubError('disk-full', `Not enough disk space in ${dir}: the download ${sizes}; free some space or choose another models folder.`, {
    cause,
  });
}
