/**
 * Scripted-answer fixtures (writeSmolVlmModel's `scriptedAnswer`, `npm run fixtures -- --scripted-answer TEXT`): run
 * through the real engine, the generated model answers exactly the script to any question, then stops at eos; and the
 * option leaves default fixtures byte for byte as they were.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type AskOptions, type Conversation, type Model } from '../../native-models/index.js';
import { toFloat32Array } from '../../native-models/runtime/float16.js';
import { SCRIPTED_LOGIT_MARGIN, writeSmolVlmModel, type SmolVlmFixtureInfo } from '../fixtures/smolvlm/generate.js';
import { collectAnswer } from '../support/answers.js';
import { smolVlmReferenceLogits } from '../support/reference-decoder.js';
import { writeScreenshotLike } from '../support/images.js';
import { runScript } from '../support/run-script.js';

/** Markup the renderer must sanitize, markdown, repeated characters and words, non-ASCII text and newlines. */
const SCRIPT =
  'Here is <img src=x onerror="alert(1)"> and **bold** text: aaaa aaaa aaaa!!! !!! **bold** again → "ok" ok ok\n\n' +
  '- item\n- item\n\n```js\nalert(1)\n```';

const PRECISIONS = ['fp32', 'q8'] as const;

let root: string;
let info: SmolVlmFixtureInfo;
let image: string;
const models = new Map<string, Model>();

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-scripted-'));
  info = await writeSmolVlmModel(path.join(root, 'model'), { seed: 5, precisions: [...PRECISIONS], scriptedAnswer: SCRIPT });
  image = await writeScreenshotLike(path.join(root, 'screen.png'), 800, 600);
  for (const precision of PRECISIONS) models.set(precision, await loadModel(info.dir, { precision }));
});

afterAll(async () => {
  for (const model of models.values()) await model.dispose();
  if (root) await rm(root, { recursive: true, force: true });
});

async function ask(conversation: Conversation, question: string, options: AskOptions = {}) {
  return collectAnswer(conversation.ask(question, options));
}

function expectScripted(answer: Awaited<ReturnType<typeof ask>>, script = SCRIPT, ids = info.scriptedAnswer!.tokenIds): void {
  expect(answer.text).toBe(script);
  expect(answer.streamed).toBe(script);
  expect(answer.tokenIds).toEqual([...ids, info.ids.eos]);
  expect(answer.stats.stopReason).toBe('eos');
}

describe('the scripted tokens', () => {
  it('are distinct ids whose pieces spell the script, none of them a special token', async () => {
    const scripted = info.scriptedAnswer!;
    expect(scripted.text).toBe(SCRIPT);
    expect(scripted.pieces.join('')).toBe(SCRIPT);
    expect(scripted.tokenIds.length).toBeGreaterThan(10);
    expect(new Set(scripted.tokenIds).size).toBe(scripted.tokenIds.length);
    expect(new Set(scripted.pieces).size).toBe(scripted.pieces.length);
    const specials = new Set(Object.values(info.specialTokenIds));
    for (const id of scripted.tokenIds) expect(specials.has(id)).toBe(false);
    // The special tokens keep the ids they have without a script.
    const plain = await writeSmolVlmModel(path.join(root, 'plain'), { seed: 5, graphs: [] });
    expect(info.specialTokenIds).toEqual(plain.specialTokenIds);
    expect(info.ids).toEqual(plain.ids);
    // A piece already in the vocabulary keeps its id; new pieces are appended.
    expect(info.vocabSize).toBeGreaterThan(plain.vocabSize);
    for (const id of scripted.tokenIds) expect(id).toBeLessThan(info.vocabSize);
  });
});

