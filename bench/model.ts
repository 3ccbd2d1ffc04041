/**
 * The benchmark model: the real SmolVLM-256M shapes with random weights, generated on demand into a git-ignored
 * cache. Generating it takes a while (~20 s on the 2-core dev VM, 1.5 GB written), so a stamp file records the
 * generator options it was made with and the model is regenerated only when a file is missing or the options changed.
 * (A change inside the generator itself is not detected: delete .cache/bench/smolvlm-256m to pick one up.)
 */
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SMOLVLM_256M_DIMS, writeSmolVlmModel, type Precision } from '../test/fixtures/smolvlm/generate.js';

/** fp32, and the quantized formats of the public exports: q8 (dynamic int8 MatMulInteger), q4 (MatMulNBits). */
export const BENCH_PRECISIONS = ['fp32', 'q8', 'q4'] as const satisfies readonly Precision[];
export type BenchPrecision = (typeof BENCH_PRECISIONS)[number];

const SUFFIX: Record<BenchPrecision, string> = { fp32: '', q8: '_quantized', q4: '_q4' };
const GRAPHS = ['embed_tokens', 'vision_encoder', 'decoder_model_merged'] as const;
type GraphName = (typeof GRAPHS)[number];

export const DEFAULT_MODEL_DIR = path.resolve('.cache/bench/smolvlm-256m');

/**
 * Everything that decides the bytes of the cached model. Bump `benchFormat` when this module changes what it does to
 * the generated directory (e.g. the eos patch), so that old caches are rebuilt.
 */
export interface BenchModelOptions {
  readonly benchFormat: number;
  readonly seed: number;
  readonly size: 'smolvlm-256m';
  readonly precisions: readonly BenchPrecision[];
}

export const BENCH_MODEL_OPTIONS: BenchModelOptions = {
  benchFormat: 1,
  seed: 256,
  size: 'smolvlm-256m',
  precisions: BENCH_PRECISIONS,
};

export interface BenchModel {
  readonly dir: string;
  /** True when this run generated the files (the timings of a first run include page-cache warm-up). */
  readonly generated: boolean;
  readonly generateSeconds: number;
  /** The eos id written into generation_config.json: the last row of the LM head, never a real token. */
  readonly eosTokenId: number;
  readonly vocabSize: number;
  readonly dims: typeof SMOLVLM_256M_DIMS;
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

function complete(dir: string, options: BenchModelOptions): boolean {
  const stamp = path.join(dir, STAMP);
  if (!existsSync(stamp)) return false;
  try {
    if (JSON.stringify(JSON.parse(readFileSync(stamp, 'utf8')).options) !== JSON.stringify(options)) return false;
  } catch {
    return false;
  }
  const json = ['config.json', 'generation_config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json'];
  return (
    json.every((f) => existsSync(path.join(dir, f))) &&
    options.precisions.every((p) => GRAPHS.every((g) => fileSize(graphPath(dir, g, p)) > 0))
  );
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

/**
 * The engine has no "ignore eos" option, and random weights may pick the real eos early, which would cut a
 * 512-token decode short. Point eos at the last LM-head row instead: a token the stand-in tokenizer does not know,
 * that greedy decoding is vanishingly unlikely to pick (1 in ~49k per step for random logits). Every run still checks
 * that it produced exactly the requested count (see `checkTokenCount` in ours.ts). transformers.js gets
 * `min_new_tokens` as well, which masks whatever eos it reads.
 */
function patchEos(dir: string, vocabSize: number): number {
  const eos = vocabSize - 1;
  const genFile = path.join(dir, 'generation_config.json');
  writeFileSync(genFile, `${JSON.stringify({ ...readJson(genFile), eos_token_id: eos }, null, 2)}\n`);
  const cfgFile = path.join(dir, 'config.json');
  const config = readJson(cfgFile);
  const text = (config.text_config ?? {}) as Record<string, unknown>;
  writeFileSync(cfgFile, `${JSON.stringify({ ...config, text_config: { ...text, eos_token_id: eos } }, null, 2)}\n`);
  return eos;
}

function readEos(dir: string): number {
  const eos = readJson(path.join(dir, 'generation_config.json')).eos_token_id;
  if (typeof eos !== 'number') throw new Error(`${dir}/generation_config.json: expected a single numeric eos_token_id`);
  return eos;
}

export async function ensureBenchModel(
  dir = DEFAULT_MODEL_DIR,
  options: BenchModelOptions = BENCH_MODEL_OPTIONS,
  log: (line: string) => void = () => {},
): Promise<BenchModel> {
  const vocabSize = SMOLVLM_256M_DIMS.text.vocabSize!;
  if (complete(dir, options)) {
    const eosTokenId = readEos(dir);
    if (eosTokenId !== vocabSize - 1) throw new Error(`${dir}: eos_token_id ${eosTokenId} is not vocab size - 1; delete the folder`);
    return { dir, generated: false, generateSeconds: 0, eosTokenId, vocabSize, dims: SMOLVLM_256M_DIMS };
  }
  // Write into a sibling folder and rename at the end: an interrupted run never leaves a half model behind a stamp.
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  log(`generating the bench model (${options.size}, ${options.precisions.join(', ')}) in ${dir} (a minute or less here; cached afterwards)…`);
  const info = await writeSmolVlmModel(tmp, { seed: options.seed, size: options.size, precisions: [...options.precisions] });
  if (info.vocabSize !== vocabSize) throw new Error(`generator wrote vocab ${info.vocabSize}, expected ${vocabSize}`);
  const eosTokenId = patchEos(tmp, info.vocabSize);
  writeFileSync(
    path.join(tmp, STAMP),
    `${JSON.stringify({ options, onnxBytes: info.onnxBytes, seconds: info.seconds, at: new Date().toISOString() }, null, 2)}\n`,
  );
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  log(`generated ${(info.onnxBytes / 1e9).toFixed(2)} GB of ONNX in ${info.seconds.toFixed(0)} s`);
  return { dir, generated: true, generateSeconds: info.seconds, eosTokenId, vocabSize, dims: SMOLVLM_256M_DIMS };
}
