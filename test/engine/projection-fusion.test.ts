/**
 * The load-time fusion of projections that share an input (projection-fusion.ts) against the graph as shipped: the
 * same logits (fp32, fp16 bits-for-tokens; q8 to rounding), fewer kernels, and graphs without the pattern untouched.
 */
import ort from 'onnxruntime-node';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Precision } from '../../native-models/index.js';
import { readGraph } from '../../native-models/runtime/onnx/graph-view.js';
import { fuseProjections } from '../../native-models/runtime/onnx/projection-fusion.js';
import { PRECISION_SUFFIX } from '../fixtures/shared/layers.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { collectAnswer } from '../support/answers.js';
import { writeScreenshotLike } from '../support/images.js';

let root: string;
let modelDir: string;
let image: string;
const layers = 2;
const hidden = 64;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-fusion-'));
  modelDir = path.join(root, 'model');
  await writeSmolVlmModel(modelDir, { seed: 23, precisions: ['fp32', 'fp16', 'q8'] });
  image = await writeScreenshotLike(path.join(root, 'screen.png'), 1280, 720);
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const decoderFile = (precision: 'fp32' | 'fp16' | 'q8') => path.join(modelDir, 'onnx', `decoder_model_merged${PRECISION_SUFFIX[precision]}.onnx`);

/** One prefill of 7 positions through a session, from an empty cache: the last position's logits as float32. */
async function lastLogits(model: string | Uint8Array, precision: 'fp32' | 'fp16' | 'q8'): Promise<Float32Array> {
  const session = typeof model === 'string' ? await ort.InferenceSession.create(model) : await ort.InferenceSession.create(model);
  try {
    const half = precision === 'fp16';
    const S = 7;
    const embeds = Float32Array.from({ length: S * hidden }, (_, i) => Math.sin(i));
    const feeds: Record<string, ort.Tensor> = {
      inputs_embeds: half
        ? new ort.Tensor('float16', Uint16Array.from(embeds, (v) => (v >= 0 ? 0x3c00 : 0xbc00)), [1, S, hidden]) // ±1
        : new ort.Tensor('float32', embeds, [1, S, hidden]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(S).fill(1n), [1, S]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: S }, (_, i) => BigInt(i)), [1, S]),
    };
    for (let i = 0; i < layers; i++) {
      for (const kind of ['key', 'value']) {
        feeds[`past_key_values.${i}.${kind}`] = half ? new ort.Tensor('float16', new Uint16Array(0), [1, 2, 0, 16]) : new ort.Tensor('float32', new Float32Array(0), [1, 2, 0, 16]);
      }
    }
    const logits = (await session.run(feeds)).logits!;
    const vocab = logits.dims[2]!;
    const row = (logits.data as Float32Array | Uint16Array).subarray((S - 1) * vocab);
    return half ? Float32Array.from(row as Uint16Array) : Float32Array.from(row as Float32Array);
  } finally {
    await session.release();
  }
}

const projections = (model: Uint8Array) => {
  const view = readGraph(model);
  return view.nodes.filter((n) => (n.opType === 'MatMul' || n.opType === 'MatMulInteger') && view.initializers.has(n.inputs[1]!)).length;
};

describe('projection fusion', () => {
  it.each(['fp32', 'fp16', 'q8'] as const)('%s: q/k/v and gate/up become one projection each, the others stay', async (precision) => {
    const bytes = await readFile(decoderFile(precision));
    const fused = fuseProjections(bytes, path.dirname(decoderFile(precision)));
    expect(fused.skipped).toBeUndefined();
    expect(fused.groups).toBe(2 * layers);
    // 7 per layer (q, k, v, o, gate, up, down) + the LM head → 4 per layer + the LM head.
    expect(projections(bytes)).toBe(7 * layers + 1);
    expect(projections(fused.model)).toBe(4 * layers + 1);
    // The separate weights are gone from the model, not carried beside the concatenated ones.
    const names = [...readGraph(fused.model).initializers];
    expect(names.filter((n) => /q_proj|k_proj|v_proj|gate_proj|up_proj/.test(n))).toEqual([]);
  });

  it('fp32 and fp16: the same logits as the graph as shipped, bit for bit', async () => {
    for (const precision of ['fp32', 'fp16'] as const) {
      const file = decoderFile(precision);
      const stock = await lastLogits(file, precision);
      const fused = await lastLogits(fuseProjections(await readFile(file), path.dirname(file)).model, precision);
      expect(Buffer.from(fused.buffer).equals(Buffer.from(stock.buffer))).toBe(true);
    }
  });

  it('q8: the input is quantised once for the fused weights; logits equal to rounding', async () => {
    const file = decoderFile('q8');
    const stock = await lastLogits(file, 'q8');
    const fused = await lastLogits(fuseProjections(await readFile(file), path.dirname(file)).model, 'q8');
    let worst = 0;
    let scale = 0;
    for (let v = 0; v < stock.length; v++) {
      worst = Math.max(worst, Math.abs(stock[v]! - fused[v]!));
      scale = Math.max(scale, Math.abs(stock[v]!));
    }
    expect(worst).toBeLessThanOrEqual(scale * 1e-5);
  });

  it.each([['fp32'], ['q8']] as const)('%s: the loaded model applies it and answers with the stock graph greedy tokens', async (precision: Precision) => {
    const answer = async (rewriteDecoder: boolean) => {
      const model = await loadModel(modelDir, { precision, rewriteDecoder });
      try {
        const result = await collectAnswer(model.startConversation({ image, detail: 'low' }).ask('What is shown?', { maxNewTokens: 24, temperature: 0 }));
        return { ids: result.tokenIds, applied: model.decoderRewrites.applied };
      } finally {
        await model.dispose();
      }
    };
    const stock = await answer(false);
    const rewritten = await answer(true);
    expect(rewritten.applied).toContain('fused-projections');
    expect(rewritten.ids).toEqual(stock.ids);
  });

  it('leaves a graph without projections that share an input as it is, saying why', async () => {
    const file = path.join(modelDir, 'onnx', 'embed_tokens.onnx');
    const bytes = await readFile(file);
    const result = fuseProjections(bytes, path.dirname(file));
    expect(result).toMatchObject({ groups: 0, skipped: expect.stringMatching(/share an input/) });
    expect(result.model).toBe(bytes);
  });
});
