/** The event-stream parser on byte streams cut at awkward places: what arrives is the same however it is split. */
import { describe, expect, it } from 'vitest';
import { sseData } from '../../native-models/remote/sse.js';

function stream(parts: readonly (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const bytes = parts.map((p) => (typeof p === 'string' ? new TextEncoder().encode(p) : p));
  return new ReadableStream({
    pull(controller) {
      const next = bytes.shift();
      if (next) controller.enqueue(next);
      else controller.close();
    },
  });
}

async function events(parts: readonly (string | Uint8Array)[]): Promise<string[]> {
  const out: string[] = [];
  for await (const data of sseData(stream(parts))) out.push(data);
  return out;
}

describe('sseData', () => {
  const text = 'data: {"a":1}\r\n\r\n: keep-alive\n\nevent: x\ndata: line one\ndata:line two\n\ndata: é\n\ndata: [DONE]\n\n';
  const expected = ['{"a":1}', 'line one\nline two', 'é', '[DONE]'];

  it('reads data lines, joins multi-line data, skips comments and other fields (LF and CRLF)', async () => {
    expect(await events([text])).toEqual(expected);
  });

  it('gives the same events whatever the chunking, a CRLF or a UTF-8 character split included', async () => {
    const bytes = new TextEncoder().encode(text);
    for (let cut = 1; cut < bytes.length; cut++) expect(await events([bytes.slice(0, cut), bytes.slice(cut)])).toEqual(expected);
  });

  it('keeps a last event the stream ends without its blank line', async () => {
    expect(await events(['data: one\n\ndata: [DONE]'])).toEqual(['one', '[DONE]']);
  });
});
