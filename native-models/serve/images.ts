// Images arrive inline, as data: URLs. The server never fetches a URL: it makes no connection a client asks for.
import { createHash } from 'node:crypto';
import { ImageLoadError } from '../image/load-image.js';
import { ApiError, badRequest, describeBytes } from './errors.js';

export interface InlineImage {
  readonly bytes: Uint8Array;
  /** Of the bytes: two requests with the same picture hold the same image. */
  readonly sha256: string;
  /** Where the request holds it, e.g. `messages[0].content[1]`, for error messages. */
  readonly param: string;
}

const dataUrl = /^data:([^,;]*)((?:;[^,;]*)*),/i;

/** The bytes of a base64 `data:` URL, refused with a 400 (not inline, not base64) or a 413 (over `maxBytes`). */
export function parseImageUrl(url: string, param: string, maxBytes: number): InlineImage {
  const header = dataUrl.exec(url);
  if (!header) {
    const remote = /^[a-z][a-z0-9+.-]*:\/\//i.test(url);
    throw badRequest(
      remote
        ? `${param} is a remote URL: the server never fetches images; send the picture inline as a data URL (data:image/png;base64,…).`
        : `${param} is not a data URL: send the picture inline as data:image/png;base64,… (PNG, JPEG, WebP, GIF, TIFF or AVIF).`,
      `${param}.image_url.url`,
      remote ? 'remote_image_refused' : 'invalid_image_url',
    );
  }
  if (!header[2]!.toLowerCase().split(';').includes('base64')) {
    throw badRequest(`${param} is a data URL without ;base64: encode the picture as base64 (data:image/png;base64,…).`, `${param}.image_url.url`, 'invalid_image_url');
  }
  const base64 = url.slice(header[0].length).replace(/\s+/g, '');
  // The decoded size, from the text's length, before decoding anything.
  const size = Math.floor((base64.length * 3) / 4) - (base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0);
  if (size > maxBytes) {
    throw new ApiError(413, `The image in ${param} is ${describeBytes(size)}, over the server's limit of ${describeBytes(maxBytes)}: send a smaller picture (PNG or JPEG of the screen at its own size).`, {
      param: `${param}.image_url.url`,
      code: 'image_too_large',
    });
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64) && !/^[A-Za-z0-9_-]*={0,2}$/.test(base64)) {
    throw badRequest(`${param} is not valid base64: encode the picture's bytes with base64.`, `${param}.image_url.url`, 'invalid_image_url');
  }
  const bytes = Buffer.from(base64, 'base64');
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex'), param };
}

/**
 * The engine decodes the bytes itself (a picture it has seen before is found in its image cache by their hash, and
 * not decoded again); one that does not decode is the client's mistake (400), named by where the request holds it.
 */
export function undecodableImage(error: unknown, image: InlineImage | undefined): unknown {
  if (!(error instanceof ImageLoadError) || !image) return error;
  return badRequest(`The image in ${image.param} does not decode: ${error.message}.`, `${image.param}.image_url.url`, 'invalid_image');
}
