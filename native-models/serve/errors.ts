// Errors as OpenAI-compatible clients expect them: a status and `{ error: { message, type, param, code } }`.
import { ImageLoadError } from '../image/load-image.js';
import { ScreenAskError } from '../model/errors.js';

export type ApiErrorType = 'invalid_request_error' | 'authentication_error' | 'permission_error' | 'rate_limit_error' | 'server_error';

export interface ApiErrorBody {
  readonly error: { readonly message: string; readonly type: ApiErrorType; readonly param: string | null; readonly code: string | null };
}

const typeByStatus: Record<number, ApiErrorType> = { 401: 'authentication_error', 403: 'permission_error', 429: 'rate_limit_error', 500: 'server_error' };

/** A request the server refuses: the status, one line naming the problem and the fix, and headers the status needs. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly details: { readonly code?: string; readonly param?: string; readonly headers?: Readonly<Record<string, string>> } = {},
  ) {
    super(message);
  }

  get body(): ApiErrorBody {
    return {
      error: {
        message: this.message,
        type: typeByStatus[this.status] ?? 'invalid_request_error',
        param: this.details.param ?? null,
        code: this.details.code ?? null,
      },
    };
  }
}

/** A size limit in the units it was set in: `32 MiB`, `64 KiB`, `1000 bytes`. */
export function describeBytes(bytes: number): string {
  for (const [unit, size] of [['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(1))} ${unit}`;
  }
  return `${bytes} bytes`;
}

export const badRequest = (message: string, param?: string, code = 'invalid_request'): ApiError =>
  new ApiError(400, message, { code, ...(param !== undefined ? { param } : {}) });

/**
 * What a failure becomes on the wire. The engine's own one-line errors are about the request (an image that does not
 * decode, a conversation too long for the context) and go back as 400s; anything else is a bug, and its message stays
 * in the server's log: a 500 says only that it happened.
 */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof ImageLoadError) return badRequest(error.message, undefined, 'invalid_image');
  if (error instanceof ScreenAskError) return badRequest(error.message);
  return new ApiError(500, "The server failed to answer (an internal error; the details are in the server's log).", { code: 'internal_error' });
}
