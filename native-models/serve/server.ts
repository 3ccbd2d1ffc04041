// The HTTP side: routes, the key, limits and the queue, around one loaded model. Binds only where asked and makes no
// connection of its own.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { ImageDetail } from '../families/family.js';
import type { Model } from '../index.js';
import { ScreenAskError } from '../model/errors.js';
import { checkApiKey } from './auth.js';
import { readJson } from './body.js';
import { answerChat, type CompletionRecord } from './chat.js';
import { ConversationKeeper } from './conversation-keeper.js';
import { ApiError, toApiError } from './errors.js';
import { baseUrl } from './host.js';
import { planConversation } from './messages.js';
import { modelEntry, modelList } from './openai-format.js';
import { LeftQueueError, ModelQueue } from './queue.js';
import { parseChatRequest } from './schema.js';
import { answerSettings } from './settings.js';

export interface ServerLimits {
  /** Largest request body (default 32 MiB: a 20 MiB image as base64, and room for the messages). */
  readonly bodyBytes: number;
  /** Largest image, decoded (default 20 MiB, as OpenAI's). */
  readonly imageBytes: number;
  /** Requests that may wait while one is answered (default 8); one more gets a 429. */
  readonly queue: number;
}

export const defaultLimits: ServerLimits = { bodyBytes: 32 * 1024 * 1024, imageBytes: 20 * 1024 * 1024, queue: 8 };

export interface ServerOptions {
  readonly model: Model;
  /** The id clients name the model by (default: the model folder's name). */
  readonly modelId?: string;
  /** When set, every request needs `Authorization: Bearer KEY`. */
  readonly apiKey?: string;
  /** Detail for an image sent without one or with `auto` (default high). */
  readonly detail?: ImageDetail;
  readonly limits?: Partial<ServerLimits>;
  /**
   * Resolves when the model may answer a request (or when `signal` aborts): a host whose model also answers its own
   * user (the app's model process) makes requests wait here, after their turn in the queue, until its answers are done.
   */
  readonly waitTurn?: (signal: AbortSignal) => Promise<void>;
  /** Called after each completion (the CLI logs it). */
  readonly onCompletion?: (record: CompletionRecord) => void;
  /** Called with each failure that became a 500, whose details stay out of the response. */
  readonly onInternalError?: (error: unknown) => void;
}

const routes: Record<string, string> = { '/v1/models': 'GET', '/v1/chat/completions': 'POST' };

export class ChatServer {
  readonly modelId: string;
  /** The line of requests for the model; exposed so that a host can see how busy it is. */
  readonly queue: ModelQueue;
  private readonly limits: ServerLimits;
  private readonly keeper = new ConversationKeeper();
  private readonly http: Server;
  /** Every answer in progress or waiting: closing the server stops them. */
  private readonly inFlight = new Set<AbortController>();
  private readonly created = Math.floor(Date.now() / 1000);

  constructor(private readonly options: ServerOptions) {
    this.modelId = options.modelId ?? path.basename(path.resolve(options.model.dir));
    this.limits = { ...defaultLimits, ...options.limits };
    this.queue = new ModelQueue(this.limits.queue);
    this.http = createServer((req, res) => void this.handle(req, res));
  }

  /** Listens on `host:port` (port 0: any free one) and returns the base URL, `http://HOST:PORT/v1`. */
  async listen(host: string, port: number): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => reject(listenProblem(error, host, port));
      this.http.once('error', onError);
      this.http.listen(port, host, () => {
        this.http.off('error', onError);
        resolve();
      });
    });
    return baseUrl(host, (this.http.address() as AddressInfo).port);
  }

  /**
   * Stops listening, stops every answer in progress or waiting (their connections are cut: the answers are not
   * whole), and resolves once the model is free, so that it can be released without a run in progress.
   */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    for (const controller of this.inFlight) controller.abort();
    this.http.closeAllConnections();
    await Promise.all([closed, this.queue.idle()]);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const controller = new AbortController();
    // A client that hangs up (the response closes before it ended) cancels its request, waiting or answering.
    res.once('close', () => {
      if (!res.writableEnded) controller.abort();
    });
    this.inFlight.add(controller);
    try {
      await this.route(req, res, controller.signal);
    } catch (error) {
      if (error instanceof LeftQueueError || controller.signal.aborted) return;
      const apiError = toApiError(error);
      if (apiError.status === 500) this.options.onInternalError?.(error);
      if (res.headersSent) return void res.end();
      res.writeHead(apiError.status, { 'Content-Type': 'application/json', ...apiError.details.headers });
      res.end(JSON.stringify(apiError.body));
    } finally {
      this.inFlight.delete(controller);
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://server');
    const route = url.pathname.replace(/\/+$/, '');
    // No page of this server is ever in a browser, and it sends no CORS headers: a request a web page made is
    // refused outright, so that a site the user visits cannot use the model on their behalf.
    if (req.headers.origin !== undefined) {
      throw new ApiError(403, 'Requests from web pages (with an Origin header) are refused: call the server from a program, not a browser page.', { code: 'origin_refused' });
    }
    checkApiKey(req.headers.authorization, this.options.apiKey);
    const modelRoute = route.startsWith('/v1/models/') ? decodeURIComponent(route.slice('/v1/models/'.length)) : undefined;
    const allowed = modelRoute !== undefined ? 'GET' : routes[route];
    if (!allowed) {
      throw new ApiError(404, `Unknown route ${req.method} ${url.pathname}: this server offers GET /v1/models and POST /v1/chat/completions.`, { code: 'unknown_url' });
    }
    if (req.method !== allowed) {
      throw new ApiError(405, `${req.method} is not allowed on ${url.pathname}: use ${allowed}.`, { code: 'method_not_allowed', headers: { Allow: allowed } });
    }
    if (modelRoute !== undefined) {
      this.assertModel(modelRoute, undefined);
      return sendJson(res, modelEntry(this.modelId, this.created));
    }
    if (route === '/v1/models') return sendJson(res, modelList(this.modelId, this.created));

    const request = parseChatRequest(await readJson(req, this.limits.bodyBytes));
    this.assertModel(request.model, 'model');
    const settings = answerSettings(request);
    const plan = planConversation(request.messages, { defaultDetail: this.options.detail ?? 'high', maxImageBytes: this.limits.imageBytes });
    const record = await this.queue.run(async () => {
      await this.options.waitTurn?.(signal);
      if (signal.aborted) throw new LeftQueueError('the client left while its request waited for the model');
      return answerChat({ model: this.options.model, modelId: this.modelId, keeper: this.keeper, plan, settings, signal }, res);
    }, signal);
    this.options.onCompletion?.(record);
  }

  private assertModel(id: string, param: string | undefined): void {
    if (id === this.modelId) return;
    throw new ApiError(404, `The model "${id}" does not exist here: this server has "${this.modelId}" (GET /v1/models).`, {
      code: 'model_not_found',
      ...(param ? { param } : {}),
    });
  }
}

function sendJson(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

function listenProblem(error: NodeJS.ErrnoException, host: string, port: number): Error {
  if (error.code === 'EADDRINUSE') return new ScreenAskError(`Port ${port} on ${host} is in use: pick another with --port N (or --port 0 for any free one).`);
  if (error.code === 'EACCES') return new ScreenAskError(`Listening on port ${port} needs privileges: use a port above 1023 (or --port 0).`);
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') {
    return new ScreenAskError(`${host} is not an address of this computer: use --host 127.0.0.1 (or an address this computer has).`);
  }
  return error;
}
