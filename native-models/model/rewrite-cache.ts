import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
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

/**
 * Graphs kept at most, the most recently used first: enough for a model at each of its precisions, or for switching
 * between two models. Without a bound, every model ever tried and every stale version would stay on disk (a q8
 * SmolVLM-256M decoder is ~130 MB, fp32 ~520 MB).
 */
export const KEPT_GRAPHS = 4;

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
  /** Forgets the entry (a kept graph that no longer opens): the next load rewrites again. */
  discard(): Promise<void>;
}

const META = /^decoder-([0-9a-f]{32})\.json$/;

/** Removes all but the `keep` most recently used entries (a use touches the description), and stray partial files. */
export async function pruneRewriteCache(dir: string, keep: number = KEPT_GRAPHS): Promise<void> {
  const names = await readdir(dir);
  const used = await Promise.all(
    names.flatMap((name) => {
      const key = META.exec(name)?.[1];
      return key ? [stat(path.join(dir, name)).then((s) => ({ key, at: s.mtimeMs }), () => ({ key, at: 0 }))] : [];
    }),
  );
  const kept = new Set(used.sort((a, b) => b.at - a.at).slice(0, keep).map((e) => e.key));
  const own = `.${process.pid}.`;
  await Promise.all(
    names
      .filter((name) => name.startsWith('decoder-') && !kept.has(name.slice(8, 40)) && !name.includes(own))
      .map((name) => rm(path.join(dir, name), { force: true })),
  );
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
  // Recency for pruning: a hit counts as a use (best effort: a read-only cache still serves).
  if (rewrite) await utimes(meta, new Date(), new Date()).catch(() => undefined);
  return {
    model,
    rewrite,
    pending,
    async store(outcome) {
      try {
        await rename(pending, model);
        await writeFile(`${meta}.${process.pid}`, JSON.stringify(outcome));
        await rename(`${meta}.${process.pid}`, meta);
        await pruneRewriteCache(dir);
      } catch {
        // A cache that cannot be written only costs the next load its rewrite again.
        await rm(pending, { force: true });
      }
    },
    async discard() {
      await Promise.all([meta, model].map((file) => rm(file, { force: true })));
    },
  };
}
