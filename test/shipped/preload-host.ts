// One window's page, for the driver: the BUILT preload (the file the window's webPreferences name) runs in a context
// of its own, as a sandboxed preload does: CommonJS, `require` limited to what Electron's sandbox offers, and
// `contextBridge`/`ipcRenderer` that reach the app's main process through the fake. The test then plays the page's
// script: it calls `window.screenask`, and receives stream ports the way the renderer does (renderer/src/lib).
import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import { StreamPorts } from '../../renderer/src/lib/stream-ports.js';
import type { ScreenAskApi } from '../../electron/shared/ipc.js';
import type { AppEvent, DriverRequest } from './fake-electron/control.js';

interface Driver {
  request(request: DriverRequest): Promise<unknown>;
}

type Listener = (event: unknown, ...args: unknown[]) => void;

/** What a sandboxed preload may require besides 'electron' (Electron's docs: "Sandboxed preload scripts"). */
const SANDBOX_MODULES = new Set(['events', 'timers', 'url']);

/** The page's `window`: postMessage delivers to its own listeners, with the ports, `source` being the window. */
class PageWindow extends EventTarget {
  [key: string]: unknown;
  postMessage(message: unknown, _targetOrigin: string, transfer: MessagePort[] = []): void {
    const data = structuredClone(message);
    setTimeout(() => this.dispatchEvent(Object.assign(new Event('message'), { data, source: this, ports: transfer })), 0);
  }
}

export class PageUnderTest {
  readonly window = new PageWindow();
  /** Everything the main process sent this page (webContents.send), in order. */
  readonly received: Array<{ channel: string; args: readonly unknown[] }> = [];
  readonly streamPorts = new StreamPorts({ claimTimeoutMs: 120_000 });
  readonly #listeners = new Map<string, Set<Listener>>();
  /** The page ends of stream ports, by the id the fake gave the port the main process transferred. */
  readonly #ports = new Map<number, MessagePort>();
  #preloadError: Error | undefined;

  constructor(
    readonly driver: Driver,
    readonly windowId: number,
  ) {
    this.streamPorts.listen(this.window as unknown as Window);
  }

  get api(): ScreenAskApi {
    if (this.#preloadError) throw this.#preloadError;
    const api = this.window.screenask as ScreenAskApi | undefined;
    if (!api) throw new Error(`the preload of window ${this.windowId} exposed no window.screenask`);
    return api;
  }

  /** Runs the preload the window was created with; a failure is kept and reported by `api`, as the page would see it. */
  runPreload(file: string): void {
    const ipcRenderer = {
      invoke: (channel: string, ...args: unknown[]) => this.driver.request({ type: 'invoke', windowId: this.windowId, channel, args: args.map((a) => structuredClone(a)) }),
      on: (channel: string, listener: Listener) => {
        let set = this.#listeners.get(channel);
        if (!set) this.#listeners.set(channel, (set = new Set()));
        set.add(listener);
        return ipcRenderer;
      },
      removeListener: (channel: string, listener: Listener) => {
        this.#listeners.get(channel)?.delete(listener);
        return ipcRenderer;
      },
    };
    const contextBridge = {
      exposeInMainWorld: (key: string, api: unknown) => {
        if (key in this.window) throw new Error(`Cannot bind an API on top of an existing property on the window object: ${key}`);
        this.window[key] = api;
      },
    };
    const require = (id: string): unknown => {
      if (id === 'electron') return { contextBridge, ipcRenderer };
      if (SANDBOX_MODULES.has(id)) return (globalThis as unknown as { process: NodeJS.Process }).process.getBuiltinModule?.(id);
      throw new Error(`module not found: ${id} (a sandboxed preload can require only electron, events, timers and url)`);
    };
    const context = vm.createContext({ window: this.window, console, setTimeout, clearTimeout, structuredClone });
    const module = { exports: {} };
    try {
      const wrapped = vm.runInContext(`(function (exports, require, module, __filename, __dirname) {${readFileSync(file, 'utf8')}\n})`, context, { filename: file });
      (wrapped as (...args: unknown[]) => void)(module.exports, require, module, file, '.');
    } catch (error) {
      this.#preloadError = error instanceof Error ? error : new Error(String(error));
    }
  }

  /** An event of this window from the fake. */
  deliver(event: AppEvent): void {
    switch (event.type) {
      case 'window-created':
        this.runPreload((event.options as { webPreferences: { preload: string } }).webPreferences.preload);
        break;
      case 'send':
        this.received.push({ channel: event.channel, args: event.args });
        this.#emit(event.channel, [], event.args);
        break;
      case 'post': {
        const ports = event.portIds.map((id) => {
          const { port1, port2 } = new MessageChannel();
          this.#ports.set(id, port1);
          return port2;
        });
        this.#emit(event.channel, ports, [event.message]);
        break;
      }
      case 'port-message':
        this.#ports.get(event.portId)?.postMessage(event.data);
        break;
      case 'port-close':
        this.#ports.get(event.portId)?.close();
        this.#ports.delete(event.portId);
        break;
      default:
        break;
    }
  }

  #emit(channel: string, ports: MessagePort[], args: readonly unknown[]): void {
    for (const listener of this.#listeners.get(channel) ?? []) listener({ sender: null, ports }, ...args);
  }

  /** The messages of one answer's stream, until it ends ('done' or 'error'). */
  async readStream(askId: string): Promise<Array<{ type: string } & Record<string, unknown>>> {
    const port = await this.streamPorts.claim(askId);
    return new Promise((resolve) => {
      const messages: Array<{ type: string } & Record<string, unknown>> = [];
      port.onmessage = (event: MessageEvent) => {
        const message = event.data as { type: string } & Record<string, unknown>;
        messages.push(message);
        if (message.type === 'done' || message.type === 'error') {
          port.close();
          resolve(messages);
        }
      };
    });
  }
}
