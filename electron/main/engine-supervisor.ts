/**
 * The main process's side of the model process: starts it, correlates requests with replies, turns an ask into an
 * async-iterable stream, and recovers from crashes. The main process never runs inference and never waits
 * synchronously on the model process: a stuck or dead model must not freeze the tray, the hotkey or the windows.
 *
 * Crash recovery: when the process dies, every request in flight fails with one clear line, a new process is started
 * and the last model is loaded again with the same options; status events (`restarting` → `loading` → `ready`) let
 * the tray and the UI say what is going on. Conversations do not survive (their KV caches lived in the dead process):
 * a follow-up on one is refused with a message saying to start a new conversation. After `maxCrashes` crashes within
 * `crashWindowMs` the supervisor stops restarting (a model that crashes on load would otherwise loop forever) and
 * every request fails with that reason until `load()` is called again.
 */
import {
  parseReply,
  request,
  type AnswerPayload,
  type EngineReply,
  type ImageSource,
  type ModelInfo,
  type RequestReply,
  type UnversionedRequest,
} from '../shared/engine-protocol.js';
import type { GenerationOptions } from '../../native-models/generation/settings.js';
import { utilityEntrySource, type ChildHandle, type ExitInfo, type ProcessLauncher } from './process-launcher.js';

/** A failed request. `message` is one line for the user; `userError` says they can fix it (vs. a bug or a crash). */
export class EngineError extends Error {
  override name = 'EngineError';
  constructor(
    message: string,
    readonly userError: boolean,
  ) {
    super(message);
  }
}

export type EngineStatus =
  | { readonly state: 'stopped' }
  | { readonly state: 'starting' }
  /** The process runs, no model is loaded. */
  | { readonly state: 'idle' }
  | { readonly state: 'loading'; readonly dir: string }
  | { readonly state: 'ready'; readonly model: ModelInfo }
  | { readonly state: 'restarting'; readonly reason: string }
  | { readonly state: 'error'; readonly message: string };

export interface LoadParams {
  readonly dir: string;
  readonly precision?: ModelInfo['precision'] | 'auto';
  readonly device?: 'auto' | 'cpu' | 'webgpu' | 'cuda' | 'dml' | 'coreml';
  readonly threads?: number;
}

export interface AskParams {
  readonly conversationId: string;
  /** Opens a new conversation under `conversationId`; leave out for a follow-up on an existing one. */
  readonly start?: { readonly image?: ImageSource; readonly detail?: 'low' | 'high'; readonly readAhead?: string };
  readonly question: string;
  readonly options?: GenerationOptions;
}

export interface ReadAheadParams {
  readonly image: ImageSource;
  readonly detail?: 'low' | 'high';
  readonly useCache?: boolean;
}
export interface ServerImageParams {
  readonly image: ImageSource;
  readonly detail: 'low' | 'high';
  readonly maxPixels?: number;
}
/** A capture sized for a server: PNG bytes and their size (the protocol's `server-image` reply). */
export type SizedServerImage = Omit<Extract<RequestReply, { type: 'server-image' }>, 'v' | 'type' | 'requestId'>;

export type ReadAheadProgressEvent = Extract<RequestReply, { type: 'read-ahead-progress' }>['progress'];
export type ReadAheadDone = Omit<Extract<RequestReply, { type: 'read-ahead-done' }>, 'v' | 'type' | 'requestId'>;

/** A capture being read ahead: its id (for the ask that takes it over, and for cancel) and how it ends. */
export interface ReadAheadHandle {
  readonly requestId: string;
  readonly result: Promise<ReadAheadDone>;
}

export type AskEvent =
  | { readonly type: 'progress'; readonly stage: Extract<RequestReply, { type: 'progress' }>['stage'] }
  | { readonly type: 'warning'; readonly message: string }
  | { readonly type: 'token'; readonly text: string; readonly tokenId?: number }
  | { readonly type: 'done'; readonly answer: AnswerPayload };

/**
 * One answer: iterate it for the events (it throws an EngineError if the answer fails), or await `result`. Leaving
 * the loop early cancels the answer.
 */
