// GET {baseUrl}/models: which models a server offers (the app lists them; connectServer picks the first).
import { getJson, type ServerEndpoint } from './http.js';
import { modelListSchema, schemaProblem } from './openai-schema.js';

export async function fetchModelIds(endpoint: ServerEndpoint, signal?: AbortSignal): Promise<string[]> {
  return getJson(
    endpoint,
    '/models',
    'the model list (GET /models)',
    (json) => {
      const parsed = modelListSchema.safeParse(json);
      if (!parsed.success) throw new Error(schemaProblem(parsed.error));
      return [...new Set(parsed.data.data.map((m) => m.id))];
    },
    signal,
  );
}
