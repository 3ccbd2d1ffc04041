/**
 * The load-time decoder rewrite (new-K/V outputs read from a host-owned cache, last-row logits) against the stock
 * graph: same greedy tokens in fp32, rounding-level differences in q8, and a clean fallback where a pattern is absent.
 */
import ort from 'onnxruntime-node';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type AskOptions, type ImageDetail, type Precision } from '../../native-models/index.js';
import { rewriteDecoder } from '../../native-models/runtime/onnx/decoder-rewrite.js';
import { GraphField, ModelField, NodeField, readGraph } from '../../native-models/runtime/onnx/graph-view.js';
import { fields } from '../../native-models/runtime/onnx/wire.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { collectAnswer } from '../support/answers.js';
import { writeScreenshotLike } from '../support/images.js';

/** The tiny fixture's decoder: 2 layers, 4 query heads sharing 2 KV heads. */
const tiny = { layers: 2, attentionHeads: 4, kvHeads: 2 };
let root: string;
let modelDir: string;
let image: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-rewrite-'));
  modelDir = path.join(root, 'model');
  await writeSmolVlmModel(modelDir, { seed: 21, precisions: ['fp32', 'q8', 'fp16'] });
  image = await writeScreenshotLike(path.join(root, 'screen.png'), 1280, 720);
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

async function tokens(dir: string, precision: Precision, rewrite: boolean, detail: ImageDetail, options: AskOptions) {
  const model = await loadModel(dir, { precision, rewriteDecoder: rewrite });
  try {
    const answer = await collectAnswer(model.startConversation({ image, detail }).ask('What is shown?', options));
    return { ids: answer.tokenIds, rewrites: model.decoderRewrites };
  } finally {
    await model.dispose();
  }
}

/** A model's protobuf fields as base64 strings: the top level (the graph aside), each graph field, and the nodes. */
function wireParts(model: Uint8Array) {
  const text = (start: number, end: number) => Buffer.from(model.subarray(start, end)).toString('base64');
  const top: string[] = [];
  const graph = new Map<number, string[]>();
  const nodes: { bytes: string; withoutInputs: string; opType: string }[] = [];
  for (const f of fields(model)) {
    if (f.number !== ModelField.graph) {
      top.push(text(f.start, f.end));
      continue;
    }
    for (const g of fields(model, f.valueStart, f.end)) {
      graph.set(g.number, [...(graph.get(g.number) ?? []), text(g.start, g.end)]);
      if (g.number !== GraphField.node) continue;
      const inner = [...fields(model, g.valueStart, g.end)];
      nodes.push({
        bytes: text(g.start, g.end),
        withoutInputs: inner.filter((n) => n.number !== NodeField.input).map((n) => text(n.start, n.end)).join(),
        opType: inner.filter((n) => n.number === NodeField.opType).map((n) => Buffer.from(model.subarray(n.valueStart, n.end)).toString()).join(),
      });
    }
  }
  return { top, graph: (number: number) => graph.get(number) ?? [], nodes };
}

