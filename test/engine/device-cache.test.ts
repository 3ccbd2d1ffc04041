/**
 * The WebGPU path, as far as a machine without a GPU can check it: which graph and session options a provider gets,
 * the device-resident KV cache's bookkeeping (with stand-in GPU tensors), and the fallback when no adapter exists.
 */
import type ort from 'onnxruntime-node';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKvCache } from '../../native-models/generation/kv-cache.js';
import { loadModel } from '../../native-models/index.js';
import { deviceKvVariant } from '../../native-models/model/graphs.js';
import type { DecoderSignature } from '../../native-models/runtime/decoder-signature.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { collectAnswer } from '../support/answers.js';
import { writeGradient } from '../support/images.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-device-'));
  await writeSmolVlmModel(path.join(root, 'model'), { seed: 4, precisions: ['fp32'] });
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const signature: DecoderSignature = {
  layers: [0, 1].map((i) => ({
    past: { key: `past_key_values.${i}.key`, value: `past_key_values.${i}.value` },
    output: { key: `present.${i}.key`, value: `present.${i}.value` },
  })),
  kvOutputs: 'device',
  kvType: 'float32',
  kvHeads: 2,
  headDim: 4,
  embedsType: 'float32',
  positionRank: 2,
  hasNumLogitsToKeep: false,
  hasUseCacheBranch: false,
};

/** A stand-in for a tensor living in GPU memory: only what the cache touches. */
function gpuTensor(name: string, disposed: string[]): ort.Tensor {
  return { location: 'gpu-buffer', dispose: () => disposed.push(name) } as unknown as ort.Tensor;
}

function presents(step: number, disposed: string[]): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const { output } of signature.layers) {
    out[output.key] = gpuTensor(`${output.key}@${step}`, disposed);
    out[output.value] = gpuTensor(`${output.value}@${step}`, disposed);
  }
  return out;
}

describe('WebGPU KV cache on the device', () => {
  it('asks for present.* in GPU memory and the logits on the CPU', () => {
    const variant = deviceKvVariant('/m/onnx/decoder_model_merged.onnx', 2);
    expect(variant.model).toBe('/m/onnx/decoder_model_merged.onnx');
    expect(variant.options?.preferredOutputLocation).toEqual({
      logits: 'cpu',
      'present.0.key': 'gpu-buffer',
      'present.0.value': 'gpu-buffer',
      'present.1.key': 'gpu-buffer',
      'present.1.value': 'gpu-buffer',
    });
  });

  it('feeds each step the previous presents and disposes every tensor it replaces', () => {
    const disposed: string[] = [];
    const cache = createKvCache(signature);
    expect(cache.feeds(3)['past_key_values.0.key']!.dims).toEqual([1, 2, 0, 4]);
    const first = presents(1, disposed);
    cache.absorb(first, 3);
    expect(cache.feeds(1)['past_key_values.1.value']).toBe(first['present.1.value']);
    expect(cache.feeds(1).attention_mask!.dims).toEqual([1, 4]);
    expect(disposed).toEqual([]);
    cache.absorb(presents(2, disposed), 1);
    expect(disposed.sort()).toEqual(['present.0.key@1', 'present.0.value@1', 'present.1.key@1', 'present.1.value@1']);
    expect(cache.length).toBe(4);
  });

  it('keeps all or nothing when a follow-up rewinds, releasing GPU memory when it drops the cache', () => {
    const disposed: string[] = [];
    const cache = createKvCache(signature);
    cache.absorb(presents(1, disposed), 5);
    expect(cache.truncate(9)).toBe(5);
    expect(disposed).toHaveLength(0);
    expect(cache.truncate(3)).toBe(0);
    expect(disposed).toHaveLength(4);
    expect(cache.length).toBe(0);
  });

  it('without a WebGPU adapter, auto falls back to the CPU and runs the rewritten graph', async () => {
    const model = await loadModel(path.join(root, 'model'), { precision: 'fp32', device: 'auto', autoProviders: ['webgpu'] });
    try {
      expect(model.provider).toBe('cpu');
      expect(model.warnings.join(' ')).toMatch(/webgpu: .*running on the CPU/);
      expect(model.decoderRewrites.applied).toContain('new-kv-outputs');
      const image = await writeGradient(path.join(root, 'image.png'), 200, 120);
      const answer = await collectAnswer(model.startConversation({ image, detail: 'low' }).ask('Hi?', { maxNewTokens: 3 }));
      expect(answer.tokenIds).toHaveLength(3);
    } finally {
      await model.dispose();
    }
  });
});
