/** Conversations: follow-ups that reuse the KV cache, the image-feature cache, cancelling, the context limit, devices. */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type AskOptions, type Conversation, type Model } from '../../native-models/index.js';
import { ImageFeatureCache } from '../../native-models/conversation/image-cache.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { collectAnswer } from '../support/answers.js';
import { writeGradient, writeScreenshotLike } from '../support/images.js';

let root: string;
let modelDir: string;
let image: string;
let model: Model;
/** The fixture's added tokens (image, turn markers…): the prompt's control ids. */
let controlIds: Set<number>;
const questions = ['What is on the screen?', 'And the second line?', 'Which button should I press?'];

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-conversation-'));
  modelDir = path.join(root, 'model');
  controlIds = new Set(Object.values((await writeSmolVlmModel(modelDir, { seed: 8, precisions: ['fp32'] })).specialTokenIds));
  image = await writeScreenshotLike(path.join(root, 'screen.png'), 1280, 720);
  model = await loadModel(modelDir, { precision: 'fp32' });
});

afterAll(async () => {
  await model?.dispose();
  if (root) await rm(root, { recursive: true, force: true });
});

async function converse(conversation: Conversation, options: AskOptions & { count?: number } = {}) {
  const { count = questions.length, ...ask } = options;
  const answers = [];
  for (const question of questions.slice(0, count)) {
    answers.push(await collectAnswer(conversation.ask(question, { maxNewTokens: 12, temperature: 0, ...ask })));
  }
  return answers;
}

