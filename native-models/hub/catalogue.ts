/**
 * The models ScreenAsk offers to download, as plain data. Adding a model is adding one entry to `catalogue`: the file
 * names follow the shared public ONNX layout, so an entry only says which repo, which family, which class of machine
 * and which JSON files the repo is expected to carry.
 *
 * Deliberately absent: byte sizes and commit hashes. Both come from the Hub listing at run time (`resolveRevision`),
 * so the catalogue can never go stale on them; the commit is pinned per installed model in its manifest instead.
 */
import path from 'node:path';
import { ScreenAskError } from '../model/errors.js';
import { graphFile, graphNames, precisions, type Precision } from '../model/layout.js';
import type { RemoteFile } from './hub-api.js';
import { formatBytes } from './errors.js';

export type ModelClass = 'cpu' | 'gpu';
export type CatalogueFamily = 'smolvlm' | 'qwen2-vl' | 'qwen2.5-vl';

export interface CatalogueJsonFile {
  readonly path: string;
  /** Optional files are downloaded when the repo lists them and skipped silently when it does not. */
  readonly optional: boolean;
}

export interface CatalogueEntry {
  /** The repo's name, which is also the short id users type (`npm run models -- pull SmolVLM-256M-Instruct`). */
  readonly id: string;
  /** `owner/name` on the Hub. */
  readonly repo: string;
  readonly family: CatalogueFamily;
  /** Which machines it suits: `cpu` runs acceptably without a GPU; `gpu` wants one. */
  readonly class: ModelClass;
  /** The precision offered first on that class of machine. */
  readonly defaultPrecision: Precision;
  /** A rough floor of total memory (RAM, or RAM + VRAM) to run the default precision on a screenshot; not measured here. */
  readonly minMemoryBytes: number;
  /** Whether this engine version can run the family yet (downloads work either way). */
  readonly engineSupported: boolean;
  readonly jsonFiles: readonly CatalogueJsonFile[];
  readonly description: string;
}

const GiB = 1024 ** 3;

/** The JSON files of the shared layout; every precision needs all of them (the graphs differ, these do not). */
export const layoutJsonFiles: readonly CatalogueJsonFile[] = [
  { path: 'config.json', optional: false },
  { path: 'generation_config.json', optional: false },
  { path: 'preprocessor_config.json', optional: false },
  // SmolVLM reads image_seq_len from it; Qwen repos may not ship one.
  { path: 'processor_config.json', optional: true },
  { path: 'tokenizer.json', optional: false },
  { path: 'tokenizer_config.json', optional: false },
  { path: 'special_tokens_map.json', optional: true },
  // Newer exports keep the template here instead of (or as well as) in tokenizer_config.json.
  { path: 'chat_template.json', optional: true },
];

export const catalogue: readonly CatalogueEntry[] = [
  {
    id: 'SmolVLM-256M-Instruct',
    repo: 'HuggingFaceTB/SmolVLM-256M-Instruct',
    family: 'smolvlm',
    class: 'cpu',
    defaultPrecision: 'q8',
    minMemoryBytes: 2 * GiB,
    engineSupported: true,
    jsonFiles: layoutJsonFiles,
    description: 'Smallest; answers in seconds on a laptop CPU. Good for reading errors and short text.',
  },
  {
    id: 'SmolVLM-500M-Instruct',
    repo: 'HuggingFaceTB/SmolVLM-500M-Instruct',
    family: 'smolvlm',
    class: 'cpu',
    defaultPrecision: 'q8',
    minMemoryBytes: 4 * GiB,
    engineSupported: true,
    jsonFiles: layoutJsonFiles,
    description: 'Better answers than 256M at about twice the cost; still CPU-friendly.',
  },
  {
    id: 'Qwen2-VL-2B-Instruct',
    repo: 'onnx-community/Qwen2-VL-2B-Instruct',
    family: 'qwen2-vl',
    class: 'gpu',
    defaultPrecision: 'q4f16',
    minMemoryBytes: 8 * GiB,
    engineSupported: true,
    jsonFiles: layoutJsonFiles,
    description: 'Much stronger on dense screens; wants a GPU.',
  },
  {
    id: 'Qwen2.5-VL-3B-Instruct',
    repo: 'onnx-community/Qwen2.5-VL-3B-Instruct',
    family: 'qwen2.5-vl',
    class: 'gpu',
    defaultPrecision: 'q4f16',
    minMemoryBytes: 16 * GiB,
    engineSupported: true,
    jsonFiles: layoutJsonFiles,
    description: 'The strongest offered; wants a GPU and 16 GB of memory.',
  },
];

/**
 * Finds a model by short id (`SmolVLM-256M-Instruct`) or `owner/name`, case-insensitively. An `owner/name` that is
 * not catalogued still resolves, to an entry with the shared layout's file list: that is how someone pulls their own
 * exported fine-tune. A bare unknown name is an error that lists what there is.
 */
export function findModel(id: string, entries: readonly CatalogueEntry[] = catalogue): CatalogueEntry {
  const wanted = id.trim().toLowerCase();
  const found = entries.find((e) => e.id.toLowerCase() === wanted || e.repo.toLowerCase() === wanted);
  if (found) return found;
  if (/^[\w.-]+\/[\w.-]+$/.test(id.trim())) return uncataloguedEntry(id.trim());
  throw new ScreenAskError(
    `Unknown model "${id}": choose one of ${entries.map((e) => e.id).join(', ')}, or give a full owner/name repo.`,
  );
}

