/**
 * The engine protocol's validators and the utility process's engine host, fed random and mutated messages: every
 * message is either parsed into a valid one or rejected with one line, and the host answers each with valid replies
 * (an error for what it cannot use), never a throw: a bad message must not take the model process down.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEngineHost } from '../../electron/utility/engine-host.js';
import { engineReplySchema, engineRequestSchema, parseReply, parseRequest, PROTOCOL_VERSION } from '../../electron/shared/engine-protocol.js';
import { precisions } from '../../native-models/model/precision.js';
import { anyMessage, isOneLine, mutated } from './arbitraries.js';

const id = fc.string({ minLength: 1, maxLength: 16 });
const v = fc.constant(PROTOCOL_VERSION);

/** Valid requests of every type (loads aim at folders that do not exist, so nothing heavy ever loads). */
const validRequest = fc.oneof(
  fc.record(
    { v, type: fc.constant('load'), requestId: id, dir: id.map((d) => `/nonexistent-screenask/${d}`), precision: fc.constantFrom('auto', ...precisions), threads: fc.integer({ min: 1, max: 4 }) },
    { requiredKeys: ['v', 'type', 'requestId', 'dir'] },
  ),
  fc.record(
    {
      v,
      type: fc.constant('ask'),
      requestId: id,
      conversationId: id,
      question: fc.string({ minLength: 1, maxLength: 40 }),
      start: fc.record({ detail: fc.constantFrom('low', 'high') }, { requiredKeys: [] }),
      options: fc.record({ maxNewTokens: fc.integer({ min: 1, max: 8 }), temperature: fc.double({ min: 0, max: 5, noNaN: true }) }, { requiredKeys: [] }),
    },
    { requiredKeys: ['v', 'type', 'requestId', 'conversationId', 'question'] },
  ),
  fc.record({ v, type: fc.constantFrom('cancel', 'unload', 'ping'), requestId: id }),
  fc.record({ v, type: fc.constant('close-conversation'), requestId: id, conversationId: id }),
  fc.record(
    { v, type: fc.constant('prepare-server-image'), requestId: id, image: id.map((p) => ({ kind: 'path', path: `/nonexistent-screenask/${p}.png` })), detail: fc.constantFrom('low', 'high'), maxPixels: fc.integer({ min: 1, max: 4_000_000 }) },
    { requiredKeys: ['v', 'type', 'requestId', 'image', 'detail'] },
  ),
);

describe('engine protocol validators (fuzzed)', () => {
  it('generates valid requests (so the mutations start from something real)', () => {
    fc.assert(fc.property(validRequest, (message) => parseRequest(message).ok), { numRuns: 100 });
  });

  it('parse any value or mutated request into a valid message or a one-line rejection, never a throw', () => {
    fc.assert(
      fc.property(fc.oneof(anyMessage(), mutated(validRequest)), (raw) => {
        const parsed = parseRequest(raw);
        if (parsed.ok) return engineRequestSchema.safeParse(parsed.message).success;
        return isOneLine(parsed.error) && (parsed.requestId === null || typeof parsed.requestId === 'string');
      }),
      { numRuns: 400 },
    );
  });

  it('do the same for replies from the model process', () => {
    fc.assert(
      fc.property(anyMessage(), (raw) => {
        const parsed = parseReply(raw);
        return parsed.ok ? engineReplySchema.safeParse(parsed.message).success : isOneLine(parsed.error);
      }),
      { numRuns: 300 },
    );
  });
});

describe('the engine host (fuzzed)', () => {
  it('answers every message with valid replies, an error for what it cannot use, and never throws', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyMessage(), mutated(validRequest)), async (raw) => {
        const sent: unknown[] = [];
        const host = createEngineHost((message) => sent.push(message));
        await host.handle(raw);
        await host.dispose();
        expect(sent.every((message) => engineReplySchema.safeParse(message).success)).toBe(true);
        if (!parseRequest(raw).ok) {
          expect(sent).toEqual([expect.objectContaining({ type: 'error', userError: false })]);
        }
      }),
      { numRuns: 150 },
    );
  });
});
