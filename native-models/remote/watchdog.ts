// Turns silence into an abort: a server that stops sending (headers or stream) must not hang an answer forever.

/** Aborts `signal` once `ms` pass without a `kick()`; `stop()` disarms it. */
export class Watchdog {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ms: number) {
    this.kick();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get expired(): boolean {
    return this.controller.signal.aborted;
  }

  kick(): void {
    clearTimeout(this.timer);
    if (!this.expired) this.timer = setTimeout(() => this.controller.abort(), this.ms);
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}
