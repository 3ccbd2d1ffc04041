import type { Answer, AnswerEvent } from '../../native-models/index.js';

/** Drains an answer stream, checking on the way that the streamed text adds up to the final answer. */
export async function collectAnswer(events: AsyncIterable<AnswerEvent>): Promise<Answer & { streamed: string; tokenEvents: number }> {
  let streamed = '';
  let tokenEvents = 0;
  for await (const event of events) {
    if (event.type === 'token') tokenEvents++;
    if (event.type === 'token' || event.type === 'text') streamed += event.text;
    if (event.type === 'done') return { ...event.answer, streamed, tokenEvents };
  }
  throw new Error('the answer stream ended without a done event');
}