function uncataloguedEntry(repo: string): CatalogueEntry {
  return {
    id: repo.split('/')[1]!,
    repo,
    family: 'smolvlm',
    class: 'cpu',
    defaultPrecision: 'q8',
    minMemoryBytes: 0,
    engineSupported: true,
    jsonFiles: layoutJsonFiles,
    description: 'Not in the catalogue: any repo in the shared ONNX layout.',
  };
}

/** True when `entry` came from `findModel`'s fallback rather than the catalogue. */
export function isCatalogued(entry: CatalogueEntry, entries: readonly CatalogueEntry[] = catalogue): boolean {
  return entries.some((e) => e.repo === entry.repo);
}

/** The repo-relative paths of the three graphs of one precision (`onnx/decoder_model_merged_q4f16.onnx`, …). */
export function graphPaths(precision: Precision): string[] {
  // Hub paths always use forward slashes, whatever the platform's separator.
  return graphNames.map((g) => graphFile(g, precision).split(path.sep).join('/'));
}

/** Weights over 2 GB sit beside the graph as `X.onnx_data`, `X.onnx_data_1`, …; they belong to that graph's precision. */
function isExternalDataOf(file: string, graph: string): boolean {
  return file === `${graph}_data` || file.startsWith(`${graph}_data_`);
}

export interface PrecisionFiles {
  readonly precision: Precision;
  /** Everything to download for this precision: graphs, their external data and the JSON files the repo has. */
  readonly files: readonly RemoteFile[];
  /** Sum of `files`' sizes, from the Hub listing. */
  readonly bytes: number;
}

/** The JSON files of `entry` that the listing has; throws when a required one is absent (the repo is not an export). */
export function jsonFilesFrom(entry: CatalogueEntry, listing: readonly RemoteFile[]): RemoteFile[] {
  const byPath = new Map(listing.map((f) => [f.path, f]));
  const missing = entry.jsonFiles.filter((j) => !j.optional && !byPath.has(j.path)).map((j) => j.path);
  if (missing.length > 0) {
    throw new ScreenAskError(
      `Repo ${entry.repo} is not in the ONNX layout ScreenAsk runs: it lacks ${missing.join(', ')}.`,
    );
  }
  return entry.jsonFiles.flatMap((j) => byPath.get(j.path) ?? []);
}

/** The files of one precision, or undefined when the listing lacks any of its three graphs. */
export function precisionFilesFrom(
  entry: CatalogueEntry,
  listing: readonly RemoteFile[],
  precision: Precision,
): PrecisionFiles | undefined {
  const graphs = graphPaths(precision);
  const byPath = new Map(listing.map((f) => [f.path, f]));
  if (!graphs.every((g) => byPath.has(g))) return undefined;
  const external = listing.filter((f) => graphs.some((g) => isExternalDataOf(f.path, g)));
  const files = [...jsonFilesFrom(entry, listing), ...graphs.map((g) => byPath.get(g)!), ...external];
  return { precision, files, bytes: files.reduce((sum, f) => sum + f.size, 0) };
}

/** Every precision the listing holds completely, in the engine's table order. Precisions a repo lacks are absent. */
export function availablePrecisions(entry: CatalogueEntry, listing: readonly RemoteFile[]): PrecisionFiles[] {
  return precisions.flatMap((p) => precisionFilesFrom(entry, listing, p) ?? []);
}


/** `q8 (120 MB), fp32 (450 MB)`: what a user can pick instead. */
export function describePrecisions(available: readonly PrecisionFiles[]): string {
  return available.length === 0 ? 'none' : available.map((a) => `${a.precision} (${formatBytes(a.bytes)})`).join(', ');
}

export interface MachineProfile {
  readonly hasGpu: boolean;
  readonly totalMemoryBytes: number;
}

export interface Recommendation {
  readonly entry: CatalogueEntry;
  readonly precision: Precision;
  readonly reason: string;
}

/**
 * The default model for a machine. The rule (documented in README and the CLI's `recommend`):
 *   no GPU: SmolVLM-256M q8 under 8 GB of memory, SmolVLM-500M q8 from 8 GB;
 *   a GPU:  Qwen2-VL-2B q4f16 under 16 GB, Qwen2.5-VL-3B q4f16 from 16 GB.
 * CPUs run the int8 kernels fastest; GPUs want half precision with 4-bit weights. The thresholds leave room for the
 * OS, the app and a screenshot's activations beside the weights.
 */
export function recommendModel(machine: MachineProfile, entries: readonly CatalogueEntry[] = catalogue): Recommendation {
  // Rounded: the OS reports a little less than the installed RAM (an "8 GB" laptop says ~7.7 GiB).
  const gb = Math.round(machine.totalMemoryBytes / GiB);
  const pick = (id: string, precision: Precision, reason: string): Recommendation => {
    const entry = entries.find((e) => e.id === id);
    if (!entry) throw new ScreenAskError(`The catalogue lacks ${id}, which the recommendation rule names.`);
    return { entry, precision, reason };
  };
  const memory = `${gb} GB of memory`;
  if (machine.hasGpu) {
    return gb >= 16
      ? pick('Qwen2.5-VL-3B-Instruct', 'q4f16', `a GPU and ${memory} (16 GB or more)`)
      : pick('Qwen2-VL-2B-Instruct', 'q4f16', `a GPU and ${memory} (under 16 GB)`);
  }
  return gb >= 8
    ? pick('SmolVLM-500M-Instruct', 'q8', `no GPU and ${memory} (8 GB or more)`)
    : pick('SmolVLM-256M-Instruct', 'q8', `no GPU and ${memory} (under 8 GB)`);
}
