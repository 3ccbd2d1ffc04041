// The harness's HTTP plumbing, kept apart from what it serves: static files of the built renderer (as the app's protocol
// serves them, with the bridge injected ahead of the app), small JSON bodies, and server-sent events.
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { rendererFile, rendererHeaders } from '../electron/main/app-protocol.js';
import { BRIDGE_PATH } from './protocol.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** Reads a request body, refusing anything larger than `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, `request body over ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Serves a file of the built renderer, as the app's protocol serves it (same files, same headers); index.html gets
 * the bridge script ahead of the app's script.
 */
export async function serveRenderer(res: ServerResponse, rendererDir: string, urlPath: string): Promise<void> {
  const file = rendererFile(rendererDir, urlPath);
  const body = file === null ? null : await readFile(file).catch(() => null);
  if (file === null || body === null) throw new HttpError(404, 'not found');
  res.writeHead(200, rendererHeaders(file));
  if (path.basename(file) !== 'index.html' || path.dirname(file) !== path.resolve(rendererDir)) res.end(body);
  else res.end(body.toString('utf8').replace('<head>', `<head>\n    <script src="${BRIDGE_PATH}"></script>`));
}

/** Opens a server-sent-events stream; returns the function that writes one event. */
export function openEventStream(res: ServerResponse): (event: unknown) => void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  res.write(': connected\n\n');
  return (event) => void res.write(`data: ${JSON.stringify(event)}\n\n`);
}