export interface AskStream extends AsyncIterable<AskEvent> {
  readonly requestId: string;
  readonly result: Promise<AnswerPayload>;
  cancel(): void;
}

export interface EngineSupervisorOptions {
  readonly launcher: ProcessLauncher;
  /** The utility entry module; default the TypeScript source (fine for the Node launcher with tsx). */
  readonly entry?: string;
  readonly args?: readonly string[];
  /** Crashes tolerated within `crashWindowMs` before giving up (default 3 in 60 s). */
  readonly maxCrashes?: number;
  readonly crashWindowMs?: number;
  /** Wait before the n-th restart in the window (n from 1); default 200 ms doubling, so a crash loop does not spin. */
  readonly restartDelayMs?: (crashCount: number) => number;
  /** Where the model process keeps what it derives from a model (the rewritten decoder), sent with every load. */
  readonly cacheDir?: string;
}

interface Pending {
  onReply(reply: RequestReply): void;
  fail(error: EngineError): void;
}

/** A single-consumer queue that an ask fills from replies and its caller drains with `for await`. */
class EventQueue<T> {
  private readonly items: T[] = [];
  private waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined;
  private state: { ended: false } | { ended: true; error?: unknown } = { ended: false };

  push(item: T): void {
    if (this.state.ended) return;
    if (this.waiter) {
      this.waiter.resolve({ value: item, done: false });
      this.waiter = undefined;
    } else this.items.push(item);
  }

  end(error?: unknown): void {
    if (this.state.ended) return;
    this.state = error === undefined ? { ended: true } : { ended: true, error };
    if (this.waiter && this.items.length === 0) this.settle(this.waiter);
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      if (this.state.ended) this.settle(this.waiter);
    });
  }

  private settle(waiter: NonNullable<EventQueue<T>['waiter']>): void {
    this.waiter = undefined;
    if (this.state.ended && this.state.error !== undefined) {
      const { error } = this.state;
      this.state = { ended: true }; // throw once, then report the end
      waiter.reject(error);
    } else waiter.resolve({ value: undefined, done: true });
  }
}

function describeExit({ code, signal }: ExitInfo): string {
  if (signal) return `killed by ${signal}`;
  return code === null ? 'no exit code' : `exit code ${code}`;
}

export class EngineSupervisor {
  private child: ChildHandle | undefined;
  private childReady: Promise<void> | undefined;
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;
  private lastLoad: LoadParams | undefined;
  /** Set while a crashed process is being replaced; requests wait for it. */
  private recovering: Promise<void> | undefined;
  /** Counts process replacements, so an outdated recovery does not report over a newer one. */
  private generation = 0;
  private crashTimes: number[] = [];
  private gaveUp: EngineError | undefined;
  private stopping = false;
  private currentStatus: EngineStatus = { state: 'stopped' };
  private readonly listeners = new Set<(status: EngineStatus) => void>();
  private readonly maxCrashes: number;
  private readonly crashWindowMs: number;
  private readonly restartDelayMs: (crashCount: number) => number;

  constructor(private readonly options: EngineSupervisorOptions) {
    this.maxCrashes = options.maxCrashes ?? 3;
    this.crashWindowMs = options.crashWindowMs ?? 60_000;
    this.restartDelayMs = options.restartDelayMs ?? ((n) => 200 * 2 ** (n - 1));
  }

  get status(): EngineStatus {
    return this.currentStatus;
  }

