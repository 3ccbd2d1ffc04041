/** Recognising builder-style (GroupQueryAttention) decoders for the shared KV buffer, and saying why when it does not apply. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rewriteDecoder } from '../../native-models/runtime/onnx/decoder-rewrite.js';
import { readGraph } from '../../native-models/runtime/onnx/graph-view.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';

const tiny = { layers: 2, attentionHeads: 4, kvHeads: 2 };
let root: string;
const decoder = (style: string) => readFile(path.join(root, style, 'onnx', 'decoder_model_merged.onnx'));

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-shared-kv-'));
  for (const graphStyle of ['gqa', 'primitive'] as const) {
    await writeSmolVlmModel(path.join(root, graphStyle), { seed: 3, graphStyle, graphs: ['decoder_model_merged'] });
  }
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('shared KV buffer', () => {
  it('applies to a builder-style decoder: the cache stays its input and output, nothing about it is skipped', async () => {
    const result = rewriteDecoder(await decoder('gqa'), tiny);
    expect(result.sharedKvBuffer).toBe(true);
    expect(result.newKv).toBeUndefined();
    expect(result.skipped).toEqual([]);
    expect(result.lastRowLogits).toBe(true);
    const outputs = readGraph(result.model).outputs.map((o) => o.name);
    expect(outputs).toEqual(['logits', 'present.0.key', 'present.0.value', 'present.1.key', 'present.1.value']);
  });

  it('says why when a GroupQueryAttention graph is not in the form it knows', async () => {
    const result = rewriteDecoder(await decoder('gqa'), { ...tiny, layers: 3 });
    expect(result.sharedKvBuffer).toBe(false);
    expect(result.skipped).toContain('shared KV buffer: present.2.key does not come from a GroupQueryAttention');
  });

  it('does not apply to plain-op decoders, and adds nothing to their reasons', async () => {
    const result = rewriteDecoder(await decoder('primitive'), tiny);
    expect(result.sharedKvBuffer).toBe(false);
    expect(result.cacheReadInPlace).toBe(true);
    expect(result.skipped).toEqual([]);
  });
});
