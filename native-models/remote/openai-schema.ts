// The parts of OpenAI's chat API the remote backend reads, as vLLM, Ollama, LM Studio and llama.cpp's server send
// them. Loose objects: servers add fields of their own (vLLM's `root`, Ollama's `system_fingerprint`), and a client
// must not break on them.
import { z } from 'zod';

/** GET /v1/models */
export const modelListSchema = z.looseObject({
  data: z.array(z.looseObject({ id: z.string().min(1) })),
});

const usageSchema = z.looseObject({
  prompt_tokens: z.number().int().nonnegative().optional(),
  completion_tokens: z.number().int().nonnegative().optional(),
  prompt_tokens_details: z.looseObject({ cached_tokens: z.number().int().nonnegative().nullish() }).nullish(),
});
export type Usage = z.infer<typeof usageSchema>;

/** One `data:` event of a streamed chat completion (`chat.completion.chunk`), or an error a server sends instead. */
export const chunkSchema = z.looseObject({
  model: z.string().optional(),
  choices: z
    .array(
      z.looseObject({
        delta: z.looseObject({ content: z.string().nullish() }).nullish(),
        finish_reason: z.string().nullish(),
      }),
    )
    .nullish(),
  usage: usageSchema.nullish(),
  // vLLM and Ollama report a failure mid-stream as an event of its own: `{ "error": { "message": … } }` (or vLLM's
  // older `{ "object": "error", "message": … }`).
  error: z.union([z.string(), z.looseObject({ message: z.string().optional() })]).nullish(),
  object: z.string().optional(),
  message: z.string().optional(),
});
export type Chunk = z.infer<typeof chunkSchema>;

/** A whole completion (`chat.completion`), for a server that ignored `stream: true` and answered in one piece. */
export const completionSchema = z.looseObject({
  model: z.string().optional(),
  choices: z.array(z.looseObject({ message: z.looseObject({ content: z.string().nullish() }), finish_reason: z.string().nullish() })).min(1),
  usage: usageSchema.nullish(),
});

/** The first problem zod found, in a few words, for a one-line message. */
export function schemaProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'an unexpected shape';
  const at = issue.path.length > 0 ? issue.path.join('.') : 'the document';
  return `${at}: ${issue.message}`;
}