describe('the decoder of a scripted model', () => {
  const ALL = ['fp32', 'fp16', 'q8', 'q4', 'q4f16'] as const;
  let all: SmolVlmFixtureInfo;

  beforeAll(async () => {
    all = await writeSmolVlmModel(path.join(root, 'all'), { seed: 5, precisions: [...ALL], scriptedAnswer: SCRIPT, graphs: ['embed_tokens', 'decoder_model_merged'] });
  });

  it.each(ALL)('%s: after the prompt tail and after each scripted token, the next one leads every other logit by the margin', async (precision) => {
    const { text } = all.dims;
    const half = precision === 'fp16' || precision === 'q4f16';
    const files = all.files[precision]!;
    const opts = { intraOpNumThreads: 1, logSeverityLevel: 3 as const };
    const [embed, decoder] = await Promise.all([
      ort.InferenceSession.create(files.embedTokens!, opts),
      ort.InferenceSession.create(files.decoder!, opts),
    ]);
    try {
      // ':' ends every prompt ("Assistant:"), then the answer's own tokens; each position must predict the next.
      const tail = await promptTail();
      expect(all.scriptedAnswer!.tokenIds).not.toContain(tail);
      const inputs = [tail, ...all.scriptedAnswer!.tokenIds];
      const targets = [...all.scriptedAnswer!.tokenIds, all.ids.eos];
      const S = inputs.length;
      const ids = new ort.Tensor('int64', BigInt64Array.from(inputs.map(BigInt)), [1, S]);
      const { inputs_embeds: embeds } = await embed.run({ input_ids: ids });
      const feeds: Record<string, ort.Tensor> = {
        inputs_embeds: embeds!,
        attention_mask: new ort.Tensor('int64', new BigInt64Array(S).fill(1n), [1, S]),
        position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: S }, (_, i) => BigInt(i)), [1, S]),
      };
      for (let i = 0; i < text.numLayers; i++) {
        for (const kind of ['key', 'value']) {
          const dims = [1, text.numKvHeads, 0, text.headDim];
          feeds[`past_key_values.${i}.${kind}`] = half ? new ort.Tensor('float16', new Uint16Array(0), dims) : new ort.Tensor('float32', new Float32Array(0), dims);
        }
      }
      const { logits } = await decoder.run(feeds);
      const values = logits!.type === 'float16' ? toFloat32Array(logits!.data as Uint16Array) : (logits!.data as Float32Array);
      const V = all.vocabSize;
      for (let s = 0; s < S; s++) {
        const row = values.subarray(s * V, (s + 1) * V);
        const target = targets[s]!;
        let runnerUp = -Infinity;
        row.forEach((v, id) => {
          if (id !== target) runnerUp = Math.max(runnerUp, v);
        });
        expect(row[target]! - runnerUp, `position ${s}`).toBeGreaterThan(SCRIPTED_LOGIT_MARGIN - 1);
      }
      expect(SCRIPTED_LOGIT_MARGIN - 1).toBeGreaterThanOrEqual(50);
    } finally {
      await Promise.all([embed.release(), decoder.release()]);
    }
  });
});

/** The id of the last token of every prompt: the chat template ends with "Assistant:". */
async function promptTail(): Promise<number> {
  const model = models.get('fp32')!;
  const answer = await ask(model.startConversation(), 'x');
  return answer.promptTokenIds.at(-1)!;
}

describe.each(PRECISIONS)('a %s model with a scripted answer', (precision) => {
  const model = (): Model => models.get(precision)!;

  it('keeps the stock graph: every load-time decoder rewrite still applies', () => {
    expect(model().decoderRewrites.skipped).toEqual([]);
    expect(model().decoderRewrites.applied).toEqual(expect.arrayContaining(['new-kv-outputs', 'last-row-logits']));
  });

  it('answers the script to a question about an image', async () => {
    const answer = await ask(model().startConversation({ image, detail: 'high' }), 'What is on my screen?');
    expect(answer.stats.imageTokens).toBeGreaterThan(0);
    expectScripted(answer);
  });

  it('answers the script to a text-only question', async () => {
    const answer = await ask(model().startConversation(), 'Tell me something else entirely.');
    expect(answer.stats.imageTokens).toBe(0);
    expectScripted(answer);
  });

  it('answers the script again to follow-ups in the same conversation', async () => {
    const conversation = model().startConversation({ image, detail: 'low' });
    expectScripted(await ask(conversation, 'First question?'));
    const second = await ask(conversation, 'And a follow-up: what did you just say?');
    expectScripted(second);
    expect(second.stats.reusedPromptTokens).toBeGreaterThan(0);
    expectScripted(await ask(conversation, 'Third time :'));
    expect(conversation.history).toHaveLength(6);
  });

  it('answers the script with the cache off', async () => {
    const conversation = model().startConversation({ image, detail: 'low' });
    const answer = await ask(conversation, 'Without the cache?', { useCache: false });
    expect(answer.stats.cache).toBe('off');
    expectScripted(answer);
    expectScripted(await ask(conversation, 'Again without it.', { useCache: false }));
  });

  it('answers the script when sampling at temperature 1, whatever the seed', async () => {
    for (const seed of [0, 1, 12345]) {
      expectScripted(await ask(model().startConversation(), 'Sample, please.', { temperature: 1, seed, topK: 0, topP: 1 }));
    }
    expectScripted(await ask(model().startConversation(), 'With a penalty.', { temperature: 1, repetitionPenalty: 1.5 }));
  });

});

