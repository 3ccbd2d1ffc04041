/**
 * The benchmark models: random weights with the real shapes of a public export, generated on demand into a
 * git-ignored cache. Generating one takes a while (~20 s and 1.5 GB for SmolVLM-256M on the 2-core dev VM; a couple of
 * minutes and ~6 GB for the 4-layer Qwen2.5-VL-3B variant), so a stamp file records the generator options it was made
 * with and the model is regenerated only when a file is missing or the options changed. (A change inside a generator
 * itself is not detected: delete the model's folder under .cache/bench/ to pick one up.)
 *
 * Each family is a `BenchModelSource`: its stamp options, its generator and what the bench needs to know about the
 * result. Everything else (the stamp, the atomic write, the eos patch) is shared.
 */
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { QWEN2_5_VL_3B_DIMS, writeQwen2VlModel } from '../test/fixtures/qwen2vl/generate.js';
import { SMOLVLM_256M_DIMS, writeSmolVlmModel, type Precision } from '../test/fixtures/smolvlm/generate.js';
import type { GraphStyle } from '../test/fixtures/shared/decoder-styles.js';
import type { BenchFamily } from './types.js';

/** fp32, and the quantized formats of the public exports: q8 (dynamic int8 MatMulInteger), q4 (MatMulNBits). */
export const BENCH_PRECISIONS = ['fp32', 'q8', 'q4'] as const satisfies readonly Precision[];
export type BenchPrecision = (typeof BENCH_PRECISIONS)[number];

const SUFFIX: Record<BenchPrecision, string> = { fp32: '', q8: '_quantized', q4: '_q4' };
const GRAPHS = ['embed_tokens', 'vision_encoder', 'decoder_model_merged'] as const;
type GraphName = (typeof GRAPHS)[number];

export const DEFAULT_MODEL_DIR = path.resolve('.cache/bench/smolvlm-256m');

/** Decoder layers of the Qwen bench model unless --layers says otherwise: the real 36 do not fit a quick CPU run. */
export const DEFAULT_QWEN_LAYERS = 4;
export const QWEN_FULL_LAYERS = QWEN2_5_VL_3B_DIMS.text.numLayers;

/** Where a family's bench model is cached unless --model-dir says otherwise. */
export function defaultModelDir(family: BenchFamily, layers = DEFAULT_QWEN_LAYERS, style: GraphStyle = 'primitive'): string {
  if (family === 'smolvlm') return style === 'primitive' ? DEFAULT_MODEL_DIR : `${DEFAULT_MODEL_DIR}-${style}`;
  return path.resolve(`.cache/bench/qwen2.5-vl-3b-L${layers}`);
}

/**
 * Everything that decides the bytes of a cached model (what the stamp file records). Bump `benchFormat` when this
 * module changes what it does to the generated directory (e.g. the eos patch), so that old caches are rebuilt.
 */
export interface BenchModelOptions {
  readonly benchFormat: number;
  readonly seed: number;
  readonly size: string;
  readonly precisions: readonly BenchPrecision[];
  /** Qwen only: the generator's family and the decoder layer override. */
  readonly family?: string;
  readonly layers?: number;
  /** SmolVLM only: the decoder's graph style when not the default 'primitive' (test/fixtures/shared/decoder-styles.ts). */
  readonly graphStyle?: Exclude<GraphStyle, 'primitive'>;
}

export const BENCH_MODEL_OPTIONS: BenchModelOptions = {
  benchFormat: 1,
  seed: 256,
  size: 'smolvlm-256m',
  precisions: BENCH_PRECISIONS,
};

/** The text decoder's shape as the roofline needs it (K/V bytes per context position). */
export interface BenchTextDims {
  readonly numLayers: number;
  readonly numKvHeads: number;
  readonly headDim: number;
}

/** One family's bench model: how to make it and what to expect of it. */
export interface BenchModelSource {
  readonly options: BenchModelOptions;
  /** For the report: "SmolVLM-256M shapes", … */
  readonly shapes: string;
  readonly vocabSize: number;
  readonly text: BenchTextDims;
  /** JSON files a complete directory holds. */
  readonly jsonFiles: readonly string[];
  generate(dir: string): Promise<{ vocabSize: number; onnxBytes: number; seconds: number }>;
}

