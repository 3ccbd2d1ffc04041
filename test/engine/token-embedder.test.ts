/**
 * The embedding table read at load (token-embedder.ts) against the embed_tokens graph it replaces: every row
 * bit-identical to what onnxruntime returns, in each precision the fixtures ship; graphs it does not recognise run as
 * shipped, with the reason.
 */
import ort from 'onnxruntime-node';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTokenEmbedder, readEmbeddingTable } from '../../native-models/model/token-embedder.js';
import { PRECISION_SUFFIX, PRECISIONS } from '../fixtures/shared/layers.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';

let root: string;
let vocab: number;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-embed-'));
  const info = await writeSmolVlmModel(root, { seed: 31, precisions: [...PRECISIONS], graphs: ['embed_tokens', 'decoder_model_merged'] });
  vocab = info.dims.text.vocabSize;
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const graphFile = (name: string, precision: (typeof PRECISIONS)[number]) => path.join(root, 'onnx', `${name}${PRECISION_SUFFIX[precision]}.onnx`);

describe('the embedding table read at load', () => {
  it.each(PRECISIONS)('%s: every row is bit-identical to the embed_tokens graph', async (precision) => {
    const file = graphFile('embed_tokens', precision);
    const ids = Array.from({ length: vocab }, (_, i) => i);
    const session = await ort.InferenceSession.create(file);
    const embedder = await openTokenEmbedder(file, { device: 'cpu', threads: 1 });
    try {
      const expected = (await session.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]) })).inputs_embeds!;
      expect(embedder.via).toBe('table');
      const actual = await embedder.embed(ids);
      expect(actual.type).toBe(expected.type);
      expect(actual.dims).toEqual(expected.dims);
      const bytes = (t: ort.Tensor) => Buffer.from((t.data as Float32Array).buffer, (t.data as Float32Array).byteOffset, (t.data as Float32Array).byteLength);
      expect(bytes(actual).equals(bytes(expected))).toBe(true);
      // A decode step's single row, in the middle of the table.
      const one = await embedder.embed([vocab - 2]);
      expect(bytes(one).equals(bytes(expected).subarray((vocab - 2) * bytes(one).length, (vocab - 1) * bytes(one).length))).toBe(true);
    } finally {
      await session.release();
      await embedder.release();
    }
  });

  it('rejects an id outside the table, as the graph does, instead of returning a row of zeros', async () => {
    const embedder = await openTokenEmbedder(graphFile('embed_tokens', 'q8'), { device: 'cpu', threads: 1 });
    await expect(embedder.embed([vocab])).rejects.toThrow(/outside the embedding table/);
    await expect(embedder.embed([-1])).rejects.toThrow(/outside the embedding table/);
  });

  it('runs a graph it does not recognise as shipped, saying why', async () => {
    // The decoder is no Gather of a table by input_ids: the reader must decline it rather than guess.
    const decoder = graphFile('decoder_model_merged', 'fp32');
    expect(readEmbeddingTable(await readFile(decoder), path.dirname(decoder))).toMatch(/input_ids/);
    const embedder = await openTokenEmbedder(decoder, { device: 'cpu', threads: 1 });
    try {
      expect(embedder).toMatchObject({ via: 'graph', reason: expect.stringMatching(/input_ids/) });
    } finally {
      await embedder.release();
    }
  });
});