describe('scripted answers of other shapes', () => {
  it.each([
    ['empty', ''],
    ['one character', 'a'],
    ['the generation prompt itself', 'Assistant:'],
    ['repeats only', 'aa aa aa aa aa aa aa aa'],
  ])('%s', async (_name, script) => {
    const dir = path.join(root, `shape-${script.length}`);
    const shaped = await writeSmolVlmModel(dir, { seed: 6, precisions: ['q8'], scriptedAnswer: script });
    const model = await loadModel(dir, { precision: 'q8' });
    try {
      expectScripted(await ask(model.startConversation(), 'Anything?'), script, shaped.scriptedAnswer!.tokenIds);
    } finally {
      await model.dispose();
    }
  });

  it('cuts a long script into at most 63 tokens and still answers it exactly', async () => {
    const script = Array.from({ length: 60 }, (_, i) => `Line ${i % 4}: the same words again, and again & again!\n`).join('');
    const dir = path.join(root, 'long');
    const long = await writeSmolVlmModel(dir, { seed: 6, precisions: ['q8'], scriptedAnswer: script });
    expect(long.scriptedAnswer!.tokenIds.length).toBeLessThanOrEqual(63);
    const model = await loadModel(dir, { precision: 'q8' });
    try {
      expectScripted(await ask(model.startConversation(), 'Long?'), script, long.scriptedAnswer!.tokenIds);
    } finally {
      await model.dispose();
    }
  });

  it('rejects a script that can only be the prompt’s last token', async () => {
    await expect(writeSmolVlmModel(path.join(root, 'colon'), { scriptedAnswer: ':' })).rejects.toThrow(/cannot be cut/);
  });

  it('npm run fixtures -- --scripted-answer writes a scripted model', async () => {
    const dir = path.join(root, 'cli');
    const result = await runScript('test/fixtures/cli.ts', ['--out', dir, '--precision', 'q8', '--scripted-answer', '**hi** <b>there</b>']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/scripted answer of \d+ tokens/);
    const model = await loadModel(dir, { precision: 'q8' });
    try {
      const answer = await ask(model.startConversation(), 'Hello?');
      expect(answer.text).toBe('**hi** <b>there</b>');
      expect(answer.stats.stopReason).toBe('eos');
    } finally {
      await model.dispose();
    }
  });
});

/** sha256 of every file of a model directory, by path relative to it. */
async function fileHashes(dir: string): Promise<Record<string, string>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
  const hashes: Record<string, string> = {};
  for (const file of files.sort()) hashes[file] = createHash('sha256').update(await readFile(path.join(dir, file))).digest('hex');
  return hashes;
}

/**
 * The default tiny fixture (seed 0, every precision), hashed before scripted answers existed. If you change the
 * generator on purpose, regenerate these; an unintended change here means default fixtures are no longer what every
 * other test was written against.
 */
