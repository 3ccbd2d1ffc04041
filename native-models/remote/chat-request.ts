// The body of POST {baseUrl}/chat/completions: the conversation so far and the generation settings, named as the
// OpenAI API names them, plus the two ScreenAsk settings OpenAI lacks, where servers commonly take them.
import type { GenerationOptions } from '../generation/settings.js';

export type ChatContentPart = { readonly type: 'text'; readonly text: string } | { readonly type: 'image_url'; readonly image_url: { readonly url: string } };

export interface ChatTurn {
  readonly role: 'user' | 'assistant';
  readonly content: string | readonly ChatContentPart[];
}

/**
 * Fields outside the OpenAI schema. vLLM takes `top_k` and `repetition_penalty` as extra body fields, llama.cpp's
 * server `top_k`; Ollama's OpenAI endpoint ignores them; OpenAI itself and strict proxies refuse the request (400).
 * `stream_options` is OpenAI's, but older servers refuse it too. A refusal that names one of them is answered by one
 * retry without them all (see RemoteConversation).
 */
export const optionalFields = ['top_k', 'repetition_penalty', 'stream_options'] as const;
export type OptionalField = (typeof optionalFields)[number];

export interface ChatRequestOptions {
  /** False on the retry after a server refused an optional field. */
  readonly optional: boolean;
}

/**
 * `stream: true` always (the answer is shown as it comes), with usage in the last chunk where the server supports
 * it. Settings the caller did not give are left out, so the server's (the model's) defaults apply, as the local
 * engine applies the model's generation_config. `useCache` has no field: a server manages its own cache.
 */
export function chatRequest(model: string, messages: readonly ChatTurn[], settings: GenerationOptions, { optional }: ChatRequestOptions): Record<string, unknown> {
  const body: Record<string, unknown> = { model, messages, stream: true };
  if (settings.maxNewTokens !== undefined) body.max_tokens = settings.maxNewTokens;
  if (settings.temperature !== undefined) body.temperature = settings.temperature;
  if (settings.topP !== undefined) body.top_p = settings.topP;
  if (settings.seed !== undefined) body.seed = settings.seed;
  if (optional) {
    body.stream_options = { include_usage: true };
    if (settings.topK !== undefined) body.top_k = settings.topK;
    if (settings.repetitionPenalty !== undefined) body.repetition_penalty = settings.repetitionPenalty;
  }
  return body;
}

/** The optional fields a request carries. */
export function optionalFieldsIn(body: Record<string, unknown>): OptionalField[] {
  return optionalFields.filter((field) => field in body);
}

/**
 * Whether a 400 (or FastAPI's 422) is about a field this client may leave out: the server's message names one it
 * was sent (OpenAI: "Unrecognized request argument supplied: top_k"), or says a field is not recognised without
 * naming one of the request's other fields (those are not ours to drop: the refusal stands).
 */
export function refusesOptionalField(status: number | undefined, message: string | undefined, body: Record<string, unknown>): boolean {
  const sent = optionalFieldsIn(body);
  if ((status !== 400 && status !== 422) || sent.length === 0 || message === undefined) return false;
  if (sent.some((field) => message.includes(field))) return true;
  const others = Object.keys(body).filter((field) => !(optionalFields as readonly string[]).includes(field));
  if (others.some((field) => new RegExp(`\\b${field}\\b`).test(message))) return false;
  return /unrecognized|unrecognised|unknown (field|param|argument)|unsupported|not supported|not permitted|extra (fields|inputs)|additional propert/i.test(message);
}
