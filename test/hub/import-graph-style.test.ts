/** Import names each decoder's graph style and the fast path that applies, in the report, its notes and the CLI. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectModelFolder } from '../../native-models/hub/import.js';
import { writeQwen2VlModel } from '../fixtures/qwen2vl/generate.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { runScript } from '../support/run-script.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-import-style-'));
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('import: graph style and fast path', () => {
  it.each([
    ['primitive', 'plain', /reads the cache in place/],
    ['fused', 'fused', /reads the cache in place/],
    ['gqa', 'builder', /shared with GroupQueryAttention in place/],
  ] as const)('%s fixtures are reported as %s, with their fast path', async (graphStyle, style, fastPath) => {
    const dir = path.join(root, graphStyle);
    await writeSmolVlmModel(dir, { seed: 2, precisions: ['fp32', 'q4'], graphStyle });
    const report = await inspectModelFolder(dir);
    expect(report.ok).toBe(true);
    expect(report.decoders.map((d) => [d.precision, d.style])).toEqual([['fp32', style], ['q4', style]]);
    for (const d of report.decoders) expect(d.fastPath).toMatch(fastPath);
    // Both precisions share one note.
    expect(report.notes.filter((n) => n.startsWith('Decoder graphs written as'))).toEqual([expect.stringMatching(/\(fp32, q4\)\.$/)]);
  });

  it('a Qwen2.5-VL builder export (mrope before GroupQueryAttention) gets the shared cache too', async () => {
    const dir = path.join(root, 'qwen-gqa');
    await writeQwen2VlModel(dir, { family: 'qwen2_5_vl', seed: 2, precisions: ['q4f16'], graphStyle: 'gqa' });
    const [decoder] = (await inspectModelFolder(dir)).decoders;
    expect(decoder).toMatchObject({ precision: 'q4f16', style: 'builder', fastPath: expect.stringMatching(/shared with GroupQueryAttention/) });
  });

  it('a decoder that is not a graph is a problem, and the folder is refused', async () => {
    const dir = path.join(root, 'broken');
    await writeSmolVlmModel(dir, { seed: 2, precisions: ['fp32'] });
    await writeFile(path.join(dir, 'onnx', 'decoder_model_merged.onnx'), 'not a graph');
    const report = await inspectModelFolder(dir);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([expect.stringMatching(/^onnx\/decoder_model_merged\.onnx cannot be read as an ONNX graph/)]);
  });

  it('npm run models -- import prints the style and the fast path', async () => {
    const dir = path.join(root, 'cli');
    await writeSmolVlmModel(dir, { seed: 2, precisions: ['fp16'], graphStyle: 'gqa' });
    const out = await runScript('native-models/cli/models.ts', ['import', dir, '--models-dir', path.join(root, 'models')]);
    expect(out.code).toBe(0);
    expect(out.stdout + out.stderr).toMatch(
      /note: Decoder graphs written as onnxruntime-genai model builder \(GroupQueryAttention\); fast path: the KV cache is shared with GroupQueryAttention in place \(no copy of the cache per token\) \(fp16\)\./,
    );
  });
});