const COMMON_JSON = ['config.json', 'generation_config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json'];

/**
 * The SmolVLM bench model in a graph style: the same weights; the model builder's style has no q8 (it writes int4), so
 * its quantized runs use q4 (see keyScenarios).
 */
export function styledSmolVlmOptions(style: GraphStyle): BenchModelOptions {
  if (style === 'primitive') return BENCH_MODEL_OPTIONS;
  return { ...BENCH_MODEL_OPTIONS, graphStyle: style, precisions: style === 'gqa' ? ['fp32', 'q4'] : BENCH_PRECISIONS };
}

export function smolVlmSource(options: BenchModelOptions = BENCH_MODEL_OPTIONS): BenchModelSource {
  return {
    options,
    shapes: `SmolVLM-256M shapes${options.graphStyle ? `, ${options.graphStyle} graphs` : ''}`,
    vocabSize: SMOLVLM_256M_DIMS.text.vocabSize!,
    text: SMOLVLM_256M_DIMS.text,
    jsonFiles: COMMON_JSON,
    generate: (dir) =>
      writeSmolVlmModel(dir, {
        seed: options.seed,
        size: options.size as 'smolvlm-256m',
        precisions: [...options.precisions],
        ...(options.graphStyle ? { graphStyle: options.graphStyle } : {}),
      }),
  };
}

/**
 * Qwen2.5-VL-3B-Instruct's text shapes (hidden 2048, 16 query / 2 KV heads, MLP 11,008, vocab 151,936) with `layers`
 * of its 36 decoder layers, and the fixture's 2-block vision tower of the real width (the real one has 32 blocks).
 */
export function qwenSource(layers = DEFAULT_QWEN_LAYERS): BenchModelSource {
  if (!Number.isInteger(layers) || layers < 1 || layers > QWEN_FULL_LAYERS) {
    throw new Error(`the Qwen bench model has 1 to ${QWEN_FULL_LAYERS} decoder layers, got ${layers}`);
  }
  const options: BenchModelOptions = {
    benchFormat: 1,
    seed: 3,
    size: 'qwen2.5-vl-3b',
    family: 'qwen2_5_vl',
    layers,
    precisions: BENCH_PRECISIONS,
  };
  const dims = QWEN2_5_VL_3B_DIMS;
  return {
    options,
    shapes:
      `Qwen2.5-VL-3B text shapes with ${layers} of its ${QWEN_FULL_LAYERS} decoder layers, ` +
      `a ${dims.vision.numLayers}-block vision tower of the real width`,
    vocabSize: dims.text.vocabSize!,
    text: { ...dims.text, numLayers: layers },
    jsonFiles: [...COMMON_JSON, 'chat_template.json'],
    generate: (dir) =>
      writeQwen2VlModel(dir, { family: 'qwen2_5_vl', seed: options.seed, size: 'qwen2.5-vl-3b', layers, precisions: [...options.precisions] }),
  };
}

export function modelSource(family: BenchFamily, layers?: number, style: GraphStyle = 'primitive'): BenchModelSource {
  return family === 'smolvlm' ? smolVlmSource(styledSmolVlmOptions(style)) : qwenSource(layers);
}

export interface BenchModel {
  readonly dir: string;
  /** True when this run generated the files (the timings of a first run include page-cache warm-up). */
  readonly generated: boolean;
  readonly generateSeconds: number;
  /** The eos id written into generation_config.json: the last row of the LM head, never a real token. */
  readonly eosTokenId: number;
  readonly vocabSize: number;
  readonly shapes: string;
  readonly text: BenchTextDims;
}

const STAMP = 'bench-stamp.json';

