// Adapts the engine supervisor (electron/main/engine-supervisor.ts, owned by the engine work) to the small EngineLike
// interface app.ts needs. Typed structurally here, so app.ts and its tests never depend on the supervisor's module.
import type { ModelState, StreamMessage } from '../shared/ipc.js';
import type { EngineAskRequest, EngineLike, EngineStatusLike } from './app.js';

/** The supervisor, as far as this adapter uses it. */
export interface SupervisorLike {
  onStatus(listener: (status: { readonly state: string; readonly message?: string; readonly reason?: string }) => void): () => void;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Precision and device travel as the settings spell them; the supervisor validates them. */
  load(params: { dir: string }): Promise<unknown>;
  ask(params: {
    conversationId: string;
    question: string;
    start?: { image?: { kind: 'png'; bytes: Uint8Array<ArrayBuffer> }; detail?: 'low' | 'high' };
  }): AsyncIterable<SupervisorEvent> & { cancel(): void };
}
export type SupervisorEvent =
  | { readonly type: 'progress'; readonly stage: string }
  | { readonly type: 'warning'; readonly message: string }
  | { readonly type: 'token'; readonly text: string }
  | { readonly type: 'done'; readonly answer: { readonly stats?: unknown } };

/** What to load: an absolute model folder, or null when the user has not chosen one. */
export type ModelToLoad = () => { dir: string; precision?: string; device?: string } | null;

const STATE: Record<string, ModelState> = {
  stopped: 'stopped',
  starting: 'loading',
  idle: 'loading',
  loading: 'loading',
  ready: 'ready',
  restarting: 'restarting',
  error: 'error',
};

export function adaptSupervisor(supervisor: SupervisorLike, modelToLoad: ModelToLoad): EngineLike {
  const listeners = new Set<(status: EngineStatusLike) => void>();
  const emit = (status: EngineStatusLike) => listeners.forEach((l) => l(status));
  supervisor.onStatus((status) => {
    const message = status.message ?? status.reason;
    emit({ state: STATE[status.state] ?? 'error', ...(message ? { message } : {}) });
  });
  return {
    onStatus(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async start() {
      await supervisor.start();
      const model = modelToLoad();
      if (!model) {
        emit({ state: 'error', message: 'No model chosen yet: pick a model folder in Settings' });
        return;
      }
      // A failed load is reported through the status (the tray shows it); start() itself must not reject.
      await supervisor.load(model).catch((error: unknown) => {
        emit({ state: 'error', message: error instanceof Error ? error.message : String(error) });
      });
    },
    stop: () => supervisor.stop(),
    async *ask(request: EngineAskRequest, signal: AbortSignal): AsyncIterable<StreamMessage> {
      // The protocol wants a Uint8Array over a plain ArrayBuffer; a NativeImage PNG may sit in Node's shared Buffer
      // pool, so copy (a few MB, once per question).
      const stream = supervisor.ask({
        conversationId: request.conversationId,
        question: request.question,
        ...(request.followUp
          ? {}
          : { start: { ...(request.image ? { image: { kind: 'png' as const, bytes: new Uint8Array(request.image) } } : {}), ...(request.detail ? { detail: request.detail } : {}) } }),
      });
      const onAbort = () => stream.cancel();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        for await (const event of stream) {
          if (event.type === 'done') yield { type: 'done', stats: event.answer.stats };
          else yield event;
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },
  };
}
