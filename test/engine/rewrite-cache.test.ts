/**
 * The rewritten, optimised decoder kept in the app's cache folder (rewrite-cache.ts): a later load opens it instead of
 * rewriting, answers exactly as the stock graph does, a changed model gets an entry of its own, and the model folder
 * is never written.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Precision } from '../../native-models/index.js';
import { KEPT_GRAPHS, pruneRewriteCache } from '../../native-models/model/rewrite-cache.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { collectAnswer } from '../support/answers.js';
import { writeScreenshotLike } from '../support/images.js';

let root: string;
let image: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-rewrite-cache-'));
  image = await writeScreenshotLike(path.join(root, 'screen.png'), 640, 360);
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

async function answer(dir: string, precision: Precision, options: { cacheDir?: string; rewriteDecoder?: boolean }) {
  const model = await loadModel(dir, { precision, ...options });
  try {
    const result = await collectAnswer(model.startConversation({ image, detail: 'low' }).ask('What is shown?', { maxNewTokens: 16, temperature: 0 }));
    return { ids: result.tokenIds, rewrites: model.decoderRewrites };
  } finally {
    await model.dispose();
  }
}

const entries = async (dir: string) => (await readdir(dir)).sort();

describe('rewrite cache', () => {
  it.each(['fp32', 'q8'] as const)('%s: the second load opens the kept graph and answers as the stock graph does', async (precision) => {
    const modelDir = path.join(root, `model-${precision}`);
    const cacheDir = path.join(root, `cache-${precision}`);
    await writeSmolVlmModel(modelDir, { seed: 41, precisions: [precision] });
    const modelFiles = await entries(path.join(modelDir, 'onnx'));
    const stock = await answer(modelDir, precision, { rewriteDecoder: false });
    const first = await answer(modelDir, precision, { cacheDir });
    const kept = await entries(cacheDir);
    expect(kept).toHaveLength(2);
    expect(kept.filter((f) => f.endsWith('.onnx'))).toHaveLength(1);
    // Mark the kept description: a load that reads it, rather than rewriting, reports the mark.
    const meta = path.join(cacheDir, kept.find((f) => f.endsWith('.json'))!);
    const described = JSON.parse(await readFile(meta, 'utf8')) as { skipped: string[] };
    await writeFile(meta, JSON.stringify({ ...described, skipped: [...described.skipped, 'from the cache'] }));
    const second = await answer(modelDir, precision, { cacheDir });
    expect(second.rewrites.skipped).toContain('from the cache');
    expect(second.rewrites.applied).toEqual(first.rewrites.applied);
    expect(first.rewrites.applied).toContain('fused-projections');
    expect(first.ids).toEqual(stock.ids);
    expect(second.ids).toEqual(stock.ids);
    expect(await entries(cacheDir)).toEqual(kept);
    expect(await entries(path.join(modelDir, 'onnx'))).toEqual(modelFiles);
  });

  it('a changed model is rewritten again, into an entry of its own', async () => {
    const modelDir = path.join(root, 'changing');
    const cacheDir = path.join(root, 'cache-changing');
    await writeSmolVlmModel(modelDir, { seed: 42, precisions: ['fp32'] });
    await answer(modelDir, 'fp32', { cacheDir });
    const before = await entries(cacheDir);
    // Other weights, same file names and shapes: only the content says it changed.
    await writeSmolVlmModel(modelDir, { seed: 43, precisions: ['fp32'] });
    const stock = await answer(modelDir, 'fp32', { rewriteDecoder: false });
    const cached = await answer(modelDir, 'fp32', { cacheDir });
    expect(cached.ids).toEqual(stock.ids);
    const after = await entries(cacheDir);
    expect(after).toHaveLength(4);
    expect(after).toEqual(expect.arrayContaining(before));
  });

  it('a kept graph that no longer opens is dropped: that load runs the stock graph, the next one rewrites and keeps again', async () => {
    const modelDir = path.join(root, 'damaged');
    const cacheDir = path.join(root, 'cache-damaged');
    await writeSmolVlmModel(modelDir, { seed: 44, precisions: ['fp32'] });
    const stock = await answer(modelDir, 'fp32', { rewriteDecoder: false });
    const first = await answer(modelDir, 'fp32', { cacheDir });
    const kept = await entries(cacheDir);
    const graph = path.join(cacheDir, kept.find((f) => f.endsWith('.onnx'))!);
    await writeFile(graph, (await readFile(graph)).subarray(0, 1000)); // cut short, as a full disk or a crash would leave it
    const damaged = await answer(modelDir, 'fp32', { cacheDir });
    expect(damaged.ids).toEqual(stock.ids);
    expect(damaged.rewrites.applied).toEqual([]);
    expect(damaged.rewrites.skipped.join(' ')).toMatch(/the rewritten graph did not load/);
    expect(await entries(cacheDir)).toEqual([]);
    const again = await answer(modelDir, 'fp32', { cacheDir });
    expect(again.rewrites.applied).toEqual(first.rewrites.applied);
    expect(again.ids).toEqual(stock.ids);
    expect(await entries(cacheDir)).toEqual(kept);
  });

  it(`keeps the ${KEPT_GRAPHS} most recently used graphs and removes the rest with their stray partial files`, async () => {
    const dir = path.join(root, 'prune');
    await mkdir(dir);
    const keys = Array.from({ length: KEPT_GRAPHS + 2 }, (_, i) => i.toString(16).padStart(32, '0'));
    for (const [i, key] of keys.entries()) {
      await writeFile(path.join(dir, `decoder-${key}.onnx`), 'graph');
      await writeFile(path.join(dir, `decoder-${key}.json`), '{}');
      // Key 0 was used last, key 1 before it, and so on: the two oldest are keys.length-1 and keys.length-2.
      const at = new Date(Date.now() - i * 60_000);
      await utimes(path.join(dir, `decoder-${key}.json`), at, at);
    }
    await writeFile(path.join(dir, `decoder-${keys.at(-1)!}.99999.partial.onnx`), 'half a graph');
    await writeFile(path.join(dir, 'unrelated.txt'), 'not ours');
    await pruneRewriteCache(dir);
    const survivors = keys.slice(0, KEPT_GRAPHS).flatMap((key) => [`decoder-${key}.json`, `decoder-${key}.onnx`]);
    expect(await entries(dir)).toEqual([...survivors, 'unrelated.txt'].sort());
  });
});
