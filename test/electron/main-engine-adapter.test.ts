import { describe, expect, it, vi } from 'vitest';
import type { EngineStatusLike } from '../../electron/main/app.js';
import type { ReadAheadProgress } from '../../native-models/conversation/answer.js';
import { adaptSupervisor, type SupervisorEvent, type SupervisorLike, type SupervisorStatus } from '../../electron/main/engine-adapter.js';
import type { ModelInfo } from '../../electron/shared/engine-protocol.js';
import type { AnswerStatsView } from '../../electron/shared/ipc.js';

const stats: AnswerStatsView = {
  imageEncodeMs: 10,
  prefillMs: 20,
  timeToFirstTokenMs: 35,
  decodeTokensPerSecond: 40,
  promptTokens: 100,
  reusedPromptTokens: 0,
  imageTokens: 64,
  generatedTokens: 3,
  totalMs: 120,
  cache: 'on',
  precision: 'q8',
  provider: 'cpu',
  stopReason: 'max-new-tokens',
};

const modelInfo: ModelInfo = {
  dir: '/models/smol',
  family: 'smolvlm',
  precision: 'q8',
  precisions: ['fp32', 'q8'],
  provider: 'cpu',
  warnings: ['use_cache: false in config.json; caching anyway'],
  decoderRewrites: { applied: ['new-kv-outputs'], skipped: [] },
  imageTokens: { low: 64, high: 832 },
};

function fakeSupervisor(events: SupervisorEvent[], load: SupervisorLike['load'] = async () => ({})) {
  let statusListener: (status: SupervisorStatus) => void = () => {};
  const asks: unknown[] = [];
  const readAheads: unknown[] = [];
  const cancel = vi.fn();
  const cancelById = vi.fn();
  const supervisor = {
    onStatus: (l: typeof statusListener) => ((statusListener = l), () => {}),
    start: vi.fn(async () => {}),
    stop: vi.fn(async () => {}),
    load: vi.fn(load),
    ask(params: unknown) {
      asks.push(params);
      return Object.assign(
        (async function* () {
          yield* events;
        })(),
        { cancel },
      );
    },
    readAhead(params: unknown, onProgress: (p: ReadAheadProgress) => void) {
      readAheads.push(params);
      onProgress({ stage: 'encoding', done: 1, total: 2 });
      return { requestId: `ra${readAheads.length}` };
    },
    cancel: cancelById,
  } satisfies SupervisorLike;
  return { supervisor, asks, readAheads, cancel, cancelById, emitStatus: (s: SupervisorStatus) => statusListener(s) };
}

