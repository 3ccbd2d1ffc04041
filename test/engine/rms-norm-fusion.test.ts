/**
 * RMSNorm written as plain ops, fused at load into SimplifiedLayerNormalization (rms-norm-fusion.ts): every norm of a
 * float32 decoder found, logits of the graph as shipped to rounding, and graphs without the pattern left as they are.
 */
import ort from 'onnxruntime-node';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGraph } from '../../native-models/runtime/onnx/graph-view.js';
import { fuseRmsNorms } from '../../native-models/runtime/onnx/rms-norm-fusion.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';

let root: string;
const decoder = () => path.join(root, 'onnx', 'decoder_model_merged.onnx');

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-rms-norm-'));
  await writeSmolVlmModel(root, { seed: 29, precisions: ['fp32', 'fp16'], graphs: ['decoder_model_merged'] });
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

/** One prefill of 5 positions from an empty cache: the logits of every position. */
async function logits(model: Uint8Array): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model);
  try {
    const S = 5;
    const feeds: Record<string, ort.Tensor> = {
      inputs_embeds: new ort.Tensor('float32', Float32Array.from({ length: S * 64 }, (_, i) => Math.cos(i * 0.7)), [1, S, 64]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(S).fill(1n), [1, S]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: S }, (_, i) => BigInt(i)), [1, S]),
    };
    for (let i = 0; i < 2; i++) for (const kind of ['key', 'value']) feeds[`past_key_values.${i}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [1, 2, 0, 16]);
    return (await session.run(feeds)).logits!.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe('RMSNorm fusion', () => {
  it('replaces each norm of the fp32 decoder (two per layer and the final one) with one node', async () => {
    const bytes = await readFile(decoder());
    const fused = fuseRmsNorms(bytes, path.dirname(decoder()));
    expect(fused.norms).toBe(2 * 2 + 1);
    const ops = readGraph(fused.model).nodes.map((n) => n.opType);
    expect(ops.filter((op) => op === 'SimplifiedLayerNormalization')).toHaveLength(5);
    expect(ops.filter((op) => op === 'ReduceMean' || op === 'Sqrt' || op === 'Reciprocal')).toEqual([]);
  });

  it('gives the logits of the graph as shipped, to rounding', async () => {
    const bytes = await readFile(decoder());
    const stock = await logits(bytes);
    const fused = await logits(fuseRmsNorms(bytes, path.dirname(decoder())).model);
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < stock.length; i++) {
      worst = Math.max(worst, Math.abs(stock[i]! - fused[i]!));
      scale = Math.max(scale, Math.abs(stock[i]!));
    }
    expect(worst).toBeLessThan(scale * 1e-5);
  });

  it('leaves float16 graphs (their norms cast around float32 statistics) and graphs without norms as they are', async () => {
    const half = path.join(root, 'onnx', 'decoder_model_merged_fp16.onnx');
    const halfBytes = await readFile(half);
    expect(fuseRmsNorms(halfBytes, path.dirname(half))).toEqual({ model: halfBytes, norms: 0, skipped: 'not a float32 graph' });
    // The fp32 graph with its norms fused once has none left in plain ops.
    const once = fuseRmsNorms(await readFile(decoder()), path.dirname(decoder())).model;
    expect(fuseRmsNorms(once, path.dirname(decoder()))).toMatchObject({ norms: 0, skipped: 'no RMSNorm written as plain ops' });
  });
});