describe('follow-up questions', () => {
  it.each([true, false])('reuse the cache and answer exactly as a full recomputation (rewritten decoder: %s)', async (rewrite) => {
    const m = rewrite ? model : await loadModel(modelDir, { precision: 'fp32', rewriteDecoder: false });
    try {
      const reused = await converse(m.startConversation({ image, detail: 'high' }));
      const recomputed = await converse(m.startConversation({ image, detail: 'high' }), { useCache: false });
      expect(reused.map((a) => a.tokenIds)).toEqual(recomputed.map((a) => a.tokenIds));
      // The follow-ups read only what the cache lacks: never the image again, never the first question.
      const [first, second, third] = reused;
      expect(first!.stats.reusedPromptTokens).toBe(0);
      expect(second!.stats.reusedPromptTokens).toBeGreaterThanOrEqual(first!.promptTokenIds.length);
      expect(third!.stats.reusedPromptTokens).toBeGreaterThan(second!.stats.reusedPromptTokens);
      expect(second!.stats.imageEncodeMs).toBe(0);
      // With the cache off, every question reads everything.
      expect(recomputed.map((a) => a.stats.reusedPromptTokens)).toEqual([0, 0, 0]);
      expect(recomputed.every((a) => a.stats.cache === 'off')).toBe(true);
    } finally {
      if (m !== model) await m.dispose();
    }
  });

  it('the history holds each question and answer', async () => {
    const conversation = model.startConversation({ image, detail: 'low' });
    const answers = await converse(conversation, { count: 2 });
    expect(conversation.history.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(conversation.history[3]!.content).toEqual([{ type: 'text', text: answers[1]!.text }]);
    expect(conversation.history[0]!.content[0]).toEqual({ type: 'image' });
    expect(conversation.history[2]!.content).toEqual([{ type: 'text', text: questions[1] }]);
  });

  it('refuses a second question while one is still streaming', async () => {
    const conversation = model.startConversation({ image, detail: 'low' });
    const first = conversation.ask(questions[0]!, { maxNewTokens: 4 });
    await first.next();
    await expect(collectAnswer(conversation.ask(questions[1]!))).rejects.toThrow(/still answering/);
    await collectAnswer(first);
  });
});

describe('cancelling', () => {
  /** Asks the first question, cancelling after `after` tokens (0: before the first one), then asks a follow-up. */
  async function cancelThenFollowUp(useCache: boolean, after: number) {
    const conversation = model.startConversation({ image, detail: 'low' });
    const controller = new AbortController();
    if (after === 0) controller.abort();
    let tokens = 0;
    let cancelled;
    for await (const event of conversation.ask(questions[0]!, { maxNewTokens: 30, useCache, signal: controller.signal })) {
      if (event.type === 'token' && ++tokens === after) controller.abort();
      if (event.type === 'done') cancelled = event.answer;
    }
    const followUp = await collectAnswer(conversation.ask(questions[1]!, { maxNewTokens: 10, temperature: 0, useCache }));
    return { cancelled: cancelled!, followUp, history: conversation.history };
  }

  it.each([3, 0])('after %i tokens keeps the partial answer, and the follow-up matches a full recomputation', async (after) => {
    const cached = await cancelThenFollowUp(true, after);
    const recomputed = await cancelThenFollowUp(false, after);
    expect(cached.cancelled.stats.stopReason).toBe('cancelled');
    expect(cached.cancelled.tokenIds).toHaveLength(after);
    expect(cached.history[1]!.content).toEqual([{ type: 'text', text: cached.cancelled.text }]);
    expect(cached.followUp.tokenIds).toEqual(recomputed.followUp.tokenIds);
    expect(cached.followUp.stats.reusedPromptTokens).toBeGreaterThan(0);
  });
});

describe('questions are text', () => {
  it('a question that quotes control tokens (<image>, <end_of_utterance>) is answered, and adds none to the prompt', async () => {
    const conversation = model.startConversation({ image, detail: 'low' });
    const quoting = await collectAnswer(conversation.ask('What do <image> and <end_of_utterance> mean here?', { maxNewTokens: 2 }));
    const plain = await collectAnswer(model.startConversation({ image, detail: 'low' }).ask('What do they mean here?', { maxNewTokens: 2 }));
    const controls = (ids: readonly number[]) => ids.filter((id) => controlIds.has(id));
    expect(quoting.stats.imageTokens).toBe(64);
    expect(controls(quoting.promptTokenIds)).toEqual(controls(plain.promptTokenIds));
    // A follow-up re-reads the first question from the cache: it must tokenize the same way the second time.
    const followUp = await collectAnswer(conversation.ask('And <image>?', { maxNewTokens: 2 }));
    expect(followUp.stats.reusedPromptTokens).toBeGreaterThan(quoting.promptTokenIds.length - 2);
  });
});

describe('image-feature cache', () => {
  it('a new conversation on the same capture skips the vision encoder and answers the same', async () => {
    const capture = await writeGradient(path.join(root, 'capture.png'), 640, 400);
    const first = await converse(model.startConversation({ image: capture, detail: 'low' }), { count: 1 });
    const again = await converse(model.startConversation({ image: capture, detail: 'low' }), { count: 1 });
    const bytes = await converse(model.startConversation({ image: await readFile(capture), detail: 'low' }), { count: 1 });
    expect(first[0]!.stats.imageEncodeMs).toBeGreaterThan(0);
    expect(again[0]!.stats.imageEncodeMs).toBe(0);
    expect(again[0]!.tokenIds).toEqual(first[0]!.tokenIds);
    expect(bytes[0]!.tokenIds).toEqual(first[0]!.tokenIds);
    // Another detail level is another encoding.
    const high = await converse(model.startConversation({ image: capture, detail: 'high' }), { count: 1 });
    expect(high[0]!.stats.imageEncodeMs).toBeGreaterThan(0);
    model.clearImageCache();
    const cleared = await converse(model.startConversation({ image: capture, detail: 'low' }), { count: 1 });
    expect(cleared[0]!.stats.imageEncodeMs).toBeGreaterThan(0);
  });

  it('evicts the least recently used entries beyond its byte budget', () => {
    const cache = new ImageFeatureCache(3000);
    const entry = (n: number) => ({ prepared: { visionFeeds: {}, tokenCount: 1, frames: 1, layout: n }, features: new Float32Array(250) });
    cache.set('a', entry(1));
    cache.set('b', entry(2));
    cache.set('c', entry(3));
    expect(cache.get('a')).toBeDefined(); // a is now the most recent
    cache.set('d', entry(4));
    expect(cache.size).toBe(3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.get('d')).toBeDefined();
  });
});

describe('context limit', () => {
  async function smallContextModel(tokens: number): Promise<Model> {
    const dir = path.join(root, `context-${tokens}`);
    await cp(modelDir, dir, { recursive: true });
    const config = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8'));
    config.text_config.max_position_embeddings = tokens;
    await writeFile(path.join(dir, 'config.json'), JSON.stringify(config));
    return loadModel(dir, { precision: 'fp32' });
  }

  it('stops an answer that fills the context, then refuses a question that cannot fit, saying what to do', async () => {
    const small = await smallContextModel(110);
    try {
      const conversation = small.startConversation({ image, detail: 'low' });
      const first = await collectAnswer(conversation.ask(questions[0]!, { maxNewTokens: 200 }));
      expect(first.stats.stopReason).toBe('context-full');
      expect(first.promptTokenIds.length + first.tokenIds.length).toBe(110);
      await expect(collectAnswer(conversation.ask(questions[1]!))).rejects.toThrow(
        /reached the model's context \(\d+ of 110 tokens\): start a new conversation on the same capture/,
      );
      // The image is never truncated: a fresh conversation on the capture works again.
      const fresh = await collectAnswer(small.startConversation({ image, detail: 'low' }).ask('Hi?', { maxNewTokens: 2 }));
      expect(fresh.stats.imageTokens).toBe(64);
    } finally {
      await small.dispose();
    }
  });

  it('refuses a first question that is too long with the limit, not advice about conversations', async () => {
    const small = await smallContextModel(110);
    try {
      const long = 'Why is the sky blue today? '.repeat(40);
      const textOnly = await small.startConversation().ask(long).next().catch((e: unknown) => e);
      expect(String(textOnly)).toMatch(
        /This question is too long for the model: the prompt is \d+ tokens and the model's context holds 110 \(prompt and answer together\)\. Shorten it to at most (\d+) tokens \(about (\d+) characters\)\./,
      );
      expect(String(textOnly)).not.toMatch(/new conversation|image detail/);
      // The figure it gives is usable: a question of that many characters fits.
      const [, , characters] = /at most (\d+) tokens \(about (\d+) characters\)/.exec(String(textOnly))!;
      const fits = await collectAnswer(small.startConversation().ask(long.slice(0, Number(characters) - 10), { maxNewTokens: 1 }));
      expect(fits.promptTokenIds.length).toBeLessThan(110);

      const withImage = await small.startConversation({ image, detail: 'low' }).ask(long).next().catch((e: unknown) => e);
      expect(String(withImage)).toMatch(/the prompt is \d+ tokens \(64 of them the image\) and the model's context holds 110/);
    } finally {
      await small.dispose();
    }
  });
});

describe('devices and lifetime', () => {
  it('auto falls back to the CPU with the reason when a GPU provider cannot start', async () => {
    const auto = await loadModel(modelDir, { precision: 'fp32', device: 'auto', autoProviders: ['cuda'] });
    try {
      expect(auto.provider).toBe('cpu');
      expect(auto.warnings.join(' ')).toMatch(/cuda: .*running on the CPU/);
      const answer = await collectAnswer(auto.startConversation({ image, detail: 'low' }).ask('Hi?', { maxNewTokens: 2 }));
      expect(answer.stats.provider).toBe('cpu');
      expect(answer.warnings.join(' ')).toMatch(/running on the CPU/);
    } finally {
      await auto.dispose();
    }
  });

  it('an explicit provider that cannot start is an error naming it', async () => {
    await expect(loadModel(modelDir, { precision: 'fp32', device: 'cuda' })).rejects.toThrow(
      /The cuda execution provider could not run onnx\/decoder_model_merged\.onnx: .*cpu always works/,
    );
  });

  it('keeps no state across 100 questions (each capture encoded once, no carry-over), and an unloaded model says so', async () => {
    // Memory itself is measured by `npm run bench -- --reliability` (RSS over 100 questions): an RSS bound here would
    // depend on the garbage collector. What keeps memory flat is asserted instead.
    const m = await loadModel(modelDir, { precision: 'fp32' });
    const captures = await Promise.all([0, 1, 2].map((i) => writeGradient(path.join(root, `q${i}.png`), 300 + i, 200)));
    const answers = [];
    for (let i = 0; i < 100; i++) {
      answers.push(await collectAnswer(m.startConversation({ image: captures[i % 3]!, detail: 'low' }).ask('What is this?', { maxNewTokens: 4 })));
    }
    // Three captures, three encodings: every later conversation found its image in the bounded cache.
    expect(answers.filter((a) => a.stats.imageEncodeMs > 0)).toHaveLength(3);
    // A new conversation starts empty: nothing of the previous one's KV cache is reused or kept.
    expect(answers.every((a) => a.stats.reusedPromptTokens === 0)).toBe(true);
    // And answers the same at the 100th question as at the first.
    for (const [i, a] of answers.entries()) expect(a.tokenIds, `question ${i}`).toEqual(answers[i % 3]!.tokenIds);
    await m.dispose();
    const stale = m.startConversation({ image, detail: 'low' });
    await expect(collectAnswer(stale.ask('Hi?'))).rejects.toThrow(/unloaded: load it again/);
  });

});
