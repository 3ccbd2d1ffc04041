/** Importing a user's own export: the engine's validators, every missing file at once, and the use_cache explanation. */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importModelFolder, inspectModelFolder } from '../../native-models/hub/import.js';
import { listInstalled, removeModel } from '../../native-models/hub/installed.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-import-'));
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('importModelFolder', () => {
  it('accepts a good folder, records it without copying, and lists it', async () => {
    const dir = path.join(root, 'good');
    await writeSmolVlmModel(dir, { seed: 1, precisions: ['fp32', 'q8'] });
    const modelsDir = path.join(root, 'models');
    const report = await importModelFolder(dir, { modelsDir });
    expect(report).toMatchObject({
      ok: true,
      family: 'smolvlm',
      engineSupported: true,
      precisions: ['fp32', 'q8'],
      missing: [],
      problems: [],
      useCacheFalse: [],
    });
    expect(report.summary).toBe(`Model folder ${dir} is ready: smolvlm, precisions fp32, q8; used in place, not copied.`);
    const installed = await listInstalled(modelsDir);
    expect(installed).toEqual([expect.objectContaining({ id: 'good', dir, source: 'folder', precisions: ['fp32', 'q8'] })]);

    // Removing an imported folder forgets it; the user's files stay.
    await removeModel(modelsDir, 'good');
    expect(await listInstalled(modelsDir)).toEqual([]);
    expect(existsSync(path.join(dir, 'config.json'))).toBe(true);
  });

  it('lists every missing file at once, in one structured report and one line', async () => {
    const dir = path.join(root, 'broken');
    await writeSmolVlmModel(dir, { seed: 2, precisions: ['q8'] });
    await unlink(path.join(dir, 'tokenizer.json'));
    await unlink(path.join(dir, 'preprocessor_config.json'));
    await unlink(path.join(dir, 'onnx', 'embed_tokens_quantized.onnx'));
    const modelsDir = path.join(root, 'models-broken');
    const report = await importModelFolder(dir, { modelsDir });
    expect(report.ok).toBe(false);
    expect(report.missing).toEqual(['preprocessor_config.json', 'tokenizer.json', path.join('onnx', 'embed_tokens_quantized.onnx')]);
    expect(report.problems).toEqual([]);
    expect(report.summary).toBe(
      `Model folder ${dir} cannot be used: missing preprocessor_config.json, tokenizer.json, ${path.join('onnx', 'embed_tokens_quantized.onnx')}.`,
    );
    expect(report.summary).not.toContain('\n');
    // Not recorded.
    expect(await listInstalled(modelsDir)).toEqual([]);
  });

  it('names the graphs when onnx/ is empty and reports malformed JSON beside them', async () => {
    const dir = path.join(root, 'no-graphs');
    await writeSmolVlmModel(dir, { seed: 3, precisions: ['fp32'] });
    for (const g of ['vision_encoder', 'embed_tokens', 'decoder_model_merged']) await unlink(path.join(dir, 'onnx', `${g}.onnx`));
    await writeFile(path.join(dir, 'tokenizer_config.json'), '{ not json');
    const report = await inspectModelFolder(dir);
    expect(report.missing).toEqual(['vision_encoder', 'embed_tokens', 'decoder_model_merged'].map((g) => path.join('onnx', `${g}.onnx`)));
    expect(report.problems).toEqual([expect.stringMatching(/^Model file tokenizer_config.json is not valid JSON/)]);
    expect(report.notes.join(' ')).toMatch(/precision suffix/);
  });

  it('explains a use_cache: false checkpoint: the cache stays on, with a warning, and --no-cache opts out', async () => {
    const dir = path.join(root, 'finetune');
    await writeSmolVlmModel(dir, { seed: 4, precisions: ['fp32'], useCacheFlag: false });
    const report = await inspectModelFolder(dir);
    expect(report.ok).toBe(true);
    // The fixture sets the flag at config.json's top level, in its text_config and in generation_config.json.
    expect(report.useCacheFalse).toEqual(['config.json (top level and text_config)', 'generation_config.json']);
    const notes = report.notes.join('\n');
    expect(notes).toMatch(/gradient checkpointing/);
    expect(notes).toMatch(/ignored it and decoded with the KV cache/);
    expect(notes).toMatch(/--no-cache/);
    expect(notes).toMatch(/set use_cache to true/);
    expect(report.summary).toMatch(/use_cache: false, ScreenAsk will keep the KV cache on and warn \(--no-cache to opt out\)/);
  });

  it('fails with one line for a folder that does not exist', async () => {
    await expect(inspectModelFolder(path.join(root, 'nope'))).rejects.toThrow(/does not exist/);
  });
});
