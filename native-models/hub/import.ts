/**
 * Importing a model folder someone exported themselves (usually a fine-tune). The check uses the engine's own
 * validators, so a folder that passes here loads; and it lists every problem at once, so one round of fixes is enough.
 * The folder is used where it is (recorded in the models folder's `imported.json`), never copied: a fine-tune can be
 * gigabytes, and the user may re-export into the same place.
 */
import { mkdir, readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { supportedModelTypes, unsupportedModelType } from '../families/model-types.js';
import { resolveGenerationSettings } from '../generation/settings.js';
import { readModelConfigs, textDims, type ModelConfigs } from '../model/config.js';
import { useCacheFalseSources } from '../model/use-cache-flag.js';
import { firstLine } from '../model/errors.js';
import { readModelJson } from '../model/json-files.js';
import { assertModelFolder, graphFile, graphNames, listPrecisions, precisions, requiredJsonFiles, resolveModelFiles, type Precision } from '../model/layout.js';
import { readImported, writeImported } from './installed.js';
import { describeDecoder, STYLE_NAMES, type DecoderDescription } from '../runtime/onnx/graph-style.js';

export interface ImportReport {
  readonly dir: string;
  /** True when the engine can load the folder (at least one complete precision, valid configs, supported family). */
  readonly ok: boolean;
  /** `config.json`'s model_type, when readable. */
  readonly modelType: string | undefined;
  /** The catalogue family it belongs to (`smolvlm`, `qwen2-vl`, `qwen2.5-vl`), when known. */
  readonly family: string | undefined;
  /** Whether this engine version runs the family. */
  readonly engineSupported: boolean;
  /** Complete precisions (all three graphs present). */
  readonly precisions: readonly Precision[];
  /** Folder-relative paths that must exist and do not: every one of them. */
  readonly missing: readonly string[];
  /** Precisions with some graphs but not all, and which graphs they lack (not fatal when another precision is complete). */
  readonly incompletePrecisions: readonly { precision: Precision; missing: readonly string[] }[];
  /** Files present but unusable (bad JSON, wrong fields, unsupported model type). */
  readonly problems: readonly string[];
  /** Where `use_cache: false` was found (`config.json`, `config.json (text_config)`, `generation_config.json`). */
  readonly useCacheFalse: readonly string[];
  /** Per complete precision: the decoder's graph style and the load-time fast path that applies (see graph-style.ts). */
  readonly decoders: readonly ({ precision: Precision } & DecoderDescription)[];
  /** What ScreenAsk will do about what it found, in sentences. */
  readonly notes: readonly string[];
  /** One line for a status bar or the CLI. */
  readonly summary: string;
}

const familyOfModelType: Record<string, string> = {
  idefics3: 'smolvlm',
  smolvlm: 'smolvlm',
  qwen2_vl: 'qwen2-vl',
  qwen2_5_vl: 'qwen2.5-vl',
};

const optionalJson = ['generation_config.json', 'processor_config.json', 'special_tokens_map.json', 'chat_template.json'];

async function isFile(file: string): Promise<boolean> {
  return (await stat(file).catch(() => undefined))?.isFile() === true;
}

/** The graphs each precision lacks, for the precisions with at least one graph on disk. */
async function graphGaps(dir: string): Promise<{ precision: Precision; missing: string[] }[]> {
  const onnx = new Set(await readdir(path.join(dir, 'onnx')).catch(() => [] as string[]));
  return precisions.flatMap((precision) => {
    const files = graphNames.map((g) => graphFile(g, precision));
    const missing = files.filter((f) => !onnx.has(path.basename(f)));
    return missing.length > 0 && missing.length < files.length ? [{ precision, missing }] : [];
  });
}

/** Validates `dir` as the engine would load it and reports everything at once; never throws for a bad folder. */
export async function inspectModelFolder(dir: string): Promise<ImportReport> {
  const absolute = path.resolve(dir);
  await assertModelFolder(absolute);
  const missing: string[] = [];
  const problems: string[] = [];
  const notes: string[] = [];
  for (const file of requiredJsonFiles) if (!(await isFile(path.join(absolute, file)))) missing.push(file);

  const available = await listPrecisions(absolute);
  const gaps = await graphGaps(absolute);
  if (available.length === 0) {
    if (gaps.length > 0) for (const gap of gaps) missing.push(...gap.missing);
    // No graph at all: name the fp32 files and say the suffixes are interchangeable.
    else missing.push(...graphNames.map((g) => graphFile(g, 'fp32')));
    if (gaps.length === 0) notes.push('Graphs may carry a precision suffix instead (e.g. _quantized, _fp16, _q4f16).');
  }

  // Configs, with the engine's schemas; each present file is checked independently so all problems show at once.
  let configs: ModelConfigs | undefined;
  if (!missing.includes('config.json')) {
    try {
      configs = await readModelConfigs(absolute);
      textDims(configs.config);
    } catch (error) {
      problems.push(firstLine(error));
    }
  }
  for (const file of [...requiredJsonFiles.filter((f) => f !== 'config.json'), ...optionalJson]) {
    if (file === 'generation_config.json' && configs) continue; // already validated with its schema
    if (!(await isFile(path.join(absolute, file)))) continue;
    try {
      await readModelJson(absolute, file, z.unknown());
    } catch (error) {
      problems.push(firstLine(error));
    }
  }

  const modelType = configs?.config.model_type;
  const family = modelType === undefined ? undefined : familyOfModelType[modelType];
  const engineSupported = modelType !== undefined && supportedModelTypes.includes(modelType);
  if (modelType !== undefined && !engineSupported) {
    problems.push(unsupportedModelType(modelType));
  }

  const useCacheFalse = configs ? useCacheFalseSources(configs) : [];
  if (configs) {
    try {
      const { warnings } = resolveGenerationSettings(configs, {});
      notes.push(...warnings);
    } catch (error) {
      problems.push(firstLine(error));
    }
  }
  if (useCacheFalse.length > 0) {
    notes.push(
      'To fix the export itself, set use_cache to true in those files: the flag only mattered during training.',
    );
  }

  // The engine's final word on the layout, so import can never accept what loadModel would refuse.
  if (missing.length === 0 && available[0] !== undefined) {
    await resolveModelFiles(absolute, available[0]).catch((error: unknown) => problems.push(firstLine(error)));
  }
  const incomplete = available.length > 0 ? gaps : [];
  for (const gap of incomplete) {
    notes.push(`Precision ${gap.precision} is incomplete (missing ${gap.missing.join(', ')}) and will not be offered.`);
  }

  const loadable = missing.length === 0 && problems.length === 0 && available.length > 0;
  const decoders = loadable && configs ? await describeDecoders(absolute, available, configs, problems) : [];
  notes.push(...decoderNotes(decoders));
  const ok = loadable && problems.length === 0;
  const report = {
    dir: absolute,
    ok,
    modelType,
    family,
    engineSupported,
    precisions: available,
    missing,
    incompletePrecisions: incomplete,
    problems,
    useCacheFalse,
    decoders,
    notes,
  };
  return { ...report, summary: summarize(report) };
}

/** Each complete precision's decoder style and fast path; a graph that cannot be read is a problem like any other. */
async function describeDecoders(dir: string, available: readonly Precision[], configs: ModelConfigs, problems: string[]) {
  const dims = textDims(configs.config);
  const out: ({ precision: Precision } & DecoderDescription)[] = [];
  for (const precision of available) {
    try {
      const bytes = await readFile(path.join(dir, graphFile('decoder_model_merged', precision)));
      out.push({ precision, ...describeDecoder(bytes, { layers: dims.layers, attentionHeads: dims.attentionHeads, kvHeads: dims.kvHeads }) });
    } catch (error) {
      problems.push(`${graphFile('decoder_model_merged', precision)} cannot be read as an ONNX graph (${firstLine(error)})`);
    }
  }
  return out;
}

/** One sentence per distinct style and fast path, naming the precisions it holds for. */
function decoderNotes(decoders: readonly ({ precision: Precision } & DecoderDescription)[]): string[] {
  const groups = new Map<string, Precision[]>();
  for (const d of decoders) {
    const key = `Decoder graphs written as ${STYLE_NAMES[d.style]}; fast path: ${d.fastPath}`;
    groups.set(key, [...(groups.get(key) ?? []), d.precision]);
  }
  return [...groups].map(([text, list]) => `${text} (${list.join(', ')}).`);
}

function summarize(report: Omit<ImportReport, 'summary'>): string {
  if (!report.ok) {
    const parts = [
      report.missing.length > 0 && `missing ${report.missing.join(', ')}`,
      ...report.problems,
    ].filter((p): p is string => typeof p === 'string');
    return `Model folder ${report.dir} cannot be used: ${parts.join('; ')}.`.replace(/\.\.$/, '.');
  }
  const cache =
    report.useCacheFalse.length > 0
      ? `; ${report.useCacheFalse.join(' and ')} set use_cache: false, ScreenAsk will keep the KV cache on and warn (--no-cache to opt out)`
      : '';
  return `Model folder ${report.dir} is ready: ${report.family ?? report.modelType}, precisions ${report.precisions.join(', ')}${cache}; used in place, not copied.`;
}

export interface ImportOptions {
  /** Record the folder in this models folder's `imported.json`, so `list` shows it (the folder itself is not copied). */
  readonly modelsDir?: string;
  /** The id to list it under (default: the folder's name). */
  readonly id?: string;
}

/**
 * Checks `dir` and, when it is usable and a models folder is given, records it there. A folder with problems is
 * reported, not recorded; the caller decides how to show the report (the CLI prints it and exits 1).
 */
export async function importModelFolder(dir: string, options: ImportOptions = {}): Promise<ImportReport> {
  const report = await inspectModelFolder(dir);
  if (!report.ok || options.modelsDir === undefined) return report;
  const id = options.id ?? path.basename(report.dir);
  const records = (await readImported(options.modelsDir)).filter((r) => path.resolve(r.dir) !== report.dir && r.id !== id);
  await mkdir(options.modelsDir, { recursive: true });
  await writeImported(options.modelsDir, [
    ...records,
    { id, dir: report.dir, ...(report.family ? { family: report.family } : {}), importedAt: new Date().toISOString() },
  ]);
  return report;
}
