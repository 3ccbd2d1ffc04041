/**
 * A strict stand-in for the OpenAI-compatible servers ScreenAsk's remote backend talks to, on 127.0.0.1 (port 0),
 * real HTTP. It answers as the servers document their endpoints:
 * - 'vllm' (vLLM's `vllm serve`): model ids as on the Hub; `top_k` and `repetition_penalty` accepted (and checked)
 *   as extra body fields; usage sent only with `stream_options.include_usage` (in a last chunk whose `choices` is
 *   empty, `usage: null` before it); 401 `{"error":"Unauthorized"}` for a wrong key (its --api-key middleware); 404
 *   `{"object":"error","message":"The model `x` does not exist.",…}` for an unknown model.
 * - 'ollama' (Ollama's /v1): ids like `qwen2.5vl:7b`; fields outside its documented list (top_k,
 *   repetition_penalty) ignored, as its JSON decoding ignores unknown fields; images only as base64 data URLs; every
 *   chunk carries `role` and `system_fingerprint`; 404 `{"error":{"message":"model \"x\" not found, try pulling it
 *   first",…}}`.
 * Told to, it refuses the key (401), refuses named fields with OpenAI's 400 ("Unrecognized request argument
 * supplied"), stalls mid-answer, sends a malformed stream, closes the connection mid-answer, or answers the model
 * list with HTML. It records every request (headers, JSON body, the pixel size of each image sent) and every client
 * that hung up before its answer ended.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type StandInMode = 'vllm' | 'ollama';
export type StandInBehaviour = 'answer' | 'stall' | 'malformed' | 'close-mid-stream' | 'html-models';

export interface StandInOptions {
  readonly mode: StandInMode;
  readonly models?: readonly string[];
  /** Requests must carry `Authorization: Bearer <apiKey>` (vLLM's --api-key; for Ollama, a proxy in front). */
  readonly apiKey?: string;
  /** The answer's text; each word (with its space) is one chunk and counts as one token. */
  readonly answer?: string;
  readonly behaviour?: StandInBehaviour;
  /** Body fields refused with a 400 as OpenAI's API refuses fields outside its schema. */
  readonly rejectFields?: readonly string[];
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Record<string, unknown> | undefined;
  /** Width and height of every image in the messages, in order (from the PNG header of each data URL). */
  readonly images: readonly { width: number; height: number }[];
}

export interface StandIn {
  readonly baseUrl: string;
  /** host:port, as a connection to it is recorded by the network sentinel. */
  readonly address: string;
  readonly requests: RecordedRequest[];
  /** Chat requests whose client hung up before the answer ended. */
  hangUps(): number;
  set(options: Partial<StandInOptions>): void;
  close(): Promise<void>;
}

const defaultModels: Record<StandInMode, readonly string[]> = {
  vllm: ['Qwen/Qwen2.5-VL-7B-Instruct'],
  ollama: ['qwen2.5vl:7b', 'llava:13b'],
};

