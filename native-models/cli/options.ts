import { parseArgs } from 'node:util';
import { imageDetails, type ImageDetail } from '../families/family.js';
import type { GenerationOptions } from '../generation/settings.js';
import { ScreenAskError } from '../model/errors.js';
import { precisions, type Precision } from '../model/layout.js';
import { devices, type Device } from '../runtime/session.js';

export interface AskCommand {
  readonly model: string;
  readonly image: string | undefined;
  readonly question: string;
  /** Further questions asked in the same conversation, in order. */
  readonly followUps: readonly string[];
  readonly precision: Precision | 'auto';
  readonly device: Device;
  readonly threads: number | undefined;
  readonly detail: ImageDetail;
  /** Most pixels an image keeps (families that resize to a budget: Qwen2-VL); undefined: the engine's default. */
  readonly maxPixels: number | undefined;
  readonly json: boolean;
  readonly generation: GenerationOptions;
}

export const askUsage =
  'usage: npm run ask -- --model DIR [--image FILE] [--max-new-tokens N] [--temperature T] [--top-p P] [--top-k K] ' +
  '[--repetition-penalty R] [--seed S] [--no-cache] [--precision P] [--device D] [--threads N] [--detail low|high] [--max-pixels N] ' +
  '[--json] "question" [--follow-up "question" ...]';

function number(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed)) {
    throw new ScreenAskError(`Invalid value for --${flag}: expected a number (got "${value}").`);
  }
  return parsed;
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ScreenAskError(`Invalid value for --${flag}: "${value}" (use one of ${allowed.join(', ')}).`);
  }
  return value as T;
}

/** Parses `ask`'s argv; every mistake is a one-line ScreenAskError. Ranges are checked later by the shared schema. */
export function parseAskArgs(argv: readonly string[]): AskCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        model: { type: 'string' },
        image: { type: 'string' },
        'max-new-tokens': { type: 'string' },
        temperature: { type: 'string' },
        'top-p': { type: 'string' },
        'top-k': { type: 'string' },
        'repetition-penalty': { type: 'string' },
        seed: { type: 'string' },
        'no-cache': { type: 'boolean' },
        precision: { type: 'string', default: 'auto' },
        device: { type: 'string', default: 'cpu' },
        threads: { type: 'string' },
        detail: { type: 'string', default: 'high' },
        'max-pixels': { type: 'string' },
        json: { type: 'boolean' },
        'follow-up': { type: 'string', multiple: true },
      },
    });
  } catch (error) {
    throw new ScreenAskError(`${(error as Error).message.split('\n')[0]} (${askUsage})`);
  }
  const { values, positionals } = parsed;
  if (!values.model) throw new ScreenAskError(`Missing --model DIR. ${askUsage}`);
  const question = positionals.join(' ').trim();
  if (!question) throw new ScreenAskError(`Missing the question. ${askUsage}`);
  const generation: Record<string, number | boolean | undefined> = {
    maxNewTokens: number('max-new-tokens', values['max-new-tokens']),
    temperature: number('temperature', values.temperature),
    topP: number('top-p', values['top-p']),
    topK: number('top-k', values['top-k']),
    repetitionPenalty: number('repetition-penalty', values['repetition-penalty']),
    seed: number('seed', values.seed),
    useCache: values['no-cache'] ? false : undefined,
  };
  return {
    model: values.model,
    image: values.image,
    question,
    followUps: (values['follow-up'] ?? []).map((q) => {
      if (!q.trim()) throw new ScreenAskError('Empty --follow-up question: give the question text after it.');
      return q;
    }),
    precision: values.precision === 'auto' ? 'auto' : oneOf('precision', values.precision, precisions),
    device: oneOf('device', values.device, devices),
    threads: number('threads', values.threads),
    detail: oneOf('detail', values.detail, imageDetails),
    maxPixels: number('max-pixels', values['max-pixels']),
    json: values.json ?? false,
    generation: Object.fromEntries(Object.entries(generation).filter(([, v]) => v !== undefined)),
  };
}
