// Stop sequences on streamed text: text goes out as soon as it cannot be the start of a stop sequence, and nothing
// from a stop sequence on ever does.

export interface StopStep {
  /** Text safe to send now. */
  readonly text: string;
  /** A stop sequence appeared: `text` ends where it began, and the answer ends here. */
  readonly stopped: boolean;
}

export class StopMatcher {
  private held = '';
  private done = false;

  constructor(private readonly stops: readonly string[]) {}

  push(text: string): StopStep {
    if (this.done) return { text: '', stopped: true };
    const buffer = this.held + text;
    const at = this.stops.reduce((first, stop) => {
      const i = buffer.indexOf(stop);
      return i >= 0 && (first < 0 || i < first) ? i : first;
    }, -1);
    if (at >= 0) {
      this.done = true;
      this.held = '';
      return { text: buffer.slice(0, at), stopped: true };
    }
    // Hold back the longest end of the text that a stop sequence starts with: the next token may complete it.
    let keep = 0;
    for (const stop of this.stops) {
      for (let n = Math.min(stop.length - 1, buffer.length); n > keep; n--) {
        if (buffer.endsWith(stop.slice(0, n))) {
          keep = n;
          break;
        }
      }
    }
    this.held = buffer.slice(buffer.length - keep);
    return { text: buffer.slice(0, buffer.length - keep), stopped: false };
  }

  /** What was held back, once the answer has ended without completing a stop sequence. */
  flush(): string {
    const rest = this.done ? '' : this.held;
    this.held = '';
    return rest;
  }
}