function pngSize(dataUrl: string): { width: number; height: number } | undefined {
  const match = /^data:image\/png;base64,(.*)$/s.exec(dataUrl);
  if (!match) return undefined;
  const bytes = Buffer.from(match[1]!.slice(0, 64), 'base64');
  // The IHDR chunk follows the 8-byte signature: length, "IHDR", width, height (big-endian).
  if (bytes.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

type Part = { type?: unknown; text?: unknown; image_url?: unknown };
type Message = { role?: unknown; content?: unknown };

function imageUrls(messages: readonly Message[]): string[] {
  return messages.flatMap((m) =>
    Array.isArray(m.content)
      ? (m.content as Part[]).filter((p) => p.type === 'image_url').map((p) => (typeof p.image_url === 'string' ? p.image_url : String((p.image_url as { url?: unknown })?.url)))
      : [],
  );
}

function words(messages: readonly Message[]): number {
  const text = messages.map((m) => (typeof m.content === 'string' ? m.content : (m.content as Part[]).map((p) => (typeof p.text === 'string' ? p.text : '')).join(' '))).join(' ');
  return text.split(/\s+/).filter(Boolean).length;
}

export async function startStandIn(initial: StandInOptions): Promise<StandIn> {
  let options: StandInOptions = initial;
  const requests: RecordedRequest[] = [];
  let hangUps = 0;
  const sockets = new Set<import('node:net').Socket>();

  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const openAiError = (res: http.ServerResponse, status: number, message: string, type: string) =>
    json(res, status, { error: { message, type, param: null, code: null } });

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: Record<string, unknown> | undefined;
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
    } catch {
      body = undefined;
    }
    const messages = Array.isArray(body?.messages) ? (body.messages as Message[]) : [];
    const urls = imageUrls(messages);
    requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, images: urls.map(pngSize).filter((s) => s !== undefined) });
    const { mode } = options;
    const models = options.models ?? defaultModels[mode];

    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      if (mode === 'vllm') return json(res, 401, { error: 'Unauthorized' });
      res.writeHead(401, { 'content-type': 'text/plain' });
      return res.end('Unauthorized');
    }
    if (req.method === 'GET' && req.url === '/v1/models') {
      if (options.behaviour === 'html-models') {
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end('<!doctype html><html><body>Welcome to nginx!</body></html>');
      }
      const created = 1_700_000_000;
      return json(res, 200, {
        object: 'list',
        data: models.map((id) =>
          mode === 'vllm'
            ? { id, object: 'model', created, owned_by: 'vllm', root: id, parent: null, max_model_len: 32768, permission: [] }
            : { id, object: 'model', created, owned_by: 'library' },
        ),
      });
    }
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return openAiError(res, 404, `Not Found: ${req.method} ${req.url}`, 'NotFoundError');
    if (!body || messages.length === 0) return openAiError(res, 400, 'messages: field required', 'BadRequestError');

    const model = String(body.model);
    if (!models.includes(model)) {
      if (mode === 'vllm') return json(res, 404, { object: 'error', message: `The model \`${model}\` does not exist.`, type: 'NotFoundError', param: null, code: 404 });
      return openAiError(res, 404, `model "${model}" not found, try pulling it first`, 'api_error');
    }
    const refused = (options.rejectFields ?? []).find((field) => field in body);
    if (refused) return openAiError(res, 400, `Unrecognized request argument supplied: ${refused}`, 'invalid_request_error');
    if (mode === 'vllm') {
      if ('top_k' in body && !(Number.isInteger(body.top_k) && ((body.top_k as number) === -1 || (body.top_k as number) >= 0))) {
        return json(res, 400, { object: 'error', message: 'top_k must be -1 (disable), or at least 1, got ' + String(body.top_k), type: 'BadRequestError', param: null, code: 400 });
      }
      if ('repetition_penalty' in body && !((body.repetition_penalty as number) > 0)) {
        return json(res, 400, { object: 'error', message: 'repetition_penalty must be greater than zero', type: 'BadRequestError', param: null, code: 400 });
      }
    }
    if (mode === 'ollama' && urls.some((url) => !url.startsWith('data:'))) return openAiError(res, 400, 'invalid image input', 'invalid_request_error');
    if (body.stream !== true) return openAiError(res, 400, 'this stand-in streams only', 'invalid_request_error');

    res.on('close', () => {
      if (!res.writableEnded) hangUps++;
    });
    const includeUsage = (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
    const pieces = (options.answer ?? 'The dialog says the disk is full.').split(/(?<= )/);
    const maxTokens = typeof body.max_tokens === 'number' ? body.max_tokens : Infinity;
    const sent = pieces.slice(0, maxTokens);
    const id = 'chatcmpl-stand-in';
    const base = { id, object: 'chat.completion.chunk', created: 1_700_000_000, model, ...(mode === 'ollama' ? { system_fingerprint: 'fp_ollama' } : {}) };
    const event = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      res.write(`data: ${JSON.stringify({ ...base, choices, ...(includeUsage ? { usage: null } : {}), ...extra })}\n\n`);
    const delta = (content: string, finish: string | null = null) =>
      event([{ index: 0, delta: mode === 'ollama' ? { role: 'assistant', content } : { content }, logprobs: null, finish_reason: finish }]);

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    if (mode === 'vllm') event([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
    if (options.behaviour === 'malformed') {
      delta(sent[0] ?? '');
      return res.end('data: {"choices": [{"delta": {"content": "cut\n\n');
    }
    for (const [i, piece] of sent.entries()) {
      // Once the first two pieces are on the wire (a destroy drops what is still buffered), the socket goes.
      if (options.behaviour === 'close-mid-stream' && i === 2) return void res.write('', () => res.socket?.destroy());
      if (options.behaviour === 'stall' && i === 1) return; // headers and one piece sent; then silence, held open
      delta(piece);
    }
    delta('', sent.length < pieces.length ? 'length' : 'stop');
    if (includeUsage) {
      const promptTokens = words(messages) + urls.map(pngSize).reduce((sum, size) => sum + (size ? (size.width * size.height) / 784 : 0), 0);
      event([], { usage: { prompt_tokens: promptTokens, completion_tokens: sent.length, total_tokens: promptTokens + sent.length } });
    }
    res.end('data: [DONE]\n\n');
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    address: `127.0.0.1:${port}`,
    requests,
    hangUps: () => hangUps,
    set: (changes) => {
      options = { ...options, ...changes };
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
