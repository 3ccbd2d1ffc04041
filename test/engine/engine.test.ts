/** The engine's behaviour on generated models: precisions, the cache warning, stopping, cancelling, streaming, errors. */
import { cp, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listPrecisions, loadModel, ScreenAskError, type Answer, type AskOptions, type Model } from '../../native-models/index.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { collectAnswer } from '../support/answers.js';
import { writeGradient } from '../support/images.js';

let root: string;
let modelDir: string;
let image: string;
let model: Model;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-engine-'));
  modelDir = path.join(root, 'model');
  await writeSmolVlmModel(modelDir, { seed: 3, precisions: ['fp32', 'q8', 'fp16', 'q4', 'q4f16'] });
  image = await writeGradient(path.join(root, 'image.png'), 320, 200);
  model = await loadModel(modelDir, { precision: 'fp32' });
});

afterAll(async () => {
  await model?.dispose();
  if (root) await rm(root, { recursive: true, force: true });
});

async function answer(m: Model, options: AskOptions = {}, question = 'What is this?') {
  return collectAnswer(m.startConversation({ image, detail: 'low' }).ask(question, { maxNewTokens: 8, ...options }));
}

/** A copy of the model directory to damage or reconfigure. */
async function copyModel(name: string): Promise<string> {
  const copy = path.join(root, name);
  await cp(modelDir, copy, { recursive: true });
  return copy;
}

describe('precisions', () => {
  it('lists exactly the precisions whose three graphs are present', async () => {
    expect(await listPrecisions(modelDir)).toEqual(['fp32', 'fp16', 'q8', 'q4', 'q4f16']);
    const partial = await copyModel('partial');
    await rm(path.join(partial, 'onnx', 'embed_tokens_q4.onnx'));
    expect(await listPrecisions(partial)).not.toContain('q4');
  });

  it.each(['q8', 'fp16', 'q4', 'q4f16'] as const)('loads %s and answers, reporting the precision', async (precision) => {
    const quantized = await loadModel(modelDir, { precision });
    try {
      const result = await answer(quantized);
      expect(result.stats.precision).toBe(precision);
      expect(result.stats.provider).toBe('cpu');
      expect(result.tokenIds).toHaveLength(8);
    } finally {
      await quantized.dispose();
    }
  });

  it('auto picks an integer format on the CPU', async () => {
    const auto = await loadModel(modelDir, { precision: 'auto', device: 'cpu' });
    expect(auto.precision).toBe('q8');
    await auto.dispose();
  });

  it('a precision the folder lacks is an error listing what it has', async () => {
    await expect(loadModel(modelDir, { precision: 'bnb4' })).rejects.toThrow(/no bnb4 files .*available precisions: fp32, fp16, q8, q4, q4f16/);
  });
});

describe('the use_cache: false trap', () => {
  it('still decodes with the cache, warns with the cause, and gives the same tokens', async () => {
    const dir = path.join(root, 'no-cache-flag');
    await writeSmolVlmModel(dir, { seed: 3, precisions: ['fp32'], useCacheFlag: false });
    const flagged = await loadModel(dir, { precision: 'fp32' });
    try {
      const events = [];
      for await (const event of flagged.startConversation({ image, detail: 'low' }).ask('What is this?', { maxNewTokens: 8 })) {
        events.push(event);
      }
      expect(events[0]).toMatchObject({ type: 'warning' });
      const done = events.at(-1)!;
      if (done.type !== 'done') throw new Error('no answer');
      expect(done.answer.stats.cache).toBe('on');
      expect(done.answer.warnings.join(' ')).toMatch(/use_cache: false.*gradient checkpointing.*KV cache/);
      expect(done.answer.tokenIds).toEqual((await answer(model)).tokenIds);
      // Turning the cache off explicitly is the caller's right, and then there is nothing to warn about.
      const off = await answer(flagged, { useCache: false });
      expect(off.stats.cache).toBe('off');
      expect(off.warnings).toEqual([]);
    } finally {
      await flagged.dispose();
    }
  });
});

describe('optional decoder inputs and file layout', () => {
  it('num_logits_to_keep and external data give the same tokens as the plain export', async () => {
    const dir = path.join(root, 'keep-external');
    await writeSmolVlmModel(dir, { seed: 3, precisions: ['fp32'], numLogitsToKeep: true, externalData: true });
    const variant = await loadModel(dir, { precision: 'fp32' });
    try {
      expect((await answer(variant)).tokenIds).toEqual((await answer(model)).tokenIds);
    } finally {
      await variant.dispose();
    }
  });
});

