// The request body: read whole up to a limit, then parsed as JSON.
import type { IncomingMessage } from 'node:http';
import { ApiError, badRequest, describeBytes } from './errors.js';

function tooLarge(limit: number): ApiError {
  return new ApiError(413, `The request body is over the server's limit of ${describeBytes(limit)}: send a smaller image or fewer messages.`, {
    code: 'request_too_large',
  });
}

/**
 * Reads the body, refusing it as soon as it passes `limit` bytes (a declared Content-Length is checked before anything
 * is read), so a huge upload never sits in memory. The rest of a refused body is drained, not kept, so that the 413
 * still reaches the client (destroying the request would close the socket under it).
 */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw tooLarge(limit);
  }
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      if (bytes <= limit) return void chunks.push(chunk);
      req.off('data', onData);
      req.resume();
      reject(tooLarge(limit));
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
    // A client that hangs up mid-body: nothing to answer; the caller's own close handling takes it from here.
    req.once('close', () => req.complete || reject(new Error('the client closed the connection before sending the whole body')));
  });
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (error) {
    throw badRequest(`The request body is not JSON (${(error as Error).message}): send a JSON object with model and messages.`);
  }
}
