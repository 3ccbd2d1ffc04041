// Answer streams arrive as MessagePorts. The main process cannot hand a port through contextBridge, so the preload
// re-posts it to this window: `window.postMessage({ type: STREAM_PORT_MESSAGE, askId }, '*', [port])`. Because the
// main process opens the stream before `ask()` resolves, a port can arrive before the page knows its ask id: ports
// that nobody has claimed yet are kept (a few, briefly) until `claim(askId)` asks for them.
import { STREAM_PORT_MESSAGE } from '../../../electron/shared/ipc-channels.js';

interface Waiter {
  resolve(port: MessagePort): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export interface StreamPortsOptions {
  /** Unclaimed ports kept at most; older ones are closed (an ask that failed after its port was posted). */
  readonly maxUnclaimed?: number;
  /** How long `claim` waits for a port before giving up. */
  readonly claimTimeoutMs?: number;
}

export class StreamPorts {
  readonly #unclaimed = new Map<string, MessagePort>();
  readonly #waiters = new Map<string, Waiter>();
  readonly #maxUnclaimed: number;
  readonly #claimTimeoutMs: number;

  constructor(options: StreamPortsOptions = {}) {
    this.#maxUnclaimed = options.maxUnclaimed ?? 8;
    this.#claimTimeoutMs = options.claimTimeoutMs ?? 30_000;
  }

  /**
   * Accepts a window message if it is a stream port posted by our own preload. `event.source === win` is what tells
   * the preload's message from one a frame or another window could post; anything else is ignored.
   */
  handleMessage(event: MessageEvent, win: Window): boolean {
    if (event.source !== win) return false;
    const data: unknown = event.data;
    if (typeof data !== 'object' || data === null) return false;
    const { type, askId } = data as { type?: unknown; askId?: unknown };
    if (type !== STREAM_PORT_MESSAGE || typeof askId !== 'string' || event.ports.length !== 1) return false;
    const port = event.ports[0];
    if (!port) return false;
    this.offer(askId, port);
    return true;
  }

  /** Starts listening on `win`; returns the function that stops (and closes every port still unclaimed). */
  listen(win: Window): () => void {
    const onMessage = (event: MessageEvent) => void this.handleMessage(event, win);
    win.addEventListener('message', onMessage);
    return () => {
      win.removeEventListener('message', onMessage);
      this.dispose();
    };
  }

  offer(askId: string, port: MessagePort): void {
    const waiter = this.#waiters.get(askId);
    if (waiter) {
      this.#waiters.delete(askId);
      clearTimeout(waiter.timer);
      waiter.resolve(port);
      return;
    }
    this.#unclaimed.get(askId)?.close();
    this.#unclaimed.set(askId, port);
    while (this.#unclaimed.size > this.#maxUnclaimed) {
      const [oldest, oldPort] = this.#unclaimed.entries().next().value as [string, MessagePort];
      oldPort.close();
      this.#unclaimed.delete(oldest);
    }
  }

  /** The port for `askId`: at once if it already arrived, otherwise when it does. */
  claim(askId: string): Promise<MessagePort> {
    const early = this.#unclaimed.get(askId);
    if (early) {
      this.#unclaimed.delete(askId);
      return Promise.resolve(early);
    }
    return new Promise((resolve, reject) => {
      this.#waiters.get(askId)?.reject(new Error('claimed twice'));
      const timer = setTimeout(() => {
        this.#waiters.delete(askId);
        reject(new Error('The answer did not start: ScreenAsk got no reply stream. Try asking again.'));
      }, this.#claimTimeoutMs);
      this.#waiters.set(askId, { resolve, reject, timer });
    });
  }

  dispose(): void {
    for (const port of this.#unclaimed.values()) port.close();
    this.#unclaimed.clear();
    for (const waiter of this.#waiters.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error('The window is closing.'));
    }
    this.#waiters.clear();
  }
}
