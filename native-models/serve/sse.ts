// Server-sent events as OpenAI streams them: `data: JSON` per chunk, `data: [DONE]` at the end.
import type { ServerResponse } from 'node:http';
import type { ApiErrorBody } from './errors.js';

export class SseWriter {
  private opened = false;

  constructor(private readonly res: ServerResponse) {}

  /** True once the status and headers are out: from then on a failure can only be told inside the stream. */
  get open(): boolean {
    return this.opened;
  }

  /**
   * Opens the stream on the first event, not before: everything that can fail before the answer starts (a bad image,
   * a conversation too long) still gets its own status. Writes are not held back for a slow reader: an answer is at
   * most a few thousand tokens, so what the socket buffers is small.
   */
  send(data: unknown): void {
    if (this.res.destroyed) return;
    if (!this.opened) {
      this.res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
      this.opened = true;
    }
    this.res.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  done(): void {
    if (this.res.destroyed) return;
    this.res.end('data: [DONE]\n\n');
  }

  /** An error after the stream opened: one error event (the openai client raises it as an APIError), then the end. */
  fail(body: ApiErrorBody): void {
    if (this.res.destroyed) return;
    this.res.end(`data: ${JSON.stringify(body)}\n\n`);
  }
}
