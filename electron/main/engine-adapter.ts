// Adapts the engine supervisor (electron/main/engine-supervisor.ts, owned by the engine work) to the small EngineLike
// interface app.ts needs. Typed structurally here, so app.ts and its tests never depend on the supervisor's module.
import type { GenerationOptions } from '../../native-models/generation/settings.js';
import type { ReadAheadProgress } from '../../native-models/conversation/answer.js';
import { firstLine } from '../../native-models/model/errors.js';
import type { ModelInfo } from '../shared/engine-protocol.js';
import { fastPathSchema, type AnswerStatsView, type LoadedModelInfo, type ModelState, type StreamMessage } from '../shared/ipc.js';
import type { EngineAskRequest, EngineLike, EngineLoadRequest, EngineStatusLike } from './app.js';

/** A supervisor status, as far as this adapter reads it (`model` comes with `ready`). */
export interface SupervisorStatus {
  readonly state: string;
  readonly message?: string;
  readonly reason?: string;
  readonly model?: ModelInfo;
}

/** The supervisor, as far as this adapter uses it. */
export interface SupervisorLike {
  onStatus(listener: (status: SupervisorStatus) => void): () => void;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Precision and device travel as the settings spell them; the supervisor validates them. */
  load(params: EngineLoadRequest): Promise<unknown>;
  ask(params: {
    conversationId: string;
    question: string;
    start?: { image?: { kind: 'png'; bytes: Uint8Array<ArrayBuffer> }; detail?: 'low' | 'high'; readAhead?: string };
    options?: GenerationOptions;
  }): AsyncIterable<SupervisorEvent> & { cancel(): void };
  readAhead(
    params: { image: { kind: 'png'; bytes: Uint8Array<ArrayBuffer> }; detail?: 'low' | 'high'; useCache?: boolean },
    onProgress: (progress: ReadAheadProgress) => void,
  ): { readonly requestId: string };
  cancel(requestId: string): void;
}
export type SupervisorEvent =
  | { readonly type: 'progress'; readonly stage: string }
  | { readonly type: 'warning'; readonly message: string }
  | { readonly type: 'token'; readonly text: string }
  | { readonly type: 'done'; readonly answer: { readonly stats: AnswerStatsView } };

const STATE: Record<string, ModelState> = {
  stopped: 'stopped',
  starting: 'loading',
  idle: 'loading',
  loading: 'loading',
  ready: 'ready',
  restarting: 'restarting',
  error: 'error',
};

/**
 * What the settings page shows of a loaded model (the protocol's ModelInfo also carries its folder). The decoder's
 * rewrites travel as its fast path, checked against the page's schema: one that does not fit is left out, not shown.
 */
function loadedModelInfo({ family, precision, precisions, provider, warnings, imageTokens, decoderRewrites }: ModelInfo): LoadedModelInfo {
  const fastPath = fastPathSchema.safeParse({ applied: decoderRewrites.applied, skipped: decoderRewrites.skipped });
  return {
    family,
    precision,
    precisions,
    provider,
    warnings,
    ...(imageTokens ? { imageTokens } : {}),
    ...(fastPath.success ? { fastPath: fastPath.data } : {}),
  };
}

/**
 * PNG bytes as the protocol wants them: over a plain ArrayBuffer. A NativeImage PNG may sit in Node's shared Buffer
 * pool, so copy (a few MB, once per capture or question).
 */
function pngSource(bytes: Uint8Array): { kind: 'png'; bytes: Uint8Array<ArrayBuffer> } {
  return { kind: 'png', bytes: new Uint8Array(bytes) };
}

export function adaptSupervisor(supervisor: SupervisorLike): EngineLike {
  const listeners = new Set<(status: EngineStatusLike) => void>();
  const emit = (status: EngineStatusLike) => listeners.forEach((l) => l(status));
  supervisor.onStatus((status) => {
    const message = status.message ?? status.reason;
    const state = STATE[status.state] ?? 'error';
    emit({
      state,
      ...(message ? { message } : {}),
      ...(state === 'ready' && status.model ? { info: loadedModelInfo(status.model) } : {}),
    });
  });
  return {
    onStatus(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    start: () => supervisor.start(),
    async load(request) {
      // A failed load is reported through the status (the tray shows it); load() itself must not reject.
      await supervisor.load(request).catch((error: unknown) => emit({ state: 'error', message: firstLine(error) }));
    },
    stop: () => supervisor.stop(),
    readAhead(request, onProgress) {
      const { requestId } = supervisor.readAhead({ image: pngSource(request.image), detail: request.detail, useCache: request.useCache }, onProgress);
      return { id: requestId, cancel: () => supervisor.cancel(requestId) };
    },
    async *ask(request: EngineAskRequest, signal: AbortSignal): AsyncIterable<StreamMessage> {
      const stream = supervisor.ask({
        conversationId: request.conversationId,
        question: request.question,
        options: request.options,
        ...(request.followUp
          ? {}
          : {
              start: {
                ...(request.image ? { image: pngSource(request.image) } : {}),
                ...(request.detail ? { detail: request.detail } : {}),
                ...(request.readAhead ? { readAhead: request.readAhead } : {}),
              },
            }),
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
