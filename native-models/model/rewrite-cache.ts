import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';

/**
 * The rewritten decoder, once onnxruntime has optimised it, kept in the app's cache folder (never the model's): the
 * next load opens that file with optimisation off instead of rewriting, fusing and optimising again (about half of a
 * q8 SmolVLM load). The key covers everything that decides those bytes: the source graph's size and SHA-256 (a changed
 * model is rewritten again), the rewrite options, this code's version, onnxruntime's version and the CPU (an 'all'
 * level graph may hold kernels chosen for it).
 */

/** Bump when a rewrite changes what it writes: older entries are then never read again. */
const REWRITE_VERSION = 2;

/** What a load needs besides the graph: the rewrite's own outcome. */
export interface CachedRewrite {
  readonly newKv?: readonly { key: string; value: string }[];
  readonly sharedKv?: boolean;
  readonly applied: readonly string[];
  readonly skipped: readonly string[];
}

export interface RewriteCacheEntry {
  /** The optimised graph, when the cache holds it. */
  readonly model: string;
  readonly rewrite: CachedRewrite | undefined;
  /** Where onnxruntime writes the optimised graph on a miss; `store` moves it to `model` with the rewrite's outcome. */
  readonly pending: string;
  store(rewrite: CachedRewrite): Promise<void>;
}

export async function rewriteCacheEntry(dir: string, source: Uint8Array, options: object): Promise<RewriteCacheEntry> {
  const key = createHash('sha256')
    .update(
      JSON.stringify({
        version: REWRITE_VERSION,
        runtime: ort.env.versions.common,
        cpu: os.cpus()[0]?.model ?? '',
        size: source.length,
        sha256: createHash('sha256').update(source).digest('hex'),
        options,
      }),
    )
    .digest('hex')
    .slice(0, 32);
  const model = path.join(dir, `decoder-${key}.onnx`);
  const meta = path.join(dir, `decoder-${key}.json`);
  const pending = path.join(dir, `decoder-${key}.${process.pid}.partial.onnx`);
  let rewrite: CachedRewrite | undefined;
  try {
    // The graph is renamed into place before its description is written: a description means a whole graph.
    rewrite = JSON.parse(await readFile(meta, 'utf8')) as CachedRewrite;
  } catch {
    rewrite = undefined;
  }
  await mkdir(dir, { recursive: true });
  return {
    model,
    rewrite,
    pending,
    async store(outcome) {
      try {
        await rename(pending, model);
        await writeFile(`${meta}.${process.pid}`, JSON.stringify(outcome));
        await rename(`${meta}.${process.pid}`, meta);
      } catch {
        // A cache that cannot be written only costs the next load its rewrite again.
        await rm(pending, { force: true });
      }
    },
  };
}
