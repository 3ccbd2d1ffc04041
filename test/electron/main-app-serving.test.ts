// Settings → Serve this model to other apps, through the app as the pages drive it: off by default (nothing is asked
// of the model process), switched on and off and re-ported through setSettings, served again after every load, the
// status and the tray say where it serves or why it does not; the page cannot choose the address.
import { describe, expect, it } from 'vitest';
import { ModelServingControl, type ServingEngine } from '../../electron/main/model-serving.js';
import { IpcChannel, type AppStatus } from '../../electron/shared/ipc.js';
import { ScreenAskError } from '../../native-models/model/errors.js';
import { INSTALLED_ID, memorySettings, settle, setup, statuses } from './app-stubs.js';
import { FakeWebContents } from './fakes.js';

/** The supervisor as serving uses it: records what the app asked of the model process. */
class FakeServingEngine implements ServingEngine {
  readonly calls: string[] = [];
  /** What `serve` does next: a URL, null (no model loaded yet), or an error. */
  next: (port: number) => string | null = (port) => `http://127.0.0.1:${port}/v1`;
  readonly listeners = new Set<(status: { state: string }) => void>();
  async serve(port: number): Promise<string | null> {
    this.calls.push(`serve ${port}`);
    return this.next(port);
  }
  async stopServing(): Promise<void> {
    this.calls.push('stop');
  }
  onStatus(listener: (status: { state: string }) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  emit(state: string): void {
    for (const listener of this.listeners) listener({ state });
  }
}

function serving(initial: Parameters<typeof memorySettings>[0] = {}) {
  const settings = memorySettings({ model: INSTALLED_ID, ...initial });
  const engine = new FakeServingEngine();
  const control = new ModelServingControl(engine, settings);
  const t = setup({ services: { settings, serving: control } });
  /** The tray's info lines now. */
  const trayLines = () => (t.tray.menus.at(-1) as { label?: string; enabled?: boolean }[]).filter((i) => i.enabled === false).map((i) => i.label);
  return { t, engine, trayLines };
}

describe('serving the model to other apps', () => {
  it('is off by default: nothing is asked of the model process, and the status says off', async () => {
    const { t, engine, trayLines } = serving();
    await t.start();
    expect(engine.calls).toEqual([]);
    expect(t.screenAsk.status().serving).toEqual({ state: 'off' });
    expect(trayLines().some((line) => line?.startsWith('Serving'))).toBe(false);
  });

  it('switched on from the page, it serves on the port; the status and the tray give the address', async () => {
    const { t, engine, trayLines } = serving();
    await t.start();
    const page = new FakeWebContents();
    await t.invoke(IpcChannel.subscribeStatus, undefined, page);
    await t.invoke(IpcChannel.setSettings, { serveModel: true });
    await settle();
    expect(engine.calls).toEqual(['serve 8080']);
    const on = { state: 'on', port: 8080, url: 'http://127.0.0.1:8080/v1' };
    expect(t.screenAsk.status().serving).toEqual(on);
    expect(statuses(page).at(-1)!.serving).toEqual(on);
    expect(statuses(page).map((s: AppStatus) => s.serving?.state)).toContain('starting');
    expect(trayLines()).toContain('Serving on http://127.0.0.1:8080/v1');

    engine.next = () => 'http://127.0.0.1:41234/v1';
    await t.invoke(IpcChannel.setSettings, { servePort: 0 });
    await settle();
    expect(engine.calls).toEqual(['serve 8080', 'serve 0']);
    expect(t.screenAsk.status().serving).toEqual({ state: 'on', port: 0, url: 'http://127.0.0.1:41234/v1' });

    await t.invoke(IpcChannel.setSettings, { serveModel: false });
    await settle();
    expect(engine.calls).toEqual(['serve 8080', 'serve 0', 'stop']);
    expect(t.screenAsk.status().serving).toEqual({ state: 'off' });
    expect(trayLines().some((line) => line?.startsWith('Serving'))).toBe(false);
  });

  it('on at start, it serves; every load (a reload, a restarted model process) serves again', async () => {
    const { t, engine } = serving({ serveModel: true, servePort: 9000 });
    await t.start();
    expect(engine.calls).toEqual(['serve 9000']);
    engine.emit('restarting');
    expect(t.screenAsk.status().serving).toEqual({ state: 'waiting' });
    engine.emit('ready');
    await settle();
    expect(engine.calls).toEqual(['serve 9000', 'serve 9000']);
    expect(t.screenAsk.status().serving).toMatchObject({ state: 'on', url: 'http://127.0.0.1:9000/v1' });
  });

  it('says it waits for a model when none is loaded, and gives a port in use as one line, in the tray too', async () => {
    const { t, engine, trayLines } = serving({ serveModel: true });
    engine.next = () => null;
    await t.start();
    expect(t.screenAsk.status().serving).toEqual({ state: 'waiting' });
    const inUse = 'Port 8080 on 127.0.0.1 is in use (another program listens there): choose another port in Settings → Serve this model to other apps, or 0 for any free port.';
    engine.next = () => {
      throw new ScreenAskError(inUse);
    };
    engine.emit('ready');
    await settle();
    expect(t.screenAsk.status().serving).toEqual({ state: 'error', message: inUse });
    expect(trayLines().some((line) => line?.startsWith('Serving: Port 8080 on 127.0.0.1 is in use'))).toBe(true);
    // Another port fixes it.
    engine.next = (port) => `http://127.0.0.1:${port}/v1`;
    await t.invoke(IpcChannel.setSettings, { servePort: 8081 });
    await settle();
    expect(t.screenAsk.status().serving).toEqual({ state: 'on', port: 8081, url: 'http://127.0.0.1:8081/v1' });
  });

  it('a page cannot choose the address or a privileged port: setSettings refuses them and nothing is served', async () => {
    const { t, engine } = serving();
    await t.start();
    await expect(t.invoke(IpcChannel.setSettings, { serveModel: true, serveHost: '0.0.0.0' })).rejects.toThrow(/malformed message/);
    await expect(t.invoke(IpcChannel.setSettings, { serveModel: true, servePort: 80 })).rejects.toThrow(/malformed message/);
    await expect(t.invoke(IpcChannel.setSettings, { serveModel: 'yes' })).rejects.toThrow(/malformed message/);
    await settle();
    expect(engine.calls).toEqual([]);
    expect(t.settings.get()).toMatchObject({ serveModel: false, servePort: 8080 });
  });
});
