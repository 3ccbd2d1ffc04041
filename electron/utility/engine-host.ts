/**
 * The engine inside the utility process, independent of how messages arrive (Electron's parentPort, Node's IPC
 * channel, or a direct call in tests). It owns the loaded model and the conversations by id, and turns protocol
 * requests into engine calls and engine events into protocol replies.
 *
 * Never blocks and never throws at its caller: every request runs as its own task, so a `cancel` is handled between
 * two decoder steps of a running answer, and every failure becomes an `error` reply.
 */
import { loadModel, ScreenAskError, type Conversation, type Model } from '../../native-models/index.js';
import { encodeServerImage } from '../../native-models/remote/server-image.js';
import { ModelServing } from './model-serving.js';
import {
  parseRequest,
  reply,
  type AskRequest,
  type EngineReply,
  type EngineRequest,
  type LoadRequest,
  type ModelInfo,
  type PrepareServerImageRequest,
  type ReadAheadRequest,
  type ServeRequest,
  type UnversionedReply,
} from '../shared/engine-protocol.js';

/**
 * Where a renderer's stream goes: Electron's MessagePortMain (or a DOM MessagePort) transferred with an ask. Only
 * `postMessage` is needed; `close` ends the renderer's side when the answer is over.
 */
export interface ReplyPort {
  postMessage(message: unknown): void;
  close?(): void;
}

export interface EngineHost {
  /**
   * Handles one raw message. `ports` are the MessagePorts transferred with it (Electron's `event.ports`): with an
   * ask, the first one receives that answer's warning/token/done/error replies. Resolves when the request is finished;
   * never rejects.
   */
  handle(message: unknown, ports?: readonly ReplyPort[]): Promise<void>;
  /** Cancels every answer and releases the model (before the process exits). */
  dispose(): Promise<void>;
}

interface ConversationEntry {
  readonly conversation: Conversation;
  /** The request currently answering in this conversation, if any: one answer at a time per conversation. */
  activeRequest: string | undefined;
  /** The read-ahead its first ask took over, until that ask starts: cancelling the ask stops it. */
  readAhead?: AbortController | undefined;
}

interface RunningAsk {
  readonly controller: AbortController;
  readonly finished: Promise<void>;
  readonly conversation: Conversation;
}

/** A capture being read ahead of its first question, until an ask takes it over or it is cancelled. */
interface ReadAheadEntry {
  readonly conversation: Conversation;
  readonly detail: 'low' | 'high' | undefined;
  readonly controller: AbortController;
  /**
   * Set when an ask takes it over: its work is then that answer's own (as an encode without a read-ahead would be),
   * so it no longer waits for other answers. Waiting would deadlock two asks that each wait for their own read-ahead.
   */
  claimed: boolean;
}

/** One line for the user: ScreenAskErrors already are; anything else is a bug, so say where it happened. */
function describeError(error: unknown): { message: string; userError: boolean } {
  const userError = error instanceof ScreenAskError;
  const text = error instanceof Error ? error.message : String(error);
  const line = text.split('\n').find((l) => l.trim() !== '')?.trim() ?? 'unknown error';
  return { message: userError ? line : `Internal error in the model process: ${line}`, userError };
}

/** The screenshot size `imageTokens` is reported for: the most common display, so the figure means something. */
const REFERENCE_SCREENSHOT = { width: 1920, height: 1080 } as const;

function modelInfo(model: Model): ModelInfo {
  return {
    dir: model.dir,
    family: model.family,
    precision: model.precision,
    precisions: [...model.precisions],
    provider: model.provider,
    warnings: [...model.warnings],
    decoderRewrites: { applied: [...model.decoderRewrites.applied], skipped: [...model.decoderRewrites.skipped] },
    imageTokens: {
      low: model.imageTokenCount(REFERENCE_SCREENSHOT, 'low'),
      high: model.imageTokenCount(REFERENCE_SCREENSHOT, 'high'),
    },
  };
}

