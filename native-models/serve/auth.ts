// API keys, compared in constant time: a client learns nothing about the key from how long a refusal takes.
import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError } from './errors.js';

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** The key of `Authorization: Bearer KEY`, or undefined when the header is missing or of another scheme. */
function bearer(header: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+(\S.*?)[ \t]*$/i.exec(header ?? '');
  return match?.[1];
}

/**
 * True when `header` carries `key`. Both sides are hashed first, so timingSafeEqual compares equal-length digests and
 * the key's length does not leak either.
 */
export function carriesKey(header: string | undefined, key: string): boolean {
  const given = bearer(header);
  return timingSafeEqual(digest(given ?? ''), digest(key)) && given !== undefined;
}

export function checkApiKey(header: string | undefined, key: string | undefined): void {
  if (key === undefined || carriesKey(header, key)) return;
  const problem = bearer(header) === undefined ? 'No API key was sent' : 'The API key is wrong';
  throw new ApiError(401, `${problem}: send the server's key as "Authorization: Bearer KEY" (the key given to npm run serve --api-key).`, {
    code: 'invalid_api_key',
    headers: { 'WWW-Authenticate': 'Bearer' },
  });
}
