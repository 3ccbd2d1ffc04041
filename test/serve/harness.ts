/** A real ChatServer on 127.0.0.1 (a free port) around a loaded model, with the official openai client pointed at it. */
import { readFile } from 'node:fs/promises';
import OpenAI from 'openai';
import type { CompletionRecord } from '../../native-models/serve/chat.js';
import { ChatServer, type ServerOptions } from '../../native-models/serve/server.js';

export interface RunningServer {
  readonly server: ChatServer;
  /** `http://127.0.0.1:PORT/v1` */
  readonly url: string;
  readonly client: OpenAI;
  /** Every completion the server finished, in order (its onCompletion log). */
  readonly records: CompletionRecord[];
  readonly internalErrors: unknown[];
  close(): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const records: CompletionRecord[] = [];
  const internalErrors: unknown[] = [];
  const server = new ChatServer({ ...options, onCompletion: (r) => records.push(r), onInternalError: (e) => internalErrors.push(e) });
  const url = await server.listen('127.0.0.1', 0);
  // No retries: a test sees each status as the server sent it.
  const client = new OpenAI({ baseURL: url, apiKey: options.apiKey ?? 'no-key-needed', maxRetries: 0, timeout: 120_000 });
  return { server, url, client, records, internalErrors, close: () => server.close() };
}

export async function dataUrl(file: string, type = 'image/png'): Promise<string> {
  return `data:${type};base64,${(await readFile(file)).toString('base64')}`;
}

/** What an error response holds (and, loosely, any other JSON body). */
export interface RawBody {
  readonly error?: { readonly message: string; readonly type: string; readonly param: string | null; readonly code: string | null };
  readonly [field: string]: unknown;
}

/** A raw request, for what the openai client cannot send (no key, bad JSON, other methods). */
export async function raw(url: string, path: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: RawBody }> {
  const response = await fetch(`${url}${path}`, init);
  const text = await response.text();
  let body: RawBody;
  try {
    body = JSON.parse(text) as RawBody;
  } catch {
    body = { text };
  }
  return { status: response.status, headers: response.headers, body };
}