  /** The model process's pid, while one runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Subscribes to status changes; returns the unsubscribe function. */
  onStatus(listener: (status: EngineStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts the model process (requests also start it on demand). */
  async start(): Promise<void> {
    this.stopping = false;
    await this.usable();
  }

  /** Loads a model (replacing any loaded one) and remembers the options for reloads after a crash. */
  async load(params: LoadParams): Promise<ModelInfo> {
    // An explicit load is the user's "try again": it lifts a give-up and starts afresh.
    this.gaveUp = undefined;
    this.crashTimes = [];
    this.stopping = false;
    await this.usable();
    return this.loadNow(params);
  }

  ask(params: AskParams, transfer?: { readonly port: unknown }): AskStream {
    const requestId = this.newId();
    const queue = new EventQueue<AskEvent>();
    let settled = false;
    let cancelled = false;
    let posted = false;
    let resolveResult!: (answer: AnswerPayload) => void;
    let rejectResult!: (error: unknown) => void;
    const result = new Promise<AnswerPayload>((resolve, reject) => ((resolveResult = resolve), (rejectResult = reject)));
    result.catch(() => undefined); // a caller that only iterates must not get an unhandled rejection
    const finish = (error?: EngineError, answer?: AnswerPayload): void => {
      if (settled) return;
      settled = true;
      this.pending.delete(requestId);
      queue.end(error);
      if (error) rejectResult(error);
      else resolveResult(answer!);
    };
    const cancel = (): void => {
      if (settled || cancelled) return;
      cancelled = true;
      if (posted) this.post({ type: 'cancel', requestId });
    };

    void (async () => {
      try {
        await this.usable();
      } catch (error) {
        return finish(error instanceof EngineError ? error : new EngineError(String(error), false));
      }
      // The process may have died since it became usable; its exit already failed what was registered then.
      if (!this.child) return finish(this.notRunning());
      this.pending.set(requestId, {
        onReply: (reply) => {
          if (reply.type === 'progress') queue.push({ type: 'progress', stage: reply.stage });
          else if (reply.type === 'warning') queue.push({ type: 'warning', message: reply.message });
          else if (reply.type === 'token') queue.push({ type: 'token', text: reply.text, ...(reply.tokenId !== undefined ? { tokenId: reply.tokenId } : {}) });
          else if (reply.type === 'done') {
            queue.push({ type: 'done', answer: reply.answer });
            finish(undefined, reply.answer);
          } else if (reply.type === 'error') finish(new EngineError(reply.message, reply.userError));
        },
        fail: (error) => finish(error),
      });
      const { conversationId, start, question, options } = params;
      this.post(
        { type: 'ask', requestId, conversationId, question, ...(start ? { start } : {}), ...(options ? { options } : {}) },
        transfer ? [transfer.port] : undefined,
      );
      posted = true;
      if (cancelled) this.post({ type: 'cancel', requestId });
    })();

    return {
      requestId,
      result,
      cancel,
      [Symbol.asyncIterator]: () => ({
        next: () => queue.next(),
        return: async () => {
          cancel(); // leaving the loop early means the answer is no longer wanted
          return { value: undefined, done: true };
        },
      }),
    };
  }

  /**
   * Starts reading a capture ahead of its first question. Rejects with an EngineError when it fails (the ask then
   * meets the problem again and reports it); `cancel(requestId)` drops it and its memory in the model process.
   */
  readAhead(params: ReadAheadParams, onProgress: (progress: ReadAheadProgressEvent) => void = () => {}): ReadAheadHandle {
    const requestId = this.newId();
    const result = this.call({ type: 'read-ahead', requestId, ...params }, 'read-ahead-done', (reply) => {
      if (reply.type === 'read-ahead-progress') onProgress(reply.progress);
    }).then(({ tokens, ms, stopped }) => ({ tokens, ms, stopped }));
    result.catch(() => undefined);
    return { requestId, result };
  }

  /**
   * Sizes a capture for a server in the model process (which may load sharp; this process may not). Needs no model
   * loaded; starts the process if it is not running. Rejects with an EngineError (an unreadable image: userError).
   */
  async prepareServerImage(params: ServerImageParams): Promise<SizedServerImage> {
    const { png, width, height } = await this.call({ type: 'prepare-server-image', requestId: this.newId(), ...params }, 'server-image');
    return { png, width, height };
  }

  /**
   * Serves the loaded model to other programs on 127.0.0.1:`port` (0: any free port), from the model process; every
   * load there serves the new model. Resolves to the base URL, or null while no model is loaded (it starts with the
   * load). Rejects with a one-line EngineError (a port in use: userError, naming the port and the fix).
   */
  async serve(port: number): Promise<string | null> {
    const { url } = await this.call({ type: 'serve', requestId: this.newId(), port }, 'serving');
    return url;
  }

  /** Stops serving (connections to it are then refused). */
  async stopServing(): Promise<void> {
    await this.call({ type: 'stop-serving', requestId: this.newId() }, 'serving');
  }

  /** Cancels an ask or a read-ahead by id (an ask ends with stopReason `cancelled` and keeps its partial answer). */
  cancel(requestId: string): void {
    if (this.pending.has(requestId)) this.post({ type: 'cancel', requestId });
  }

  async closeConversation(conversationId: string): Promise<void> {
    await this.call({ type: 'close-conversation', requestId: this.newId(), conversationId }, 'ack');
  }

  async unload(): Promise<void> {
    this.lastLoad = undefined;
    await this.call({ type: 'unload', requestId: this.newId() }, 'ack');
    this.setStatus({ state: 'idle' });
  }

  /** Round trip to the model process, in ms (late while it is busy in a long prefill: its thread is blocking). */
  async ping(): Promise<number> {
    const start = performance.now();
    await this.call({ type: 'ping', requestId: this.newId() }, 'heartbeat');
    return performance.now() - start;
  }

  /** Stops the model process for good (app quit); requests in flight fail. */
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child) return this.setStatus({ state: 'stopped' });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    child.kill();
    await exited;
  }

