// Reads a chat completion response: the event stream of `chat.completion.chunk`s, or, from a server that ignored
// `stream: true`, one `chat.completion`. Yields the answer's text as it comes and fills in `into` on the way.
import type { Started, ServerEndpoint } from './http.js';
import { chunkSchema, completionSchema, schemaProblem, type Usage } from './openai-schema.js';
import { closedEarly, garbage, serverText, ServerError } from './server-errors.js';
import { sseData, SseFormatError } from './sse.js';

/** What the response said, filled in while it is read (so a cancelled answer keeps what it had). */
export interface StreamedAnswer {
  text: string;
  /** As the server names it in its chunks (falls back to the model asked for). */
  model: string;
  usage: Usage | undefined;
  /** Chunks that carried text: about one token each on vLLM, Ollama and llama.cpp. */
  chunks: number;
  sentAt: number;
  firstAt: number | undefined;
  lastAt: number | undefined;
  finishReason: string | undefined;
}

const what = 'the question (POST /chat/completions)';

function malformed(baseUrl: string, problem: string): ServerError {
  return new ServerError(baseUrl, `The server at ${baseUrl} sent a malformed answer stream (${serverText(problem, 120)}): check that it is an OpenAI-compatible API and see its log.`);
}

function received(into: StreamedAnswer, text: string): void {
  const now = performance.now();
  into.firstAt ??= now;
  into.lastAt = now;
  into.chunks++;
  into.text += text;
}

export async function* readAnswer(endpoint: ServerEndpoint, { response, watchdog }: Started, into: StreamedAnswer): AsyncGenerator<string> {
  const { baseUrl } = endpoint;
  const type = response.headers.get('content-type') ?? '';
  if (!response.body) throw garbage(baseUrl, what, 'an empty body');
  if (/application\/json/i.test(type)) {
    yield* readWhole(baseUrl, response, into);
    return;
  }
  if (!/text\/event-stream/i.test(type)) throw garbage(baseUrl, what, `content-type "${type || 'none'}" instead of text/event-stream`);

  let done = false;
  try {
    for await (const data of sseData(response.body, () => watchdog.kick())) {
      if (data.trim() === '[DONE]') {
        done = true;
        break;
      }
      let json: unknown;
      try {
        json = JSON.parse(data);
      } catch {
        throw malformed(baseUrl, `an event that is not JSON: ${data.slice(0, 40)}`);
      }
      const parsed = chunkSchema.safeParse(json);
      if (!parsed.success) throw malformed(baseUrl, schemaProblem(parsed.error));
      const chunk = parsed.data;
      if (chunk.error || chunk.object === 'error') {
        const message = typeof chunk.error === 'string' ? chunk.error : (chunk.error?.message ?? chunk.message ?? 'no message');
        throw new ServerError(baseUrl, `The server at ${baseUrl} failed in the middle of the answer: ${serverText(message)}. Try again; if it persists, see the server's log.`);
      }
      if (chunk.model) into.model = chunk.model;
      if (chunk.usage) into.usage = chunk.usage;
      const choice = chunk.choices?.[0];
      if (choice?.finish_reason) into.finishReason = choice.finish_reason;
      const text = choice?.delta?.content;
      if (text) {
        received(into, text);
        yield text;
      }
    }
  } catch (error) {
    if (error instanceof SseFormatError) throw malformed(baseUrl, error.message);
    if (error instanceof ServerError || (error instanceof Error && error.name === 'AbortError')) throw error;
    // The socket closed under the reader ("terminated"), or the body failed: the answer is cut short.
    throw closedEarly(baseUrl, error);
  }
  // A server that ends the stream without [DONE] but after a finish reason has said all it meant to.
  if (!done && into.finishReason === undefined) throw closedEarly(baseUrl);
}

async function* readWhole(baseUrl: string, response: Response, into: StreamedAnswer): AsyncGenerator<string> {
  let json: unknown;
  try {
    json = await response.json();
  } catch (error) {
    if (error instanceof Error && error.name === 'AbortError') throw error;
    throw garbage(baseUrl, what, 'JSON that does not parse');
  }
  const parsed = completionSchema.safeParse(json);
  if (!parsed.success) throw garbage(baseUrl, what, schemaProblem(parsed.error));
  const [choice] = parsed.data.choices;
  if (parsed.data.model) into.model = parsed.data.model;
  into.usage = parsed.data.usage ?? undefined;
  into.finishReason = choice!.finish_reason ?? undefined;
  const text = choice!.message.content ?? '';
  if (text) {
    received(into, text);
    yield text;
  }
}
