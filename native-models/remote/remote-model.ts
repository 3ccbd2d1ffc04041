// The remote backend's entry points, shaped like the local engine's: connect (as loadModel), then conversations.
import { normaliseBaseUrl } from './base-url.js';
import type { Fetch, ServerEndpoint } from './http.js';
import type { ServerImagePreparer } from './image-preparer.js';
import { fetchModelIds } from './list-models.js';
import { RemoteConversation, type RemoteConversationOptions, type ServerTarget } from './server-conversation.js';
import { ScreenAskError } from '../model/errors.js';
import { ServerError } from './server-errors.js';

/** How long a server may stay silent (before its answer starts, and between two chunks) before the answer fails. */
export const DEFAULT_STALL_TIMEOUT_MS = 120_000;

export interface ServerOptions {
  /** The API's base URL, e.g. http://gpu-box:8000/v1 (a bare origin gets /v1). */
  readonly baseUrl: string;
  readonly apiKey?: string;
  readonly signal?: AbortSignal;
  /** The HTTP client; the global fetch by default (the app may pass Electron's net.fetch). */
  readonly fetch?: Fetch;
  readonly stallTimeoutMs?: number;
}

export interface ConnectOptions extends ServerOptions {
  /** The model to ask, as the server names it; the first of GET /models when not given. */
  readonly model?: string;
  /**
   * Sizes and encodes captures: prepareServerImage (server-image.ts, loads sharp) where the process may load it, or
   * one that asks another process to (Electron's main asks its model process).
   */
  readonly prepareImage: ServerImagePreparer;
}

function endpointOf(options: ServerOptions): ServerEndpoint {
  const stallMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  if (!Number.isFinite(stallMs) || stallMs <= 0) throw new ScreenAskError(`Invalid stall timeout ${stallMs} ms: give a time above 0.`);
  return {
    baseUrl: normaliseBaseUrl(options.baseUrl),
    apiKey: options.apiKey?.trim() || undefined,
    // Looked up at each call, not at import, so whatever fetch the process has when asking is the one used.
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    stallMs,
  };
}

/** The models a server offers (GET {baseUrl}/models), in its order. */
export function listServerModels(options: ServerOptions): Promise<string[]> {
  const endpoint = endpointOf(options);
  return fetchModelIds(endpoint, options.signal);
}

const isLoopbackHost = (host: string): boolean => /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(host);

export class RemoteModel implements ServerTarget {
  private closed = false;

  constructor(
    readonly endpoint: ServerEndpoint,
    /** The model's id on the server. */
    readonly model: string,
    /** Said with every answer, as a local model's load warnings are. */
    readonly warnings: readonly string[],
    readonly prepareImage: ServerImagePreparer,
  ) {}

  get baseUrl(): string {
    return this.endpoint.baseUrl;
  }

  get disposed(): boolean {
    return this.closed;
  }

  startConversation(options?: RemoteConversationOptions): RemoteConversation {
    return new RemoteConversation(this, options);
  }

  /** Nothing is held open between requests; later questions are refused, as after a local model's dispose. */
  dispose(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/**
 * Checks the server answers, accepts the key and serves the model (GET /models), and returns it ready for
 * conversations. Every failure is a one-line ServerError naming the server and the fix.
 */
export async function connectServer(options: ConnectOptions): Promise<RemoteModel> {
  const endpoint = endpointOf(options);
  const ids = await fetchModelIds(endpoint, options.signal);
  const at = `The server at ${endpoint.baseUrl}`;
  if (ids.length === 0) throw new ServerError(endpoint.baseUrl, `${at} serves no model: load one there first.`);
  const wanted = options.model?.trim();
  if (wanted && !ids.includes(wanted)) {
    throw new ServerError(endpoint.baseUrl, `${at} does not serve the model "${wanted}": pick one it serves (${ids.slice(0, 8).join(', ')}${ids.length > 8 ? ', …' : ''}).`);
  }
  const warnings: string[] = [];
  if (!wanted && ids.length > 1) warnings.push(`${at} serves ${ids.length} models; asking "${ids[0]}" (name another to choose).`);
  const url = new URL(endpoint.baseUrl);
  if (endpoint.apiKey && url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    warnings.push(`The API key goes to ${url.host} over plain HTTP, readable by anyone on the network between: use https:// where the server offers it.`);
  }
  return new RemoteModel(endpoint, wanted || ids[0]!, warnings, options.prepareImage);
}
