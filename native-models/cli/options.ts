import { parseArgs } from 'node:util';
import { imageDetails, type ImageDetail } from '../families/family.js';
import { validateGenerationOptions, type GenerationOptions } from '../generation/settings.js';
import { ScreenAskError } from '../model/errors.js';
import { normaliseBaseUrl } from '../remote/base-url.js';
import { precisions, type Precision } from '../model/layout.js';
import { devices, type Device } from '../runtime/session.js';

/** Where the first question comes from: the command line, stdin (`-`), or a file (`--question-file`). */
export type QuestionSource =
  | { readonly from: 'text'; readonly text: string }
  | { readonly from: 'stdin' }
  | { readonly from: 'file'; readonly path: string };

/** `--server URL` and what goes with it: answers from an OpenAI-compatible server instead of a local model. */
export interface ServerChoice {
  readonly url: string;
  /** `--server-model`; undefined: the first the server lists. */
  readonly model: string | undefined;
  /** `--api-key`; undefined: SCREENASK_API_KEY, read by the command (not here: parsing stays pure). */
  readonly apiKey: string | undefined;
  /** `--server-timeout` in milliseconds; undefined: the backend's default. */
  readonly stallTimeoutMs: number | undefined;
}

export interface AskCommand {
  /** The local model's directory; undefined when `server` is set (exactly one of the two is). */
  readonly model: string | undefined;
  readonly server: ServerChoice | undefined;
  readonly image: string | undefined;
  readonly question: QuestionSource;
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
  'usage: npm run ask -- (--model DIR | --server URL [--server-model NAME] [--api-key KEY] [--server-timeout SECONDS]) [--image FILE] [--max-new-tokens N] [--temperature T] [--top-p P] [--top-k K] ' +
  '[--repetition-penalty R] [--seed S] [--no-cache] [--precision P|auto] [--device D] [--threads N] [--detail low|high] ' +
  '[--max-pixels N] [--json] ("question" | - | --question-file FILE) [--follow-up "question" ...]';

/** The numeric generation flags and the setting each one sets (`--no-cache` is the boolean one, below). */
const generationFlags = {
  'max-new-tokens': 'maxNewTokens',
  temperature: 'temperature',
  'top-p': 'topP',
  'top-k': 'topK',
  'repetition-penalty': 'repetitionPenalty',
  seed: 'seed',
} as const satisfies Record<string, keyof GenerationOptions>;

const flagOf = (field: string): string =>
  field === 'useCache' ? '--no-cache' : `--${Object.entries(generationFlags).find(([, f]) => f === field)?.[0] ?? field}`;

const options = {
  model: { type: 'string' },
  image: { type: 'string' },
  'max-new-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-p': { type: 'string' },
  'top-k': { type: 'string' },
  'repetition-penalty': { type: 'string' },
  seed: { type: 'string' },
  'no-cache': { type: 'boolean' },
  precision: { type: 'string' },
  device: { type: 'string' },
  threads: { type: 'string' },
  detail: { type: 'string', default: 'high' },
  'max-pixels': { type: 'string' },
  json: { type: 'boolean' },
  'follow-up': { type: 'string', multiple: true },
  'question-file': { type: 'string' },
  server: { type: 'string' },
  'server-model': { type: 'string' },
  'api-key': { type: 'string' },
  'server-timeout': { type: 'string' },
} as const;

/** Flags that choose how a local model runs: meaningless with --server, so refused there rather than ignored. */
const localOnlyFlags = ['precision', 'device', 'threads', 'no-cache'] as const;
const serverOnlyFlags = ['server-model', 'api-key', 'server-timeout'] as const;

/**
 * `--temperature -1` as `--temperature=-1`: util.parseArgs takes a value that starts with a dash for an option of its
 * own ("argument is ambiguous"), so a negative number would never reach the range check that explains it.
 */
function joinNegativeValues(argv: readonly string[]): string[] {
  const takesValue = new Set(Object.entries(options).filter(([, o]) => o.type === 'string').map(([name]) => `--${name}`));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (takesValue.has(arg) && next !== undefined && /^-(\d|\.\d|Infinity$)/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

export function number(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed)) {
    throw new ScreenAskError(`Invalid value for --${flag}: expected a number (got "${value}").`);
  }
  return parsed;
}

export function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ScreenAskError(`Invalid value for --${flag}: "${value}" (use one of ${allowed.join(', ')}).`);
  }
  return value as T;
}