export function graphPath(dir: string, graph: GraphName, precision: BenchPrecision): string {
  return path.join(dir, 'onnx', `${graph}${SUFFIX[precision]}.onnx`);
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * Bytes the decoder graph of `precision` keeps on disk: the .onnx file plus its external data (`<file>_data`, the
 * name the generator and the public exports use). Initializers dominate both; the graph structure is a few hundred KB.
 */
export function decoderWeightBytes(dir: string, precision: BenchPrecision): number {
  const file = graphPath(dir, 'decoder_model_merged', precision);
  return fileSize(file) + fileSize(`${file}_data`);
}

function complete(dir: string, source: BenchModelSource): boolean {
  const stamp = path.join(dir, STAMP);
  if (!existsSync(stamp)) return false;
  try {
    if (JSON.stringify(JSON.parse(readFileSync(stamp, 'utf8')).options) !== JSON.stringify(source.options)) return false;
  } catch {
    return false;
  }
  return (
    source.jsonFiles.every((f) => existsSync(path.join(dir, f))) &&
    source.options.precisions.every((p) => GRAPHS.every((g) => fileSize(graphPath(dir, g, p)) > 0))
  );
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

/**
 * The engine has no "ignore eos" option, and random weights may pick the real eos early, which would cut a
 * 512-token decode short. Point eos at the last LM-head row instead: a token the stand-in tokenizer does not know,
 * that greedy decoding is vanishingly unlikely to pick (1 in ~49k, or ~152k, per step for random logits). Every eos
 * field the files hold is rewritten (generation_config.json; config.json's text_config and, where the family keeps
 * one there as Qwen does, its top level): the engine stops on any of them. Every run still checks that it produced
 * exactly the requested count (see `consistencyWarnings` in report.ts). transformers.js gets `min_new_tokens` as
 * well, which masks whatever eos it reads.
 */
function patchEos(dir: string, vocabSize: number): number {
  const eos = vocabSize - 1;
  const genFile = path.join(dir, 'generation_config.json');
  writeFileSync(genFile, `${JSON.stringify({ ...readJson(genFile), eos_token_id: eos }, null, 2)}\n`);
  const cfgFile = path.join(dir, 'config.json');
  const config = readJson(cfgFile);
  const text = (config.text_config ?? {}) as Record<string, unknown>;
  const top = config.eos_token_id === undefined ? {} : { eos_token_id: eos };
  writeFileSync(cfgFile, `${JSON.stringify({ ...config, ...top, text_config: { ...text, eos_token_id: eos } }, null, 2)}\n`);
  return eos;
}

function readEos(dir: string): number {
  const eos = readJson(path.join(dir, 'generation_config.json')).eos_token_id;
  if (typeof eos !== 'number') throw new Error(`${dir}/generation_config.json: expected a single numeric eos_token_id`);
  return eos;
}

export async function ensureBenchModel(
  dir = DEFAULT_MODEL_DIR,
  source: BenchModelSource = smolVlmSource(),
  log: (line: string) => void = () => {},
): Promise<BenchModel> {
  const { vocabSize, shapes, text, options } = source;
  if (complete(dir, source)) {
    const eosTokenId = readEos(dir);
    if (eosTokenId !== vocabSize - 1) throw new Error(`${dir}: eos_token_id ${eosTokenId} is not vocab size - 1; delete the folder`);
    return { dir, generated: false, generateSeconds: 0, eosTokenId, vocabSize, shapes, text };
  }
  // Write into a sibling folder and rename at the end: an interrupted run never leaves a half model behind a stamp.
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  log(`generating the bench model (${options.size}${options.layers ? `, ${options.layers} layers` : ''}, ${options.precisions.join(', ')}) in ${dir} (cached afterwards)…`);
  const info = await source.generate(tmp);
  if (info.vocabSize !== vocabSize) throw new Error(`generator wrote vocab ${info.vocabSize}, expected ${vocabSize}`);
  const eosTokenId = patchEos(tmp, info.vocabSize);
  writeFileSync(
    path.join(tmp, STAMP),
    `${JSON.stringify({ options, onnxBytes: info.onnxBytes, seconds: info.seconds, at: new Date().toISOString() }, null, 2)}\n`,
  );
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  log(`generated ${(info.onnxBytes / 1e9).toFixed(2)} GB of ONNX in ${info.seconds.toFixed(0)} s`);
  return { dir, generated: true, generateSeconds: info.seconds, eosTokenId, vocabSize, shapes, text };
}