  // -------------------------------------------------------------------------------------------------------------

  private notRunning(): EngineError {
    return new EngineError('The model process stopped before the request could be sent; try again.', false);
  }

  private newId(): string {
    return `r${this.nextId++}`;
  }

  private setStatus(status: EngineStatus): void {
    this.currentStatus = status;
    for (const listener of this.listeners) {
      try {
        listener(status);
      } catch (error) {
        console.error('screenask: a status listener failed:', error);
      }
    }
  }

  private post(message: UnversionedRequest, transfer?: readonly unknown[]): void {
    this.child?.postMessage(request(message), transfer);
  }

  /** Waits until a live process can take requests: after a recovery, or by starting one. */
  private async usable(): Promise<void> {
    // A loop: a crash during a recovery replaces `recovering` before the old one settles.
    while (this.recovering) await this.recovering.catch(() => undefined);
    if (this.gaveUp) throw this.gaveUp;
    if (this.stopping) throw new EngineError('The model process was stopped.', false);
    if (!this.child) this.spawn();
    await this.childReady;
  }

  private spawn(): void {
    const child = this.options.launcher.fork(this.options.entry ?? utilityEntrySource, this.options.args ?? []);
    this.child = child;
    if (this.currentStatus.state === 'stopped' || this.currentStatus.state === 'error') this.setStatus({ state: 'starting' });
    this.childReady = new Promise<void>((resolve, reject) => {
      child.on('message', (raw) => {
        const parsed = parseReply(raw);
        if (!parsed.ok) return this.rejectReply(parsed.requestId, parsed.error);
        if (parsed.message.type === 'ready') {
          if (this.currentStatus.state === 'starting') this.setStatus({ state: 'idle' });
          return resolve();
        }
        this.route(parsed.message);
      });
      child.on('exit', (info) => {
        reject(new EngineError(`The model process stopped while starting (${describeExit(info)}).`, false));
        this.onExit(child, info);
      });
    });
    this.childReady.catch(() => undefined); // observed by usable(); the exit handler reports the failure
  }

  private route(reply: Exclude<EngineReply, { type: 'ready' }>): void {
    if (reply.requestId === null) {
      // A message of ours the process could not even attribute: a bug on this side, worth a log line.
      console.error(`screenask: the model process rejected a message: ${reply.type === 'error' ? reply.message : reply.type}`);
      return;
    }
    this.pending.get(reply.requestId)?.onReply(reply);
  }

  /** A malformed reply is never trusted, but it must not leave its request waiting forever either. */
  private rejectReply(requestId: string | null, error: string): void {
    const pending = requestId === null ? undefined : this.pending.get(requestId);
    const message = `The model process sent a malformed reply (${error}).`;
    if (pending) pending.fail(new EngineError(message, false));
    else console.error(`screenask: ${message}`);
  }

