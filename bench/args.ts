/** The bench's command line (pure: no I/O beyond the thread count default, so it can be unit-tested). */
import path from 'node:path';
import { GRAPH_STYLES, type GraphStyle } from '../test/fixtures/shared/decoder-styles.js';
import { parseArgs } from 'node:util';
import { physicalCores } from '../native-models/runtime/threads.js';
import { DEFAULT_QWEN_LAYERS, defaultModelDir, QWEN_FULL_LAYERS } from './model.js';
import { DEFAULT_TYPING_MS } from './plan.js';
import { BENCH_DEVICES, BENCH_FAMILIES, type BenchDevice, type BenchFamily } from './types.js';

export const USAGE =
  'usage: npm run bench -- [--quick | --reliability] [--json] [--out FILE] [--threads N] [--model-dir DIR] ' +
  `[--family ${BENCH_FAMILIES.join('|')}] [--layers N (qwen2.5-vl: 1 to ${QWEN_FULL_LAYERS}, default ${DEFAULT_QWEN_LAYERS})] ` +
  `[--device ${BENCH_DEVICES.join('|')}] [--typing-ms N (the pause before the question, default ${DEFAULT_TYPING_MS})] [--profile (where a decode step's time goes)] [--graph-style primitive|fused|gqa (smolvlm)]`;

export interface Args {
  readonly quick: boolean;
  /** Only the figures unit tests must not assert: memory over 100 questions, download cancel latency. */
  readonly reliability: boolean;
  readonly json: boolean;
  readonly out: string | undefined;
  readonly threads: number;
  readonly modelDir: string;
  readonly family: BenchFamily;
  /** Decoder layers of the Qwen model; undefined for SmolVLM (its real 30). */
  readonly layers: number | undefined;
  readonly device: BenchDevice;
  /** How long the read-ahead runs get between the capture and the question (a user typing it). */
  readonly typingMs: number;
  /** Only the decode-step breakdown (bench/profile.ts), instead of the comparison runs. */
  readonly profile: boolean;
  /** The bench model's decoder graph style (SmolVLM only; default 'primitive'). */
  readonly graphStyle: GraphStyle;
}

function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) throw new Error(`--${name} must be one of ${allowed.join(', ')}, got ${value}`);
  return value as T;
}

/** Parses the arguments after `npm run bench --`; undefined for --help. Throws a one-line error on bad input. */
export function parseBenchArgs(argv: readonly string[]): Args | undefined {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      quick: { type: 'boolean', default: false },
      reliability: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
      threads: { type: 'string' },
      'model-dir': { type: 'string' },
      family: { type: 'string' },
      layers: { type: 'string' },
      device: { type: 'string' },
      'typing-ms': { type: 'string' },
      profile: { type: 'boolean', default: false },
      'graph-style': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return undefined;
  const threads = values.threads === undefined ? physicalCores() : Number(values.threads);
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new Error(`--threads must be a whole number from 1 to 256, got ${values.threads}`);
  const family = oneOf('family', values.family, BENCH_FAMILIES, 'smolvlm');
  const device = oneOf('device', values.device, BENCH_DEVICES, 'cpu');
  const graphStyle = oneOf('graph-style', values['graph-style'], GRAPH_STYLES, 'primitive');
  if (family !== 'smolvlm' && graphStyle !== 'primitive') throw new Error('--graph-style applies to --family smolvlm only');
  let layers: number | undefined;
  if (family === 'smolvlm') {
    if (values.layers !== undefined) throw new Error('--layers applies to --family qwen2.5-vl only (the SmolVLM bench model keeps its 30 layers)');
  } else {
    layers = values.layers === undefined ? DEFAULT_QWEN_LAYERS : Number(values.layers);
    if (!Number.isInteger(layers) || layers < 1 || layers > QWEN_FULL_LAYERS) {
      throw new Error(`--layers must be a whole number from 1 to ${QWEN_FULL_LAYERS}, got ${values.layers}`);
    }
  }
  const typingMs = values['typing-ms'] === undefined ? DEFAULT_TYPING_MS : Number(values['typing-ms']);
  if (!Number.isInteger(typingMs) || typingMs < 0 || typingMs > 600_000) {
    throw new Error(`--typing-ms must be a whole number of milliseconds from 0 to 600000, got ${values['typing-ms']}`);
  }
  return {
    quick: values.quick,
    reliability: values.reliability,
    json: values.json,
    out: values.out,
    threads,
    modelDir: path.resolve(values['model-dir'] ?? defaultModelDir(family, layers, graphStyle)),
    family,
    layers,
    device,
    typingMs,
    profile: values.profile,
    graphStyle,
  };
}
