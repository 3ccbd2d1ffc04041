// The harness's HTTP plumbing, kept apart from what it serves: static files of the built renderer (with the app's CSP,
// and the bridge injected ahead of the app), small JSON bodies, and server-sent events.
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { CONTENT_SECURITY_POLICY } from '../electron/main/security.js';
import { BRIDGE_PATH } from './protocol.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
};

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

/** Serves a file of the built renderer; index.html gets the bridge script ahead of the app's module script. */
export async function serveRenderer(res: ServerResponse, rendererDir: string, urlPath: string): Promise<void> {
  const relative = urlPath === '/' ? 'index.html' : decodeURIComponent(urlPath.slice(1));
  const file = path.resolve(rendererDir, relative);
  if (!file.startsWith(path.resolve(rendererDir) + path.sep)) throw new HttpError(404, 'not found');
  const body = await readFile(file).catch(() => {
    throw new HttpError(404, 'not found');
  });
  const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
  const headers = { 'content-type': type, 'cache-control': 'no-store', 'content-security-policy': CONTENT_SECURITY_POLICY, 'x-content-type-options': 'nosniff' };
  if (relative !== 'index.html') {
    res.writeHead(200, headers);
    res.end(body);
    return;
  }
  const html = body.toString('utf8').replace('<head>', `<head>\n    <script src="${BRIDGE_PATH}"></script>`);
  res.writeHead(200, headers);
  res.end(html);
}

/** Opens a server-sent-events stream; returns the function that writes one event. */
export function openEventStream(res: ServerResponse): (event: unknown) => void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  res.write(': connected\n\n');
  return (event) => void res.write(`data: ${JSON.stringify(event)}\n\n`);
}