  /** One request with a single expected reply type (`loaded`, `ack`, `heartbeat`), once the process is usable. */
  private async call<T extends RequestReply['type']>(
    message: UnversionedRequest & { requestId: string },
    expected: T,
    onOther?: (reply: RequestReply) => void,
  ): Promise<Extract<RequestReply, { type: T }>> {
    await this.usable();
    return this.callNow(message, expected, onOther);
  }

  /** `call` without waiting for usability: the recovery itself uses it (waiting would wait for itself). */
  private callNow<T extends RequestReply['type']>(
    message: UnversionedRequest & { requestId: string },
    expected: T,
    onOther?: (reply: RequestReply) => void,
  ): Promise<Extract<RequestReply, { type: T }>> {
    return new Promise((resolve, reject) => {
      if (!this.child) return reject(this.notRunning());
      const { requestId } = message;
      this.pending.set(requestId, {
        onReply: (reply) => {
          if (reply.type === expected) {
            this.pending.delete(requestId);
            resolve(reply as Extract<RequestReply, { type: T }>);
          } else if (reply.type === 'error') {
            this.pending.delete(requestId);
            reject(new EngineError(reply.message, reply.userError));
          } else onOther?.(reply);
        },
        fail: (error) => {
          this.pending.delete(requestId);
          reject(error);
        },
      });
      this.post(message);
    });
  }

  private async loadNow(params: LoadParams): Promise<ModelInfo> {
    this.setStatus({ state: 'loading', dir: params.dir });
    try {
      const cacheDir = this.options.cacheDir;
      const { model } = await this.callNow({ type: 'load', requestId: this.newId(), ...params, ...(cacheDir ? { cacheDir } : {}) }, 'loaded');
      this.lastLoad = params;
      this.setStatus({ state: 'ready', model });
      return model;
    } catch (error) {
      // A crash during the load reports itself (restarting); anything else leaves no model loaded in the process.
      if (error instanceof EngineError && !error.message.startsWith('The model process stopped')) {
        this.lastLoad = undefined;
        this.setStatus({ state: 'error', message: error.message });
      }
      throw error;
    }
  }

  private onExit(child: ChildHandle, info: ExitInfo): void {
    if (child !== this.child) return;
    this.child = undefined;
    this.childReady = undefined;
    const reason = describeExit(info);
    if (this.stopping) {
      this.failAll(new EngineError('The model process was stopped.', false));
      return this.setStatus({ state: 'stopped' });
    }
    this.failAll(new EngineError(`The model process stopped unexpectedly (${reason}); restarting it.`, false));

    const now = Date.now();
    this.crashTimes = [...this.crashTimes.filter((t) => now - t < this.crashWindowMs), now];
    if (this.crashTimes.length >= this.maxCrashes) {
      const seconds = Math.round(this.crashWindowMs / 1000);
      this.gaveUp = new EngineError(
        `The model process stopped ${this.crashTimes.length} times within ${seconds} s (last: ${reason}); ` +
          'ScreenAsk stopped restarting it. Check the model folder and the device setting, then load the model again.',
        false,
      );
      return this.setStatus({ state: 'error', message: this.gaveUp.message });
    }

    const generation = ++this.generation;
    this.setStatus({ state: 'restarting', reason });
    const delay = this.restartDelayMs(this.crashTimes.length);
    this.recovering = (async () => {
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (this.stopping) return;
      this.spawn();
      await this.childReady;
      const params = this.lastLoad;
      if (params) await this.loadNow(params);
      else this.setStatus({ state: 'idle' });
    })()
      .catch((error: unknown) => {
        // A newer crash has taken over the reporting; otherwise say why recovery failed.
        if (generation === this.generation && this.currentStatus.state !== 'error' && !this.gaveUp) {
          this.setStatus({ state: 'error', message: error instanceof Error ? error.message : String(error) });
        }
      })
      .finally(() => {
        if (generation === this.generation) this.recovering = undefined;
      });
  }

  private failAll(error: EngineError): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.fail(error);
  }
}