describe('decoder rewrite', () => {
  it('applies both rewrites to a stock export and says so', async () => {
    const { rewrites } = await tokens(modelDir, 'fp32', true, 'low', { maxNewTokens: 1 });
    expect(rewrites.applied).toEqual(['new-kv-outputs', 'cache-read-in-place', 'last-row-logits', 'fused-projections', 'fused-rms-norms']);
    expect(rewrites.skipped).toEqual([]);
  });

  it.each([
    ['fp32', 'high', 12],
    ['fp32', 'low', 200], // crosses the host cache's 128-slot blocks twice: growth keeps every row in place
    ['fp16', 'low', 40],
  ] as const)('%s, %s detail, %i tokens: identical greedy tokens to the stock graph', async (precision, detail, n) => {
    const options = { maxNewTokens: n, temperature: 0 };
    const stock = await tokens(modelDir, precision, false, detail, options);
    const rewritten = await tokens(modelDir, precision, true, detail, options);
    expect(stock.rewrites.applied).toEqual([]);
    expect(rewritten.ids).toEqual(stock.ids);
    expect(rewritten.ids).toHaveLength(n);
  });

  it('q8: the sliced LM head quantises one row instead of all, so logits differ by rounding only', async () => {
    const file = path.join(modelDir, 'onnx', 'decoder_model_merged_quantized.onnx');
    const stock = await ort.InferenceSession.create(file);
    const rewritten = await ort.InferenceSession.create(rewriteDecoder(await readFile(file), tiny).model);
    const S = 7;
    const feeds: Record<string, ort.Tensor> = {
      inputs_embeds: new ort.Tensor('float32', Float32Array.from({ length: S * 64 }, (_, i) => Math.sin(i)), [1, S, 64]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(S).fill(1n), [1, S]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: S }, (_, i) => BigInt(i)), [1, S]),
    };
    for (let i = 0; i < 2; i++) {
      for (const kind of ['key', 'value']) {
        feeds[`past_key_values.${i}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [1, 2, 0, 16]);
      }
    }
    const a = (await stock.run(feeds)).logits!;
    const b = (await rewritten.run(feeds)).logits!;
    expect(b.dims).toEqual([1, 1, a.dims[2]]);
    const vocab = a.dims[2]!;
    const last = (a.data as Float32Array).subarray((S - 1) * vocab);
    const fresh = b.data as Float32Array;
    let dot = 0, na = 0, nb = 0;
    for (let v = 0; v < vocab; v++) {
      dot += last[v]! * fresh[v]!;
      na += last[v]! ** 2;
      nb += fresh[v]! ** 2;
    }
    expect(dot / Math.sqrt(na * nb)).toBeGreaterThan(0.999);
    await Promise.all([stock.release(), rewritten.release()]);
  });

  it('keeps graphs that declare num_logits_to_keep as they are, and rewrites only their KV outputs', async () => {
    const dir = path.join(root, 'keep');
    await writeSmolVlmModel(dir, { seed: 21, precisions: ['fp32'], numLogitsToKeep: true });
    const bytes = await readFile(path.join(dir, 'onnx', 'decoder_model_merged.onnx'));
    const result = rewriteDecoder(bytes, tiny);
    expect(result.lastRowLogits).toBe(false);
    expect(result.newKv).toHaveLength(2);
  });

  it('skips what it cannot match, with the reason, and leaves the graph untouched', async () => {
    const bytes = await readFile(path.join(modelDir, 'onnx', 'embed_tokens.onnx'));
    const result = rewriteDecoder(bytes, tiny);
    expect(result.newKv).toBeUndefined();
    expect(result.lastRowLogits).toBe(false);
    expect(result.skipped.join(' ')).toMatch(/present\.0\.key is not a Concat/);
    expect(result.model).toBe(bytes);
  });

  it('copies everything it does not edit byte for byte', async () => {
    const bytes = await readFile(path.join(modelDir, 'onnx', 'decoder_model_merged.onnx'));
    const before = wireParts(bytes);
    const after = wireParts(rewriteDecoder(bytes, tiny).model);
    // The model's own fields (IR version, opsets, producer) and the graph's name and inputs: identical bytes.
    expect(after.top).toEqual(before.top);
    expect(after.graph(GraphField.input)).toEqual(before.graph(GraphField.input));
    expect(after.graph(2)).toEqual(before.graph(2));
    // Every weight, verbatim, plus the Slice's starts, ends and axes and the attention rewrite's six shape constants.
    expect(after.graph(GraphField.initializer).slice(0, before.graph(GraphField.initializer).length)).toEqual(before.graph(GraphField.initializer));
    expect(after.graph(GraphField.initializer)).toHaveLength(before.graph(GraphField.initializer).length + 9);
    // Nodes: all but the 11 per layer that the attention rewrite replaces (two Concats, two repeat chains, Transpose,
    // two MatMuls) and the LM head's MatMul (rewired to read the Slice, nothing else about it changed) are verbatim.
    const kept = new Set(after.graph(GraphField.node));
    const touched = before.nodes.filter((node) => !kept.has(node.bytes));
    expect(touched).toHaveLength(11 * tiny.layers + 1);
    const rewired = touched.filter((node) => after.nodes.some((n) => n.withoutInputs === node.withoutInputs));
    expect(rewired.map((n) => n.opType)).toEqual(['MatMul']);
    // Nothing copies or repeats the cache any more, and the cache is no longer a graph output.
    const view = readGraph(rewriteDecoder(bytes, tiny).model);
    expect(view.nodes.filter((n) => n.opType === 'Expand')).toHaveLength(0);
    expect(view.nodes.filter((n) => n.outputs.some((o) => o.startsWith('present.')))).toHaveLength(0);
    expect(view.outputs.map((o) => o.name)).not.toContain('present.0.key');
    expect(view.outputs[0]!.name).toBe('logits');
  });

});
