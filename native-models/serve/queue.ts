// One model answers one request at a time: the others wait their turn, in arrival order, up to a bound.
import { ApiError } from './errors.js';

interface Waiter {
  readonly start: () => void;
}

/** Thrown when a client hung up while its request waited: there is nobody to answer. */
export class LeftQueueError extends Error {
  override name = 'LeftQueueError';
}

export class ModelQueue {
  private running = false;
  private readonly waiters: Waiter[] = [];
  /** How long recent answers took, for Retry-After. */
  private readonly recentMs: number[] = [];
  private readonly onIdle: (() => void)[] = [];

  /** `maxWaiting`: requests that may wait while one runs; one more is refused with a 429. */
  constructor(readonly maxWaiting: number) {}

  get waiting(): number {
    return this.waiters.length;
  }

  get busy(): boolean {
    return this.running;
  }

  /**
   * Runs `job` once every earlier one has finished. Refused (429, with Retry-After) when `maxWaiting` requests wait
   * already; a `signal` aborted while waiting takes the request out of the line (LeftQueueError).
   */
  async run<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.running) {
      if (this.waiters.length >= this.maxWaiting) {
        const seconds = this.retryAfterSeconds();
        throw new ApiError(429, `The model is busy and ${this.waiters.length} request(s) already wait: try again in about ${seconds} s.`, {
          code: 'queue_full',
          headers: { 'Retry-After': String(seconds) },
        });
      }
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          const at = this.waiters.indexOf(waiter);
          if (at >= 0) this.waiters.splice(at, 1);
          reject(new LeftQueueError('the client left while its request waited'));
        };
        const waiter: Waiter = {
          start: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        if (signal?.aborted) return onAbort();
        this.waiters.push(waiter);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
    // Handed over from the job before (still `running`), or the model was free.
    this.running = true;
    const started = performance.now();
    try {
      return await job();
    } finally {
      this.recentMs.push(performance.now() - started);
      if (this.recentMs.length > 8) this.recentMs.shift();
      const next = this.waiters.shift();
      // The model passes straight to the next in line, so a request arriving meanwhile cannot jump ahead.
      if (next) next.start();
      else {
        this.running = false;
        for (const resolve of this.onIdle.splice(0)) resolve();
      }
    }
  }

  /** Resolves once nothing runs or waits (at once if so now): the model can then be released. */
  idle(): Promise<void> {
    if (!this.running && this.waiters.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.onIdle.push(resolve));
  }

  /** Whole seconds until the line has likely moved on, from the recent answers' mean time (5 s before any). */
  retryAfterSeconds(): number {
    const mean = this.recentMs.length > 0 ? this.recentMs.reduce((a, b) => a + b, 0) / this.recentMs.length : 5000;
    return Math.max(1, Math.ceil(((this.waiters.length + 1) * mean) / 1000));
  }
}