describe('engine adapter', () => {
  it('maps supervisor states to the app states, with the loaded model as the settings page shows it', () => {
    const f = fakeSupervisor([]);
    const engine = adaptSupervisor(f.supervisor);
    const seen: EngineStatusLike[] = [];
    engine.onStatus((s) => seen.push(s));
    f.emitStatus({ state: 'starting' });
    f.emitStatus({ state: 'ready', model: modelInfo });
    f.emitStatus({ state: 'restarting', reason: 'crashed' });
    f.emitStatus({ state: 'error', message: 'bad model' });
    expect(seen).toEqual([
      { state: 'loading' },
      {
        state: 'ready',
        info: {
          family: 'smolvlm',
          precision: 'q8',
          precisions: ['fp32', 'q8'],
          provider: 'cpu',
          warnings: modelInfo.warnings,
          imageTokens: { low: 64, high: 832 },
          fastPath: { applied: ['new-kv-outputs'], skipped: [] },
        },
      },
      { state: 'restarting', message: 'crashed' },
      { state: 'error', message: 'bad model' },
    ]);
  });

  it('carries the decoder fast path to the pages: applied ids and skip reasons as the engine wrote them, not the folder', () => {
    const f = fakeSupervisor([]);
    const engine = adaptSupervisor(f.supervisor);
    const seen: EngineStatusLike[] = [];
    engine.onStatus((s) => seen.push(s));
    const decoderRewrites = { applied: [], skipped: ['turned off', 'last-row logits: the logits come from no MatMul'] };
    f.emitStatus({ state: 'ready', model: { ...modelInfo, decoderRewrites } });
    expect(seen[0]?.info?.fastPath).toEqual(decoderRewrites);
    expect(seen[0]?.info).not.toHaveProperty('dir');
    // One that does not fit the pages' schema is left out rather than shown (the rest of the info still goes).
    f.emitStatus({ state: 'ready', model: { ...modelInfo, decoderRewrites: { applied: ['Not An Id!'], skipped: [] } } });
    expect(seen[1]?.info).toBeDefined();
    expect(seen[1]?.info).not.toHaveProperty('fastPath');
  });

  it('starts the process without loading; load passes the folder, precision and device, and reports a failure as a status', async () => {
    const f = fakeSupervisor([], async () => {
      throw new Error('Model folder /models/gone does not exist.\n  at load (…)');
    });
    const engine = adaptSupervisor(f.supervisor);
    const seen: EngineStatusLike[] = [];
    engine.onStatus((s) => seen.push(s));
    await engine.start();
    expect(f.supervisor.start).toHaveBeenCalledTimes(1);
    expect(f.supervisor.load).not.toHaveBeenCalled();
    await expect(engine.load({ dir: '/models/gone', precision: 'q8', device: 'cpu' })).resolves.toBeUndefined();
    expect(f.supervisor.load).toHaveBeenCalledWith({ dir: '/models/gone', precision: 'q8', device: 'cpu' });
    expect(seen).toEqual([{ state: 'error', message: 'Model folder /models/gone does not exist.' }]);
  });

  it('asks with a PNG copy and the generation options, follow-ups without an image, maps done, and cancels on abort', async () => {
    const f = fakeSupervisor([{ type: 'token', text: 'hi' }, { type: 'done', answer: { stats } }]);
    const engine = adaptSupervisor(f.supervisor);
    const image = new Uint8Array([0x89, 0x50]);
    const out = [];
    const controller = new AbortController();
    const options = { useCache: false, maxNewTokens: 3 };
    for await (const m of engine.ask({ question: 'q', image, detail: 'high', conversationId: 'c1', followUp: false, options }, controller.signal)) out.push(m);
    expect(out).toEqual([{ type: 'token', text: 'hi' }, { type: 'done', stats }]);
    expect(f.asks[0]).toEqual({ conversationId: 'c1', question: 'q', options, start: { image: { kind: 'png', bytes: image }, detail: 'high' } });
    for await (const _ of engine.ask({ question: 'more', conversationId: 'c1', followUp: true, options: { useCache: true } }, controller.signal)) controller.abort();
    expect(f.asks[1]).toEqual({ conversationId: 'c1', question: 'more', options: { useCache: true } });
    expect(f.cancel).toHaveBeenCalledTimes(1);
  });
  it('reads a capture ahead with a PNG copy, passes its progress on, cancels it by id, and names it in the ask', async () => {
    const f = fakeSupervisor([{ type: 'done', answer: { stats } }]);
    const engine = adaptSupervisor(f.supervisor);
    const image = new Uint8Array([0x89, 0x50]);
    const progress: ReadAheadProgress[] = [];
    const handle = engine.readAhead({ image, detail: 'high', useCache: true }, (p) => progress.push(p));
    expect(f.readAheads).toEqual([{ image: { kind: 'png', bytes: image }, detail: 'high', useCache: true }]);
    expect((f.readAheads[0] as { image: { bytes: Uint8Array } }).image.bytes).not.toBe(image);
    expect(progress).toEqual([{ stage: 'encoding', done: 1, total: 2 }]);
    handle.cancel();
    expect(f.cancelById).toHaveBeenCalledWith('ra1');
    for await (const _ of engine.ask({ question: 'q', image, detail: 'high', conversationId: 'c1', followUp: false, options: {}, readAhead: handle.id }, new AbortController().signal));
    expect(f.asks[0]).toMatchObject({ start: { detail: 'high', readAhead: 'ra1' } });
  });
});
