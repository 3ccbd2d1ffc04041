// A request's sampling fields as the engine's generation options: the engine's schema checks the ranges and words the
// message, with the OpenAI field's name in it.
import { validateGenerationOptions, type GenerationOptions } from '../generation/settings.js';
import { ScreenAskError } from '../model/errors.js';
import { badRequest } from './errors.js';
import type { ChatRequest } from './schema.js';

export interface AnswerSettings {
  readonly generation: GenerationOptions;
  /** Sequences that end the answer where they first appear; the answer stops before them. */
  readonly stop: readonly string[];
  readonly stream: boolean;
  readonly includeUsage: boolean;
}

const present = <T>(value: T | null | undefined): value is T => value !== undefined && value !== null;

export function answerSettings(request: ChatRequest): AnswerSettings {
  if (present(request.n) && request.n !== 1) {
    throw badRequest(`n must be 1 (got ${request.n}): the server gives one answer per request; send the request again for another.`, 'n');
  }
  const { max_tokens: maxTokens, max_completion_tokens: maxCompletion } = request;
  if (present(maxTokens) && present(maxCompletion) && maxTokens !== maxCompletion) {
    throw badRequest(`max_tokens (${maxTokens}) and max_completion_tokens (${maxCompletion}) disagree: send one of them.`, 'max_completion_tokens');
  }
  const maxParam = present(maxCompletion) ? 'max_completion_tokens' : 'max_tokens';
  const names: Record<string, string> = {
    maxNewTokens: maxParam,
    temperature: 'temperature',
    topP: 'top_p',
    topK: 'top_k',
    repetitionPenalty: 'repetition_penalty',
    seed: 'seed',
  };
  const fields = {
    maxNewTokens: maxCompletion ?? maxTokens,
    temperature: request.temperature,
    topP: request.top_p,
    topK: request.top_k,
    repetitionPenalty: request.repetition_penalty,
    seed: request.seed,
  };
  let param: string | undefined;
  let generation: GenerationOptions;
  try {
    generation = validateGenerationOptions(
      Object.fromEntries(Object.entries(fields).filter(([, v]) => present(v))),
      (field) => (param = names[field] ?? field),
    );
  } catch (error) {
    if (error instanceof ScreenAskError) throw badRequest(error.message, param);
    throw error;
  }
  const stop = typeof request.stop === 'string' ? [request.stop] : (request.stop ?? []);
  if (stop.some((s) => s === '')) throw badRequest('stop holds an empty string, which would end every answer at once: leave it out.', 'stop');
  return { generation, stop, stream: request.stream === true, includeUsage: request.stream_options?.include_usage === true };
}
