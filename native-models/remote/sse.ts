// Server-sent events (the WHATWG EventSource format) from a fetch body: the `data` of each event, in order. OpenAI's
// streaming API uses only `data:` lines (and `[DONE]` at the end); comments (`: keep-alive`) and other fields are
// skipped, as the format says.

/** An event-stream line longer than this is not one a chat server sends: refuse it rather than buffer without end. */
const MAX_LINE_CHARS = 4 * 1024 * 1024;

export class SseFormatError extends Error {
  override name = 'SseFormatError';
}

/**
 * Yields each event's data (its `data:` lines joined with newlines). `onBytes` is called on every chunk received, so
 * a caller can time silence. An early `return()` (the consumer stops) cancels the body, which closes the connection.
 */
export async function* sseData(body: ReadableStream<Uint8Array>, onBytes: () => void = () => undefined): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        buffer += decoder.decode();
      } else {
        onBytes();
        buffer += decoder.decode(value, { stream: true });
      }
      // Lines end in \n, \r\n or \r; a trailing \r may be half of a \r\n still on its way.
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const c = buffer[i];
        if (c !== '\n' && c !== '\r') continue;
        if (c === '\r' && i === buffer.length - 1 && !done) break;
        const line = buffer.slice(start, i);
        if (c === '\r' && buffer[i + 1] === '\n') i++;
        start = i + 1;
        if (line === '') {
          if (data.length > 0) yield data.join('\n');
          data = [];
        } else if (!line.startsWith(':')) {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const raw = colon < 0 ? '' : line.slice(colon + 1);
          if (field === 'data') data.push(raw.startsWith(' ') ? raw.slice(1) : raw);
        }
      }
      buffer = buffer.slice(start);
      if (buffer.length > MAX_LINE_CHARS) throw new SseFormatError(`a line of more than ${MAX_LINE_CHARS} characters`);
      if (done) {
        // The format drops an event that the stream ends before its blank line; servers end with "\n\n", but a last
        // `data: [DONE]` without it is common enough to accept.
        if (buffer !== '' && buffer.startsWith('data:')) data.push(buffer.slice(5).trimStart());
        if (data.length > 0) yield data.join('\n');
        finished = true;
        return;
      }
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
