import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { ScreenAskError } from './errors.js';

import { precisions, precisionSuffixes, type Precision } from './precision.js';

export { precisions, precisionSuffixes, type Precision };

/** The three graphs every supported export ships. */
export const graphNames = ['vision_encoder', 'embed_tokens', 'decoder_model_merged'] as const;
export type GraphName = (typeof graphNames)[number];

export const requiredJsonFiles = ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json'];

export type GraphFiles = Record<GraphName, string>;

export function graphFile(graph: GraphName, precision: Precision): string {
  return path.join('onnx', `${graph}${precisionSuffixes[precision]}.onnx`);
}

async function onnxFiles(dir: string): Promise<Set<string>> {
  try {
    return new Set((await readdir(path.join(dir, 'onnx'))).filter((f) => f.endsWith('.onnx')));
  } catch {
    return new Set();
  }
}

/** The precisions for which the directory holds every graph, in the table's order. */
export async function listPrecisions(dir: string): Promise<Precision[]> {
  const files = await onnxFiles(dir);
  return precisions.filter((p) => graphNames.every((g) => files.has(path.basename(graphFile(g, p)))));
}

/** A model path must be a folder; a file (often its config.json or a graph) gets a message that says so. */
export async function assertModelFolder(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (info?.isDirectory()) return;
  throw new ScreenAskError(
    info
      ? `Model path ${dir} is a file, not a folder: pass the folder that holds config.json and onnx/.`
      : `Model directory ${dir} does not exist: pass a folder that holds config.json and onnx/.`,
  );
}

/**
 * Checks that `dir` looks like a supported export and returns the graphs for `precision`. Every problem is reported
 * at once, so a user fixing an import sees the whole list rather than one file per attempt.
 */
export async function resolveModelFiles(dir: string, precision: Precision): Promise<GraphFiles> {
  await assertModelFolder(dir);
  if (!(precision in precisionSuffixes)) {
    throw new ScreenAskError(`Unknown precision "${precision}": use one of ${precisions.join(', ')}.`);
  }
  const missing: string[] = [];
  for (const file of requiredJsonFiles) {
    if (!(await stat(path.join(dir, file)).catch(() => undefined))?.isFile()) missing.push(file);
  }
  const available = await listPrecisions(dir);
  const files = Object.fromEntries(graphNames.map((g) => [g, path.join(dir, graphFile(g, precision))])) as GraphFiles;
  const onnx = await onnxFiles(dir);
  const missingGraphs = graphNames.map((g) => graphFile(g, precision)).filter((f) => !onnx.has(path.basename(f)));
  if (missingGraphs.length > 0 && available.length > 0 && missing.length === 0) {
    throw new ScreenAskError(
      `Model in ${dir} has no ${precision} files (${missingGraphs.join(', ')}); available precisions: ${available.join(', ')}.`,
    );
  }
  missing.push(...missingGraphs);
  if (missing.length > 0) {
    throw new ScreenAskError(
      `Model directory ${dir} is incomplete: missing ${missing.join(', ')}. Download the model again or re-export it ` +
        '(expected the public ONNX layout: onnx/vision_encoder, embed_tokens, decoder_model_merged and the JSON files).',
    );
  }
  return files;
}
