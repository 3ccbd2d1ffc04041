// The app reads each capture while the user types: it starts as soon as a capture exists (screen or region), with the
// settings' detail and cache; its progress goes to the ask window; the first ask about that capture takes it over;
// closing the window, a new capture, another detail or another model drops it.
import { describe, expect, it } from 'vitest';
import { IpcChannel, IpcEvent, type CaptureReply, type ReadAheadMessage } from '../../electron/shared/ipc.js';
import { settle, setup } from './app-stubs.js';

async function ready(options: Parameters<typeof setup>[0] = {}) {
  const t = setup(options);
  await t.start();
  t.engine.emit({ state: 'ready' });
  return t;
}

describe('reading the capture ahead of the question', () => {
  it('starts with the capture, reports to the ask window, and the first ask takes it over', async () => {
    const t = await ready({ settings: { imageDetail: 'high', useCache: true } });
    await t.screenAsk.trigger('screen');
    expect(t.engine.readAheads).toHaveLength(1);
    const [started] = t.engine.readAheads;
    expect(new TextDecoder().decode(started!.request.image)).toBe('frame');
    expect(started!.request).toMatchObject({ detail: 'high', useCache: true });
    started!.progress({ stage: 'encoding', done: 5, total: 13 });
    const sent = t.windowContents.sent.filter((s) => s.channel === IpcEvent.readAhead).map((s) => s.args[0] as ReadAheadMessage);
    expect(sent).toEqual([{ captureId: 'id1', progress: { stage: 'encoding', done: 5, total: 13 } }]);

    await t.invoke(IpcChannel.ask, { question: 'What is this?', captureId: 'id1' });
    await settle();
    expect(t.engine.asks[0]).toMatchObject({ detail: 'high', readAhead: started!.id });
    expect(started!.cancelled).toBe(false);
    // Taken over: closing the window now does not cancel what the answer uses.
    t.closeWindow('ask');
    expect(started!.cancelled).toBe(false);
  });

  it('a new capture, closing the ask window, or another model drops it; another detail reads it again', async () => {
    const t = await ready({ settings: { imageDetail: 'low' } });
    await t.screenAsk.trigger('screen');
    await t.screenAsk.trigger('screen');
    const [first, second] = t.engine.readAheads;
    expect([first!.cancelled, second!.cancelled]).toEqual([true, false]);

    await t.invoke(IpcChannel.setSettings, { imageDetail: 'high' });
    const third = t.engine.readAheads[2]!;
    expect(second!.cancelled).toBe(true);
    expect(third.request.detail).toBe('high');
    expect(new TextDecoder().decode(third.request.image)).toBe('frame');
    // An unrelated setting changes nothing.
    await t.invoke(IpcChannel.setSettings, { temperature: 0.5 });
    expect(t.engine.readAheads).toHaveLength(3);

    t.closeWindow('ask');
    expect(third.cancelled).toBe(true);

    await t.screenAsk.trigger('screen');
    const fourth = t.engine.readAheads[3]!;
    await t.invoke(IpcChannel.setSettings, { precision: 'fp32' });
    expect(fourth.cancelled).toBe(true);
    expect(t.engine.readAheads).toHaveLength(4);
  });

  it('reads a region as soon as it is cut out; an ask at another detail does not take it', async () => {
    const t = await ready({ settings: { imageDetail: 'low' } });
    await t.screenAsk.trigger('region');
    // The whole frame behind the overlay is not read: only the region the user selects.
    expect(t.engine.readAheads).toHaveLength(0);
    const reply = (await t.invoke(IpcChannel.capture, { mode: 'region', region: { x: 10, y: 10, width: 20, height: 10 } })) as CaptureReply;
    expect(new TextDecoder().decode(t.engine.readAheads[0]!.request.image)).toBe('frame[10,10,20x10]');
    await t.invoke(IpcChannel.ask, { question: 'q', captureId: reply.captureId, detail: 'high' });
    await settle();
    expect(t.engine.asks[0]!.readAhead).toBeUndefined();
  });

  it('is not started while no model is ready: the capture is read when the question comes', async () => {
    const t = setup();
    await t.start();
    await t.screenAsk.trigger('screen');
    expect(t.engine.readAheads).toEqual([]);
  });
});
