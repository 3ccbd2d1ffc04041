import { ScreenAskError } from '../model/errors.js';

/**
 * One answer at a time per conversation: a second ask while one streams would interleave two answers in one history
 * (and, locally, in one KV cache). Shared by the local and the server conversation so both refuse it in the same words.
 */
export class OneAnswerAtATime {
  #busy = false;

  get busy(): boolean {
    return this.#busy;
  }

  async *run<T, R>(answer: () => AsyncGenerator<T, R>): AsyncGenerator<T, R> {
    if (this.#busy) throw new ScreenAskError('This conversation is still answering: wait for it or cancel it first.');
    this.#busy = true;
    try {
      return yield* answer();
    } finally {
      this.#busy = false;
    }
  }
}
