/**
 * Nothing is written into a model folder: downloaded, imported or read-only, it is only read. The decoder rewrite of
 * a model whose weights sit in external-data files is opened from memory, with onnxruntime pointed at the folder for
 * the weights, instead of being written beside them as `.screenask-decoder_model_merged.onnx`.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../native-models/index.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { collectAnswer } from '../support/answers.js';
import { writeScreenshotLike } from '../support/images.js';
import { runIsolated } from '../support/namespaces.js';
import { repoRoot } from '../support/run-script.js';

const ALL_REWRITES = ['new-kv-outputs', 'cache-read-in-place', 'last-row-logits', 'fused-projections', 'fused-rms-norms'];
let root: string;
/** The same weights twice: inline in the graphs, and in external-data files beside them. */
let inline: string;
let external: string;
let image: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-read-only-'));
  inline = path.join(root, 'inline');
  external = path.join(root, 'external');
  await writeSmolVlmModel(inline, { seed: 21, precisions: ['fp32'] });
  await writeSmolVlmModel(external, { seed: 21, precisions: ['fp32'], externalData: true });
  image = await writeScreenshotLike(path.join(root, 'screen.png'), 640, 360);
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

/** Every file under `dir` with its size and modification time. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files: Record<string, string> = {};
  for (const entry of entries) {
    const file = path.join(entry.parentPath, entry.name);
    const info = await stat(file);
    files[path.relative(dir, file)] = `${info.size} ${info.mtimeMs}`;
  }
  return files;
}

async function answer(dir: string, rewriteDecoder = true) {
  const model = await loadModel(dir, { precision: 'fp32', rewriteDecoder });
  try {
    const result = await collectAnswer(model.startConversation({ image, detail: 'low' }).ask('What is shown?', { maxNewTokens: 6, temperature: 0 }));
    return { applied: model.decoderRewrites.applied, tokenIds: result.tokenIds };
  } finally {
    await model.dispose();
  }
}

describe('model folders are only read', () => {
  it('external-data weights: the rewritten decoder runs from memory, finds its weights, and the folder is unchanged', async () => {
    const before = await snapshot(external);
    expect(Object.keys(before)).toContain(path.join('onnx', 'decoder_model_merged.onnx_data'));
    const rewritten = await answer(external);
    expect(rewritten.applied).toEqual(ALL_REWRITES);
    // The weights really are the external ones: the same tokens as the stock graph with the same weights inline.
    expect(rewritten.tokenIds).toEqual((await answer(inline, false)).tokenIds);
    expect(await snapshot(external)).toEqual(before);
  });

  describe.runIf(process.platform === 'linux')('in a read-only bind mount (EROFS even for root)', () => {
    it('the mount refuses writes, so what follows proves something', async () => {
      const probe = await runIsolated(['touch', path.join(external, 'onnx', 'probe')], { readOnly: [external] });
      expect(probe.code).not.toBe(0);
      expect(probe.stderr).toMatch(/Read-only file system/);
    });

    it('loads with every rewrite and answers as it does in a writable folder', async () => {
      const run = await runIsolated([process.execPath, '--import', 'tsx', path.join(repoRoot, 'test/support/answer-once.ts'), external, image], {
        readOnly: [external],
        cwd: repoRoot,
      });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const result = JSON.parse(run.stdout);
      expect(result.applied).toEqual(ALL_REWRITES);
      expect(result.tokenIds).toEqual((await answer(external)).tokenIds);
    });
  });
});