function questionSource(positionals: readonly string[], file: string | undefined): QuestionSource {
  const text = positionals.join(' ').trim();
  if (file !== undefined && text) {
    throw new ScreenAskError(`Give the question once: as text, as - (stdin) or with --question-file, not both. ${askUsage}`);
  }
  if (file !== undefined) {
    if (!file.trim()) throw new ScreenAskError('Empty --question-file: give the path of a text file that holds the question.');
    return { from: 'file', path: file };
  }
  if (text === '-') return { from: 'stdin' };
  if (!text) throw new ScreenAskError(`Missing the question. ${askUsage}`);
  return { from: 'text', text };
}

/**
 * Parses `ask`'s argv; every mistake is a one-line ScreenAskError. Generation settings are range-checked here, with
 * the engine's schema, so that a wrong flag is reported before anything is loaded.
 */
export function parseAskArgs(argv: readonly string[]): AskCommand {
  let parsed;
  try {
    parsed = parseArgs({ args: joinNegativeValues(argv), allowPositionals: true, options });
  } catch (error) {
    throw new ScreenAskError(`${(error as Error).message.split('\n')[0]} (${askUsage})`);
  }
  const { values, positionals } = parsed;
  if (values.model !== undefined && values.server !== undefined) {
    throw new ScreenAskError('Give --model DIR (a model on this computer) or --server URL (a server), not both.');
  }
  if (values.model === undefined && values.server === undefined) throw new ScreenAskError(`Missing --model DIR (or --server URL). ${askUsage}`);
  const misplaced = (values.server !== undefined ? localOnlyFlags : serverOnlyFlags).find((flag) => values[flag] !== undefined);
  if (misplaced) {
    throw new ScreenAskError(
      values.server !== undefined ? `--${misplaced} sets up a model on this computer: leave it out with --server.` : `--${misplaced} goes with --server URL.`,
    );
  }
  const question = questionSource(positionals, values['question-file']);
  const generation = Object.fromEntries(
    [
      ...Object.entries(generationFlags).map(([flag, field]) => [field, number(flag, values[flag as keyof typeof generationFlags])] as const),
      ['useCache', values['no-cache'] ? false : undefined] as const,
    ].filter(([, v]) => v !== undefined),
  );
  return {
    model: values.model,
    server: values.server === undefined ? undefined : serverChoice(values.server, values['server-model'], values['api-key'], values['server-timeout']),
    image: values.image,
    question,
    followUps: (values['follow-up'] ?? []).map((q) => {
      if (!q.trim()) throw new ScreenAskError('Empty --follow-up question: give the question text after it.');
      return q;
    }),
    precision: oneOf('precision', values.precision ?? 'auto', ['auto', ...precisions] as const),
    device: oneOf('device', values.device ?? 'cpu', devices),
    threads: number('threads', values.threads),
    detail: oneOf('detail', values.detail, imageDetails),
    maxPixels: number('max-pixels', values['max-pixels']),
    json: values.json ?? false,
    generation: validateGenerationOptions(generation, flagOf),
  };
}

/** The URL is checked here, with the backend's own rule, so that a typo fails before anything is sent. */
function serverChoice(url: string, model: string | undefined, apiKey: string | undefined, timeout: string | undefined): ServerChoice {
  const seconds = number('server-timeout', timeout);
  if (seconds !== undefined && !(seconds > 0)) throw new ScreenAskError(`Invalid value for --server-timeout: a number of seconds above 0 (got ${timeout}).`);
  if (model !== undefined && !model.trim()) throw new ScreenAskError('Empty --server-model: give the model name as the server lists it.');
  return { url: normaliseBaseUrl(url), model: model?.trim(), apiKey, stallTimeoutMs: seconds === undefined ? undefined : seconds * 1000 };
}