export function createEngineHost(send: (message: EngineReply) => void): EngineHost {
  const started = performance.now();
  let model: Model | undefined;
  /** Set while a load or unload runs: asks wait for neither, they are refused with a clear error instead. */
  let modelChange: Promise<void> | undefined;
  const conversations = new Map<string, ConversationEntry>();
  const asks = new Map<string, RunningAsk>();
  const readAheads = new Map<string, ReadAheadEntry>();
  /** Read-aheads waiting for the answers of other conversations to end. */
  const waitingForTurn = new Set<() => void>();

  const post = (message: UnversionedReply): void => {
    try {
      send(reply(message));
    } catch (error) {
      // The channel is gone (parent exited): nothing to tell anyone; the process is about to be reaped.
      console.error(`screenask engine host: could not send a ${message.type} reply: ${describeError(error).message}`);
    }
  };
  const fail = (requestId: string | null, error: unknown): void => post({ type: 'error', requestId, ...describeError(error) });

  /** Cancels every answer and waits for them to end, so no decoder step runs on sessions being released. */
  async function stopAllAsks(): Promise<void> {
    for (const entry of readAheads.values()) entry.controller.abort();
    readAheads.clear();
    for (const ask of asks.values()) ask.controller.abort();
    await Promise.all([...asks.values()].map((a) => a.finished));
    conversations.clear();
  }

  /** Lets every waiting read-ahead check again whether it may go on. */
  function wakeReadAheads(): void {
    for (const check of [...waitingForTurn]) check();
  }

  /**
   * Resolves when no other conversation is answering. Each unit of a read-ahead (a vision call, the prefill) holds
   * this process's thread for up to seconds: between tokens of an answer streaming in another window it would stall
   * that answer, so it waits instead. An ask on the read-ahead's own conversation does not count: it waits for it.
   * Once an ask has taken it over it waits for nothing (it is that answer's work now), and once cancelled it goes on
   * at once to its stop, so that what it holds is freed now rather than when the other answer ends.
   */
  function turnFor(entry: ReadAheadEntry): Promise<void> {
    const free = () =>
      entry.claimed || entry.controller.signal.aborted || [...asks.values()].every((ask) => ask.conversation === entry.conversation);
    if (free()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!free()) return;
        waitingForTurn.delete(check);
        entry.controller.signal.removeEventListener('abort', check);
        resolve();
      };
      waitingForTurn.add(check);
      entry.controller.signal.addEventListener('abort', check);
    });
  }

  async function readAhead(request: ReadAheadRequest): Promise<void> {
    const { requestId } = request;
    if (!model || modelChange) {
      throw new ScreenAskError(modelChange ? 'The model is still loading: the capture is read when you ask.' : 'No model is loaded: load a model first.');
    }
    if (readAheads.has(requestId) || asks.has(requestId)) throw new ScreenAskError(`Request id ${requestId} is already in use (a bug in the caller).`);
    const image = request.image.kind === 'path' ? request.image.path : request.image.bytes;
    const entry: ReadAheadEntry = {
      conversation: model.startConversation({ image, ...(request.detail ? { detail: request.detail } : {}) }),
      detail: request.detail,
      controller: new AbortController(),
      claimed: false,
    };
    readAheads.set(requestId, entry);
    try {
      const result = await entry.conversation.readAhead({
        signal: entry.controller.signal,
        pause: () => turnFor(entry),
        onProgress: (progress) => post({ type: 'read-ahead-progress', requestId, progress }),
        ...(request.useCache !== undefined ? { useCache: request.useCache } : {}),
      });
      post({ type: 'read-ahead-done', requestId, ...result });
    } catch (error) {
      readAheads.delete(requestId);
      fail(requestId, error);
    }
  }

  function cancel(requestId: string): void {
    // An unknown id is not an error: the answer may have finished while the cancel was on its way.
    asks.get(requestId)?.controller.abort();
    const entry = readAheads.get(requestId);
    if (entry) {
      entry.controller.abort();
      // Its conversation, cache and partial features go with it (the image-feature cache keeps only whole images).
      readAheads.delete(requestId);
    }
  }

  async function releaseModel(): Promise<void> {
    await serving.suspend(); // its answers stop before the model they run on is released
    await stopAllAsks();
    const old = model;
    model = undefined;
    await old?.dispose();
  }

  async function changeModel(requestId: string, change: () => Promise<void>): Promise<void> {
    if (modelChange) {
      fail(requestId, new ScreenAskError('The model is already being loaded or unloaded: wait for it to finish.'));
      return;
    }
    modelChange = change();
    try {
      await modelChange;
    } catch (error) {
      fail(requestId, error);
    } finally {
      modelChange = undefined;
    }
  }

  async function load(request: LoadRequest): Promise<void> {
    await changeModel(request.requestId, async () => {
      post({ type: 'progress', requestId: request.requestId, stage: 'loading-model' });
      await releaseModel(); // one model at a time: two would double the memory of the biggest thing in the app
      const { dir, precision, device, threads, cacheDir } = request;
      model = await loadModel(dir, {
        ...(precision ? { precision } : {}),
        ...(device ? { device } : {}),
        ...(threads ? { threads } : {}),
        ...(cacheDir ? { cacheDir } : {}),
      });
      await serving.resume(model);
      post({ type: 'loaded', requestId: request.requestId, model: modelInfo(model) });
    });
  }

  async function unload(requestId: string): Promise<void> {
    await changeModel(requestId, async () => {
      await releaseModel();
      post({ type: 'ack', requestId });
    });
  }

  /** The read-ahead an ask takes over, out of the read-aheads (once); none if it is gone or read another detail. */
  function takeReadAhead(id: string | undefined, detail: 'low' | 'high' | undefined): ReadAheadEntry | undefined {
    const entry = id === undefined ? undefined : readAheads.get(id);
    if (!entry) return undefined;
    readAheads.delete(id!);
    if (entry.detail !== detail) {
      entry.controller.abort();
      return undefined;
    }
    entry.claimed = true;
    wakeReadAheads();
    return entry;
  }

  function openConversation(request: AskRequest): ConversationEntry {
    if (!model || modelChange) {
      throw new ScreenAskError(modelChange ? 'The model is still loading: ask again when it is ready.' : 'No model is loaded: load a model first.');
    }
    const { conversationId, start } = request;
    if (start) {
      if (conversations.has(conversationId)) {
        throw new ScreenAskError(`Conversation ${conversationId} already exists: use a new id to start another one.`);
      }
      const image = start.image && (start.image.kind === 'path' ? start.image.path : start.image.bytes);
      const taken = takeReadAhead(start.readAhead, start.detail);
      const entry: ConversationEntry = {
        conversation: taken?.conversation ?? model.startConversation({ ...(image ? { image } : {}), ...(start.detail ? { detail: start.detail } : {}) }),
        activeRequest: undefined,
        readAhead: taken?.controller,
      };
      conversations.set(conversationId, entry);
      return entry;
    }
    const entry = conversations.get(conversationId);
    if (!entry) {
      throw new ScreenAskError(
        `Unknown conversation ${conversationId}: it was closed, or the model was reloaded; start a new conversation.`,
      );
    }
    if (entry.activeRequest !== undefined) {
      throw new ScreenAskError('This conversation is still answering: wait for it or cancel it first.');
    }
    return entry;
  }

  async function ask(request: AskRequest, port: ReplyPort | undefined): Promise<void> {
    const { requestId } = request;
    // Answer events go to the renderer's port when there is one. `done` and `error` go to the parent as well, so the
    // supervisor's bookkeeping (in-flight requests, crash reporting) never depends on the renderer.
    const stream = (message: UnversionedReply): void => {
      if (!port) return post(message);
      try {
        port.postMessage(reply(message));
      } catch {
        // The renderer went away (window closed): keep answering for the parent, which may still cancel.
      }
      if (message.type === 'done' || message.type === 'error') post(message);
    };
    const streamError = (error: unknown): void => stream({ type: 'error', requestId, ...describeError(error) });

    if (asks.has(requestId)) {
      // Not `streamError`: the port belongs to this duplicate, and the parent must learn that its id was reused.
      return post({ type: 'error', requestId, message: `Request id ${requestId} is already answering (a bug in the caller).`, userError: false });
    }
    let entry: ConversationEntry;
    try {
      entry = openConversation(request);
    } catch (error) {
      streamError(error);
      port?.close?.();
      return;
    }
    const controller = new AbortController();
    // A cancelled first ask stops the read-ahead it took over too: nobody is waiting for that work any more.
    const takenOver = entry.readAhead;
    entry.readAhead = undefined;
    if (takenOver) controller.signal.addEventListener('abort', () => takenOver.abort(), { once: true });
    let finish!: () => void;
    asks.set(requestId, { controller, finished: new Promise<void>((resolve) => (finish = resolve)), conversation: entry.conversation });
    entry.activeRequest = requestId;
    try {
      stream({ type: 'progress', requestId, stage: request.start?.image ? 'encoding-image' : 'reading-prompt' });
      const events = entry.conversation.ask(request.question, { ...request.options, signal: controller.signal });
      for await (const event of events) {
        if (event.type === 'warning') stream({ type: 'warning', requestId, message: event.message });
        else if (event.type === 'token') stream({ type: 'token', requestId, text: event.text, tokenId: event.tokenId });
        else if (event.type === 'text') stream({ type: 'token', requestId, text: event.text });
        else {
          const { text, tokenIds, stats } = event.answer;
          stream({ type: 'done', requestId, answer: { text, tokenIds: [...tokenIds], stats: { ...stats } } });
        }
      }
    } catch (error) {
      // A first question that failed (say, an unreadable image) leaves nothing worth keeping: free the id for a retry.
      if (request.start && entry.conversation.history.length === 0) conversations.delete(request.conversationId);
      streamError(error);
    } finally {
      entry.activeRequest = undefined;
      asks.delete(requestId);
      finish();
      wakeReadAheads();
      port?.close?.();
    }
  }

  /** For the remote backend: the main process may not load sharp, so the capture is sized here (no model needed). */
  async function prepareServerImage({ requestId, image, detail, maxPixels }: PrepareServerImageRequest): Promise<void> {
    const { png, width, height } = await encodeServerImage(image.kind === 'path' ? image.path : image.bytes, detail, maxPixels);
    post({ type: 'server-image', requestId, png, width, height });
  }

  // ---- Serving the model to other programs (model-serving.ts): its requests wait for the app's answers. ----

  const serving = new ModelServing({ waitTurn: appAnswersDone, log: (line) => console.error(line) });

  /** Resolves once no answer of the app is running (or when `signal` aborts). */
  function appAnswersDone(signal: AbortSignal): Promise<void> {
    const free = () => signal.aborted || asks.size === 0;
    if (free()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!free()) return;
        waitingForTurn.delete(check);
        signal.removeEventListener('abort', check);
        resolve();
      };
      waitingForTurn.add(check); // woken as the read-aheads are, when an answer ends
      signal.addEventListener('abort', check);
    });
  }

  async function serve({ requestId, port }: ServeRequest): Promise<void> {
    // While a model loads, the load starts the server when it is done.
    const url = await serving.serve(port, modelChange ? undefined : model);
    post({ type: 'serving', requestId, url });
  }

  async function stopServing(requestId: string): Promise<void> {
    await serving.stop();
    post({ type: 'serving', requestId, url: null });
  }

  function closeConversation(requestId: string, conversationId: string): void {
    const entry = conversations.get(conversationId);
    if (entry?.activeRequest !== undefined) asks.get(entry.activeRequest)?.controller.abort();
    // Closing an unknown conversation is not an error: the UI may close a window after a restart forgot it.
    conversations.delete(conversationId);
    post({ type: 'ack', requestId });
  }

  async function dispatch(request: EngineRequest, ports: readonly ReplyPort[]): Promise<void> {
    switch (request.type) {
      case 'load':
        return load(request);
      case 'ask':
        return ask(request, ports[0]);
      case 'read-ahead':
        return readAhead(request);
      case 'cancel':
        return cancel(request.requestId);
      case 'unload':
        return unload(request.requestId);
      case 'close-conversation':
        return closeConversation(request.requestId, request.conversationId);
      case 'prepare-server-image':
        return prepareServerImage(request);
      case 'serve':
        return serve(request);
      case 'stop-serving':
        return stopServing(request.requestId);
      case 'ping':
        return post({ type: 'heartbeat', requestId: request.requestId, uptimeMs: performance.now() - started });
    }
  }

  return {
    async handle(message, ports = []) {
      const parsed = parseRequest(message);
      if (!parsed.ok) {
        return post({ type: 'error', requestId: parsed.requestId, message: `The model process rejected a malformed ${parsed.error}.`, userError: false });
      }
      try {
        await dispatch(parsed.message, ports);
      } catch (error) {
        fail(parsed.message.requestId, error);
      }
    },
    async dispose() {
      await (modelChange?.catch(() => undefined) ?? Promise.resolve());
      await serving.stop();
      await releaseModel();
    },
  };
}
