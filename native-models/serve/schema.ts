// The shape of a chat completion request, as OpenAI documents it: types only. Ranges are the engine's
// (generationOptionsSchema, checked in request.ts), so that the server never states them a second time.
import { z } from 'zod';
import { badRequest } from './errors.js';

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const imagePart = z.object({
  type: z.literal('image_url'),
  image_url: z.object({
    url: z.string(),
    /** OpenAI's knob: `low` and `high` are the engine's detail levels, `auto` the server's default (--detail). */
    detail: z.enum(['auto', 'low', 'high']).optional(),
  }),
});
// An assistant turn may carry a refusal part; it is text the model said.
const refusalPart = z.object({ type: z.literal('refusal'), refusal: z.string() });
const part = z.discriminatedUnion('type', [textPart, imagePart, refusalPart], {
  error: 'must be a part of type text or image_url (audio, files and other parts are not supported)',
});

export const roles = ['system', 'developer', 'user', 'assistant'] as const;

const message = z.object({
  role: z.enum(roles, { error: 'must be system, developer, user or assistant (tool and function messages are not supported)' }),
  /** Null only for an assistant turn that called tools, which this server never does (refused in messages.ts). */
  content: z.union([z.string(), z.array(part)]).nullish(),
  name: z.string().optional(),
  tool_calls: z.array(z.unknown()).optional(),
});
export type RequestMessage = z.infer<typeof message>;
export type RequestPart = z.infer<typeof part>;

const nullish = <T extends z.ZodType>(schema: T) => schema.nullish();

export const chatRequestSchema = z.object({
  model: z.string({ error: 'is required: the id from GET /v1/models' }),
  messages: z.array(message).min(1, { error: 'must hold at least one message' }),
  max_tokens: nullish(z.number()),
  max_completion_tokens: nullish(z.number()),
  temperature: nullish(z.number()),
  top_p: nullish(z.number()),
  seed: nullish(z.number()),
  stop: nullish(z.union([z.string(), z.array(z.string()).max(4, { error: 'holds at most 4 sequences' })])),
  stream: nullish(z.boolean()),
  stream_options: nullish(z.object({ include_usage: z.boolean().optional() })),
  n: nullish(z.number()),
  // ScreenAsk's own knobs, where vLLM and llama.cpp's server take them: top level, beside OpenAI's.
  top_k: nullish(z.number()),
  repetition_penalty: nullish(z.number()),
});
export type ChatRequest = z.infer<typeof chatRequestSchema>;

/** `messages[0].content[1].image_url.url` from a zod path. */
export function paramOf(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)), '');
}

/**
 * OpenAI parameters this server cannot honour, refused rather than ignored: a client that asks for tools or log
 * probabilities would otherwise get an answer that silently lacks them. Each says what to do instead.
 */
const unsupported: Record<string, { readonly inUse: (value: unknown) => boolean; readonly why: string }> = {
  tools: { inUse: (v) => Array.isArray(v) && v.length > 0, why: 'the model has no tool calling here; leave tools out' },
  tool_choice: { inUse: (v) => v !== 'none' && v !== 'auto', why: 'the model has no tool calling here; leave it out' },
  functions: { inUse: (v) => Array.isArray(v) && v.length > 0, why: 'the model has no function calling here; leave it out' },
  function_call: { inUse: (v) => v !== 'none' && v !== 'auto', why: 'the model has no function calling here; leave it out' },
  logprobs: { inUse: (v) => v === true, why: 'log probabilities are not reported; leave it out or false' },
  top_logprobs: { inUse: (v) => typeof v === 'number' && v > 0, why: 'log probabilities are not reported; leave it out' },
  response_format: { inUse: (v) => (v as { type?: unknown })?.type !== 'text', why: 'answers are plain text; leave it out or use { "type": "text" }' },
  presence_penalty: { inUse: (v) => v !== 0, why: 'use repetition_penalty (e.g. 1.1) instead' },
  frequency_penalty: { inUse: (v) => v !== 0, why: 'use repetition_penalty (e.g. 1.1) instead' },
  logit_bias: { inUse: (v) => typeof v === 'object' && Object.keys(v ?? {}).length > 0, why: 'logit bias is not supported; leave it out' },
  modalities: { inUse: (v) => Array.isArray(v) && v.some((m) => m !== 'text'), why: 'answers are text only' },
  audio: { inUse: (v) => v !== undefined, why: 'answers are text only' },
};

/** The request's fields, typed; unknown fields (user, metadata, store…) are ignored, as OpenAI-compatible servers do. */
export function parseChatRequest(body: unknown): ChatRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('The request body must be a JSON object with model and messages.');
  }
  for (const [field, rule] of Object.entries(unsupported)) {
    const value = (body as Record<string, unknown>)[field];
    if (value !== undefined && value !== null && rule.inUse(value)) throw badRequest(`${field} is not supported: ${rule.why}.`, field, 'unsupported_parameter');
  }
  const parsed = chatRequestSchema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = specific(parsed.error.issues[0]!);
  const param = paramOf(issue.path);
  throw badRequest(`Invalid ${param || 'request'}: ${issue.message}.`, param || undefined);
}

/**
 * The issue that says most. Zod reports a failed union (content as a string or parts, stop as a string or a list) as
 * "Invalid input" and keeps each branch's issues inside: the branch whose type matched is the one the client meant
 * (given parts, a bad part; given a list, a list too long), and the deepest issue in it says where.
 */
function specific(issue: z.core.$ZodIssue): { path: PropertyKey[]; message: string; typeMismatch: boolean } {
  const own = { path: [...issue.path], message: issue.message, typeMismatch: issue.code === 'invalid_type' };
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return own;
  const branches = issue.errors.map((errors) => specific(errors[0]!)).map((b) => ({ ...b, path: [...issue.path, ...b.path] }));
  const meant = branches.filter((b) => !(b.typeMismatch && b.path.length === issue.path.length));
  if (meant.length === 0) {
    const expected = issue.errors.map((errors) => (errors[0]?.code === 'invalid_type' ? errors[0].expected : undefined));
    return expected.every((e) => e !== undefined) ? { ...own, message: `expected ${[...new Set(expected)].join(' or ')}` } : own;
  }
  return meant.reduce((best, b) => (b.path.length > best.path.length ? b : best));
}
