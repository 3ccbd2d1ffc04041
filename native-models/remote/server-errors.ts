// One-line errors about a server: what went wrong, naming the server, and what to do. Every failure of the remote
// backend goes through here, so the CLI and the app word them alike.
import { errorCode } from '../hub/errors.js';
import { firstLine, ScreenAskError } from '../model/errors.js';

/** A ScreenAskError about a server; `baseUrl` lets the app show which server without parsing the message. */
export class ServerError extends ScreenAskError {
  override name = 'ServerError';
  /** The HTTP status, when the server answered one that is not 2xx. */
  readonly status: number | undefined;
  /** The server's own message (first line), when it gave one. */
  readonly serverMessage: string | undefined;
  constructor(
    readonly baseUrl: string,
    message: string,
    options?: { cause?: unknown; status?: number; serverMessage?: string },
  ) {
    super(message, options);
    this.status = options?.status;
    this.serverMessage = options?.serverMessage;
  }
}

/** Text from a server, fit for a one-line message: first line, no control characters, bounded. */
export function serverText(text: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const line = firstLine(text).replace(/[\u0000-\u001f\u007f]/g, ' ');
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** The server's message from an error body: OpenAI's `{ error: { message } }`, vLLM's `{ message }`, `{ error: "…" }`, or text. */
export function errorMessageOf(body: string): string | undefined {
  try {
    const json: unknown = JSON.parse(body);
    if (json && typeof json === 'object') {
      const { error, message, detail } = json as Record<string, unknown>;
      if (typeof error === 'string') return serverText(error);
      if (error && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string') {
        return serverText((error as { message: string }).message);
      }
      if (typeof message === 'string') return serverText(message);
      // FastAPI's validation errors (422): { detail: [{ msg, loc }] } or { detail: "…" }.
      if (typeof detail === 'string') return serverText(detail);
      if (Array.isArray(detail) && detail[0] && typeof detail[0] === 'object') return serverText(JSON.stringify(detail[0]));
    }
  } catch {
    // Not JSON: the body's own first line, below.
  }
  return body.trim() ? serverText(body) : undefined;
}

/** The request never got an answer: refused, unknown host, reset. */
export function unreachable(baseUrl: string, error: unknown): ServerError {
  const code = errorCode(error);
  const why =
    code === 'ECONNREFUSED'
      ? 'connection refused: is the server running, on that port?'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? 'no such host: check the address'
        : code === 'ECONNRESET' || code === 'UND_ERR_SOCKET'
          ? 'the connection was reset: check the server is up and speaks plain HTTP (or HTTPS) as the URL says'
          : `${code ?? firstLine(error)}: check the address, and that the server is up`;
  return new ServerError(baseUrl, `Cannot reach the server at ${baseUrl} (${why}).`, { cause: error });
}

/** A non-2xx answer, in words a user can act on. `what` names the request ("the model list", "the question"). */
export function httpFailure(baseUrl: string, status: number, body: string, what: string, model?: string): ServerError {
  const said = errorMessageOf(body);
  const detail = said ? `: ${said}` : '';
  const at = `The server at ${baseUrl}`;
  const error = (message: string) => new ServerError(baseUrl, message, { status, ...(said !== undefined ? { serverMessage: said } : {}) });
  if (status === 401 || status === 403) {
    return error(`${at} refused the API key (${status}${detail}): give the key it expects (--api-key, or the server's settings).`);
  }
  if (status === 404) {
    return model === undefined
      ? error(`${at} has no ${what} (404${detail}): check the base URL, which usually ends in /v1.`)
      : error(`${at} does not serve the model "${model}" (404${detail}): pick one it lists (--server-model), or load it there.`);
  }
  if (status === 413) return error(`${at} refused ${what} as too large (413${detail}): use low image detail or a smaller image.`);
  if (status === 429) return error(`${at} is busy (429${detail}): try again in a moment.`);
  if (status >= 500) return error(`${at} failed (${status}${detail}): try again; if it persists, see the server's log.`);
  return error(`${at} refused ${what} (${status}${detail}).`);
}

/** A 2xx answer that is not what an OpenAI-compatible API sends. */
export function garbage(baseUrl: string, what: string, problem: string): ServerError {
  return new ServerError(
    baseUrl,
    `The server at ${baseUrl} answered ${what} with something an OpenAI-compatible API does not send (${serverText(problem, 120)}): check that the URL is the API's base URL, e.g. ending in /v1.`,
  );
}

export function stalled(baseUrl: string, ms: number, during: string): ServerError {
  const seconds = ms / 1000;
  return new ServerError(
    baseUrl,
    `The server at ${baseUrl} sent nothing for ${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s ${during}: it may be overloaded or stuck; try again, or allow it longer (--server-timeout).`,
  );
}

export function closedEarly(baseUrl: string, error?: unknown): ServerError {
  return new ServerError(baseUrl, `The server at ${baseUrl} closed the connection before the answer was complete: try again; if it persists, see the server's log.`, {
    cause: error,
  });
}