const DEFAULT_TINY_HASHES: Record<string, string> = {
  'config.json': '2997e47afbb5eb408dfd77d29ed514fa1cf3b8abb24e35e3cbccfb46c322aca4',
  'generation_config.json': '62bd97fb226db5f0988e39390ea4c1ef24c0ed13a3e13e89c0e74b1a4504cbc0',
  'onnx/decoder_model_merged.onnx': 'ebfdd49ab45aa2b356dfa11683ea3d90b80b183d97ff19f90ba70c2d3e74c652',
  'onnx/decoder_model_merged_fp16.onnx': '8c0bdc6294b488eaf10a4fbc37728170f412416e24e92422b9aaff7c5aa0c983',
  'onnx/decoder_model_merged_q4.onnx': '346d76b15058ed1b2f8909bbd367c8fa729010c264779450bb87c6f853f09258',
  'onnx/decoder_model_merged_q4f16.onnx': 'ee1f01394032b084f5d05371b45fa16887c0c96689118372fbed6998618ada0a',
  'onnx/decoder_model_merged_quantized.onnx': 'bdb3314c3e2aabbec86584f41aaecd614d0238d91df275ab4a83323af7f80d88',
  'onnx/embed_tokens.onnx': 'fc61d9dbb12b705f2544635d5971d48c37a82258f5136b76dd0440707597fc13',
  'onnx/embed_tokens_fp16.onnx': 'c819cab1d6606a47c3dbece29219de4ca123a1677033efb1bece3d5c0ca65daa',
  'onnx/embed_tokens_q4.onnx': 'f18bf3dfd13c80107982c91c6ca79d6aaf4ce3a8b3dadd7e16599ecbfeeaf8c9',
  'onnx/embed_tokens_q4f16.onnx': 'e2deb0c676efcd670bda26fa82c891234214875aadbbeb04635dd2758fb384c0',
  'onnx/embed_tokens_quantized.onnx': '8752009b2db75f7016511a2518705af94a4fcfecdb908d0a888cb52ed1f54bf6',
  'onnx/vision_encoder.onnx': '423a8194aaf2db5e5100f62d462e98e3d43ef5bee6a4686a83d00d975c63bffb',
  'onnx/vision_encoder_fp16.onnx': '16ee66b821eab4789cd66cce27dcb790cd30df173c00d359099ca49eaaebd359',
  'onnx/vision_encoder_q4.onnx': 'f09f37ab83c9b04feecae6427035d0c0cafe2f74b57b2aa013db7fe50cab4818',
  'onnx/vision_encoder_q4f16.onnx': '70aac4b3a1f77ab1e08b15a1fa22aaf622aace1e2a2f5e946b03bc8b98da95ea',
  'onnx/vision_encoder_quantized.onnx': 'eaa05f831fcc3720c55ba833d59d9d7e3655df441f4270f66ea65ecdb4ab2195',
  'preprocessor_config.json': '6cb6e36d6fcb88ca1502c4a26750715dc3e7dedddc9a8f17b27d8d167d1457e7',
  'processor_config.json': 'e7bff42da73ae9eec9042ef20e066e11f1ee20f025358ff79131e3c0fb549b46',
  'special_tokens_map.json': '910b2740b2f539c910fdcd5c0f5caf5fcbd029ac2f7895b8e137ece69a8171a8',
  'tokenizer.json': '79a738d1c6a72712cd1d773ac82a4da72a51663b5aee604e0f71e7ebe5fa1410',
  'tokenizer_config.json': 'dbefa5b8b7aaa0a753253d01afbe1bc88bed29baf022755a5a6778d5da5f84d4',
};

describe('without a scripted answer', () => {
  const ALL = ['fp32', 'fp16', 'q8', 'q4', 'q4f16'] as const;

  it('the default tiny fixture is byte-identical to before the option existed', async () => {
    const dir = path.join(root, 'default');
    const plain = await writeSmolVlmModel(dir, { precisions: [...ALL] });
    expect(plain.scriptedAnswer).toBeUndefined();
    expect(await fileHashes(dir)).toEqual(DEFAULT_TINY_HASHES);
  });

  it('and the pinned files mean what every test takes them for: the engine answers as a float64 Llama of their weights', async () => {
    const dir = path.join(root, 'default-fp32');
    const plain = await writeSmolVlmModel(dir, { precisions: ['fp32'] });
    const hashes = await fileHashes(dir);
    // The same bytes as pinned above, so what is proven here holds for the pinned fixture.
    for (const [file, hash] of Object.entries(hashes)) expect(hash, file).toBe(DEFAULT_TINY_HASHES[file]);
    const model = await loadModel(dir, { precision: 'fp32' });
    try {
      const answer = await collectAnswer(model.startConversation().ask('What does this error mean?', { maxNewTokens: 5, temperature: 0 }));
      const ids = [...answer.promptTokenIds];
      const expected: number[] = [];
      while (expected.length < 5 && expected.at(-1) !== plain.ids.eos) {
        const logits = smolVlmReferenceLogits(plain, ids).at(-1)!;
        const next = logits.indexOf(Math.max(...logits));
        expected.push(next);
        ids.push(next);
      }
      expect(answer.tokenIds).toEqual(expected);
    } finally {
      await model.dispose();
    }
  });

  it('scriptedAnswer: undefined writes the same files as leaving it out', async () => {
    const a = path.join(root, 'undefined-a');
    const b = path.join(root, 'undefined-b');
    await writeSmolVlmModel(a, { seed: 5, precisions: [...ALL] });
    await writeSmolVlmModel(b, { seed: 5, precisions: [...ALL], scriptedAnswer: undefined });
    expect(await fileHashes(b)).toEqual(await fileHashes(a));
  });

  it('a scripted model keeps the vision encoder of the same seed', async () => {
    const plain = await writeSmolVlmModel(path.join(root, 'vision-only'), { seed: 5, precisions: [...PRECISIONS], graphs: ['vision_encoder'] });
    for (const precision of PRECISIONS) {
      const scripted = await readFile(info.files[precision]!.visionEncoder!);
      expect(scripted.equals(await readFile(plain.files[precision]!.visionEncoder!))).toBe(true);
    }
  });
});
