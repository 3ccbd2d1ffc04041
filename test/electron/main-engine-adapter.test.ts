import { describe, expect, it, vi } from 'vitest';
import type { EngineStatusLike } from '../../electron/main/app.js';
import { adaptSupervisor, type SupervisorEvent, type SupervisorLike } from '../../electron/main/engine-adapter.js';

function fakeSupervisor(events: SupervisorEvent[]) {
  let statusListener: Parameters<SupervisorLike['onStatus']>[0] = () => {};
  const asks: unknown[] = [];
  const cancel = vi.fn();
  const supervisor = {
    onStatus: (l: typeof statusListener) => ((statusListener = l), () => {}),
    start: vi.fn(async () => {}),
    stop: vi.fn(async () => {}),
    load: vi.fn(async () => ({})),
    ask(params: unknown) {
      asks.push(params);
      return Object.assign(
        (async function* () {
          yield* events;
        })(),
        { cancel },
      );
    },
  } satisfies SupervisorLike;
  return { supervisor, asks, cancel, emitStatus: (s: Parameters<typeof statusListener>[0]) => statusListener(s) };
}

describe('engine adapter', () => {
  it('maps supervisor states to the tray states and loads the chosen model on start', async () => {
    const f = fakeSupervisor([]);
    const engine = adaptSupervisor(f.supervisor, () => ({ dir: '/models/smol', precision: 'q8' }));
    const seen: EngineStatusLike[] = [];
    engine.onStatus((s) => seen.push(s));
    f.emitStatus({ state: 'starting' });
    f.emitStatus({ state: 'ready' });
    f.emitStatus({ state: 'restarting', reason: 'crashed' });
    f.emitStatus({ state: 'error', message: 'bad model' });
    expect(seen).toEqual([{ state: 'loading' }, { state: 'ready' }, { state: 'restarting', message: 'crashed' }, { state: 'error', message: 'bad model' }]);
    await engine.start();
    expect(f.supervisor.load).toHaveBeenCalledWith({ dir: '/models/smol', precision: 'q8' });
  });

  it('without a model, start reports an error status instead of loading', async () => {
    const f = fakeSupervisor([]);
    const engine = adaptSupervisor(f.supervisor, () => null);
    const seen: EngineStatusLike[] = [];
    engine.onStatus((s) => seen.push(s));
    await engine.start();
    expect(f.supervisor.load).not.toHaveBeenCalled();
    expect(seen.at(-1)).toMatchObject({ state: 'error', message: expect.stringMatching(/Settings/) });
  });

  it('asks with a PNG copy, follow-ups without an image, maps done, and cancels on abort', async () => {
    const f = fakeSupervisor([{ type: 'token', text: 'hi' }, { type: 'done', answer: { stats: { n: 1 } } }]);
    const engine = adaptSupervisor(f.supervisor, () => null);
    const image = new Uint8Array([0x89, 0x50]);
    const out = [];
    const controller = new AbortController();
    for await (const m of engine.ask({ question: 'q', image, detail: 'high', conversationId: 'c1', followUp: false }, controller.signal)) out.push(m);
    expect(out).toEqual([{ type: 'token', text: 'hi' }, { type: 'done', stats: { n: 1 } }]);
    expect(f.asks[0]).toEqual({ conversationId: 'c1', question: 'q', start: { image: { kind: 'png', bytes: image }, detail: 'high' } });
    for await (const _ of engine.ask({ question: 'more', conversationId: 'c1', followUp: true }, controller.signal)) controller.abort();
    expect(f.asks[1]).toEqual({ conversationId: 'c1', question: 'more' });
    expect(f.cancel).toHaveBeenCalledTimes(1);
  });
});