describe('generation', () => {
  it('stops on an eos id, which generation_config.json may give as a list', async () => {
    const first = (await answer(model)).tokenIds[2]!;
    const dir = await copyModel('eos');
    const generation = JSON.parse(await readFile(path.join(dir, 'generation_config.json'), 'utf8'));
    await writeFile(path.join(dir, 'generation_config.json'), JSON.stringify({ ...generation, eos_token_id: [99999, first] }));
    const withEos = await loadModel(dir, { precision: 'fp32' });
    try {
      const result = await answer(withEos, { maxNewTokens: 50 });
      expect(result.stats.stopReason).toBe('eos');
      expect(result.tokenIds.at(-1)).toBe(first);
      expect(result.tokenIds.length).toBeLessThanOrEqual(3);
    } finally {
      await withEos.dispose();
    }
  });

  it('stops at max new tokens', async () => {
    const result = await answer(model, { maxNewTokens: 5 });
    expect(result.tokenIds).toHaveLength(5);
    expect(result.stats.stopReason).toBe('max-new-tokens');
  });

  it('streams text that adds up to the answer, one event per token', async () => {
    const result = await answer(model, { maxNewTokens: 24 }, 'Ünïcödé 中文 🙂?');
    expect(result.streamed).toBe(result.text);
    expect(result.tokenEvents).toBe(result.tokenIds.length);
  });

  it('sampling is reproducible with a seed and varies with it', async () => {
    const options = { temperature: 1.5, topK: 0, topP: 1, maxNewTokens: 12 };
    const a = await answer(model, { ...options, seed: 1 });
    const b = await answer(model, { ...options, seed: 1 });
    const c = await answer(model, { ...options, seed: 2 });
    expect(b.tokenIds).toEqual(a.tokenIds);
    expect(c.tokenIds).not.toEqual(a.tokenIds);
  });

  it('cancels with an AbortSignal, keeping the tokens produced so far', async () => {
    const controller = new AbortController();
    const events = model.startConversation({ image, detail: 'low' }).ask('What is this?', {
      maxNewTokens: 64,
      signal: controller.signal,
    });
    let tokens = 0;
    let done: Answer | undefined;
    for await (const event of events) {
      if (event.type === 'token' && ++tokens === 3) controller.abort();
      if (event.type === 'done') done = event.answer;
    }
    expect(tokens).toBe(3);
    // A stream that ended without its done event would fail here, not pass silently.
    expect(done?.stats.stopReason).toBe('cancelled');
    expect(done?.tokenIds).toHaveLength(3);
  });

  it('reports the figures of the answer', async () => {
    // A picture no earlier test used, so its encoding is not already cached.
    const fresh = await writeGradient(path.join(root, 'fresh.png'), 111, 77);
    const events = model.startConversation({ image: fresh, detail: 'low' }).ask('What is this?', { maxNewTokens: 6 });
    const { stats } = await collectAnswer(events);
    expect(stats.imageTokens).toBe(64);
    expect(stats.promptTokens).toBeGreaterThan(64);
    expect(stats.generatedTokens).toBe(6);
    expect(stats.imageEncodeMs).toBeGreaterThan(0);
    expect(stats.prefillMs).toBeGreaterThan(0);
    expect(stats.timeToFirstTokenMs).toBeGreaterThanOrEqual(stats.imageEncodeMs + stats.prefillMs - 1);
    expect(stats.decodeTokensPerSecond).toBeGreaterThan(0);
    expect(stats.totalMs).toBeGreaterThanOrEqual(stats.timeToFirstTokenMs);
  });

  it('rejects an out-of-range setting before doing any work', async () => {
    await expect(answer(model, { temperature: -1 })).rejects.toThrow(/Invalid setting temperature/);
    await expect(answer(model, { maxNewTokens: 0 })).rejects.toThrow(ScreenAskError);
  });
});

describe('bad model folders', () => {
  it('a missing folder', async () => {
    await expect(loadModel(path.join(root, 'nowhere'))).rejects.toThrow(/Model directory .*nowhere does not exist/);
  });

  it('missing files are all listed at once', async () => {
    const dir = await copyModel('missing');
    await rm(path.join(dir, 'tokenizer.json'));
    await rm(path.join(dir, 'onnx', 'vision_encoder.onnx'));
    await expect(loadModel(dir, { precision: 'fp32' })).rejects.toThrow(
      /incomplete: missing tokenizer\.json, onnx\/vision_encoder\.onnx/,
    );
  });

  it('a corrupt or truncated graph names the file', async () => {
    const dir = await copyModel('corrupt');
    await truncate(path.join(dir, 'onnx', 'decoder_model_merged.onnx'), 1000);
    const error = await loadModel(dir, { precision: 'fp32' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScreenAskError);
    // onnxruntime's own framing ("Load model from … failed:Protobuf parsing failed.") is dropped: one sentence remains.
    expect((error as Error).message).toMatch(/^Cannot load onnx\/decoder_model_merged\.onnx: Protobuf parsing failed\. The file may be corrupt or incomplete: download the model again\.$/);
    expect((error as Error).message).not.toContain('\n');
  });

  it('malformed JSON names the file', async () => {
    const dir = await copyModel('bad-json');
    await writeFile(path.join(dir, 'config.json'), '{ "model_type": ');
    await expect(loadModel(dir, { precision: 'fp32' })).rejects.toThrow(/config\.json is not valid JSON/);
  });

  it('a config of an unsupported family says which families are supported', async () => {
    const dir = await copyModel('other-family');
    const config = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8'));
    await writeFile(path.join(dir, 'config.json'), JSON.stringify({ ...config, model_type: 'florence2' }));
    await expect(loadModel(dir, { precision: 'fp32' })).rejects.toThrow(
      /^Model type "florence2" \(config\.json\) is not one ScreenAsk can run \(supported: idefics3, .*\): choose a SmolVLM or Qwen2-VL \/ Qwen2\.5-VL model, or export a fine-tune/,
    );
  });

  it('an unreadable image is a one-line error naming the file', async () => {
    const notImage = path.join(root, 'notes.png');
    await writeFile(notImage, 'this is not a picture');
    const events = model.startConversation({ image: notImage }).ask('What is this?');
    const error = await collectAnswer(events).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScreenAskError);
    expect((error as Error).message).toContain('notes.png');
  });
});
