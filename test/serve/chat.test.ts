/**
 * The OpenAI-compatible server, with the official openai client as the client, over generated models: answers streamed
 * and not, usage, images, the engine's own answers, stop sequences, follow-ups on the KV cache, concurrency, hang-ups
 * and the key.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import type { ChatCompletionChunk, ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../../native-models/index.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { collectAnswer } from '../support/answers.js';
import { writeScreenshotLike } from '../support/images.js';
import { dataUrl, raw, startServer, type RunningServer } from './harness.js';

let root: string;
let image: string;
let imageUrl: string;
/** Random weights (seed 10): different questions get different answers; 'Tell me everything.' runs to thousands of tokens. */
let model: Model;
/** Answers 'Hello world. Goodbye now' to anything. */
let scripted: Model;
let main: RunningServer;
let script: RunningServer;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-serve-'));
  await writeSmolVlmModel(path.join(root, 'random'), { seed: 10, precisions: ['fp32'] });
  await writeSmolVlmModel(path.join(root, 'scripted'), { seed: 3, precisions: ['fp32'], scriptedAnswer: 'Hello world. Goodbye now' });
  image = await writeScreenshotLike(path.join(root, 'screen.png'), 640, 400);
  imageUrl = await dataUrl(image);
  model = await loadModel(path.join(root, 'random'), { precision: 'fp32' });
  scripted = await loadModel(path.join(root, 'scripted'), { precision: 'fp32' });
  main = await startServer({ model, detail: 'low' });
  script = await startServer({ model: scripted });
});

afterAll(async () => {
  await main?.close();
  await script?.close();
  await model?.dispose();
  await scripted?.dispose();
  if (root) await rm(root, { recursive: true, force: true });
});

const greedy = { temperature: 0, max_tokens: 10 } as const;

function withImage(question: string, detail?: 'low' | 'high' | 'auto'): ChatCompletionMessageParam[] {
  return [{ role: 'user', content: [{ type: 'image_url', image_url: { url: imageUrl, ...(detail ? { detail } : {}) } }, { type: 'text', text: question }] }];
}

async function drain(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

const textOf = (chunks: readonly ChatCompletionChunk[]): string => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');

/** The local engine's greedy answer, for comparison. */
async function localAnswer(question: string, options: { image?: boolean; detail?: 'low' | 'high'; maxNewTokens?: number } = {}) {
  const conversation = model.startConversation({ ...(options.image !== false ? { image } : {}), detail: options.detail ?? 'low' });
  return collectAnswer(conversation.ask(question, { temperature: 0, maxNewTokens: options.maxNewTokens ?? 10 }));
}

describe('GET /v1/models', () => {
  it('lists the one model by its folder name, and retrieves it', async () => {
    const list = await main.client.models.list();
    expect(list.data.map((m) => m.id)).toEqual(['random']);
    expect(list.data[0]).toMatchObject({ object: 'model', owned_by: 'screenask' });
    expect((await main.client.models.retrieve('random')).id).toBe('random');
  });
});

describe('POST /v1/chat/completions', () => {
  it('answers in the OpenAI schema with usage and the engine stats; the text is the local engine\'s, token for token', async () => {
    const completion = await main.client.chat.completions.create({ model: 'random', messages: withImage('What is on the screen?'), ...greedy });
    const local = await localAnswer('What is on the screen?');
    expect(completion.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe('random');
    expect(completion.created).toBeGreaterThan(1_600_000_000);
    expect(completion.choices).toHaveLength(1);
    expect(completion.choices[0]).toMatchObject({ index: 0, finish_reason: 'length', message: { role: 'assistant', content: local.text } });
    expect(completion.usage).toMatchObject({
      prompt_tokens: local.promptTokenIds.length,
      completion_tokens: 10,
      total_tokens: local.promptTokenIds.length + 10,
    });
    const extra = (completion as unknown as { screenask: { stats: { imageTokens: number; generatedTokens: number; stopReason: string } } }).screenask;
    expect(extra.stats).toMatchObject({ imageTokens: 64, generatedTokens: 10, stopReason: 'max-new-tokens' });
  });

  it('streams chunks that add up to the same answer, then the usage chunk and [DONE]', async () => {
    const stream = await main.client.chat.completions.create({
      model: 'random', messages: withImage('What is on the screen?'), ...greedy, stream: true, stream_options: { include_usage: true },
    });
    const chunks = await drain(stream);
    const local = await localAnswer('What is on the screen?');
    expect(textOf(chunks)).toBe(local.text);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'random')).toBe(true);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: local.promptTokenIds.length, completion_tokens: 10 });
    const finish = chunks.at(-2)!;
    expect(finish.choices[0]).toMatchObject({ finish_reason: 'length', delta: {} });
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
  });

  it('without include_usage the stream carries no usage at all', async () => {
    const chunks = await drain(await main.client.chat.completions.create({ model: 'random', messages: withImage('Hi?'), ...greedy, stream: true }));
    expect(chunks.every((c) => c.usage === undefined && c.choices.length === 1)).toBe(true);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('length');
  });

  it('the image detail knob picks the engine\'s detail level (high reads more image tokens), and auto the server\'s default', async () => {
    const run = async (detail: 'low' | 'high' | 'auto') => {
      const c = await main.client.chat.completions.create({ model: 'random', messages: withImage('Read it.', detail), temperature: 0, max_tokens: 2 });
      return (c as unknown as { screenask: { stats: { imageTokens: number } } }).screenask.stats.imageTokens;
    };
    const [low, high, auto] = [await run('low'), await run('high'), await run('auto')];
    expect(low).toBe(64);
    expect(high).toBeGreaterThan(low);
    expect(auto).toBe(low); // this server was started with detail 'low'
    const local = await localAnswer('Read it.', { detail: 'high', maxNewTokens: 2 });
    expect(high).toBe(local.stats.imageTokens);
  });

  it('answers text-only questions, and the text is the local engine\'s', async () => {
    const completion = await main.client.chat.completions.create({ model: 'random', messages: [{ role: 'user', content: 'What is ScreenAsk?' }], ...greedy });
    expect(completion.choices[0]!.message.content).toBe((await localAnswer('What is ScreenAsk?', { image: false })).text);
  });

  it('a system message reaches the prompt as the engine\'s history', async () => {
    const messages: ChatCompletionMessageParam[] = [{ role: 'system', content: 'Answer in one word.' }, ...withImage('What is it?')];
    const completion = await main.client.chat.completions.create({ model: 'random', messages, ...greedy });
    const conversation = model.startConversation({ image, detail: 'low', history: [{ role: 'system', content: [{ type: 'text', text: 'Answer in one word.' }] }] });
    const local = await collectAnswer(conversation.ask('What is it?', { temperature: 0, maxNewTokens: 10 }));
    expect(completion.choices[0]!.message.content).toBe(local.text);
    expect(completion.usage!.prompt_tokens).toBe(local.promptTokenIds.length);
    expect(completion.usage!.prompt_tokens).toBeGreaterThan((await localAnswer('What is it?')).promptTokenIds.length);
  });

  it('seeded sampling through the server is the engine\'s seeded sampling', async () => {
    const sampled = { temperature: 1.2, top_p: 0.9, top_k: 40, repetition_penalty: 1.1, seed: 1234, max_tokens: 10 };
    const completion = await main.client.chat.completions.create({ model: 'random', messages: withImage('Describe it.'), ...sampled });
    const local = await collectAnswer(
      model.startConversation({ image, detail: 'low' }).ask('Describe it.', { temperature: 1.2, topP: 0.9, topK: 40, repetitionPenalty: 1.1, seed: 1234, maxNewTokens: 10 }),
    );
    expect(completion.choices[0]!.message.content).toBe(local.text);
    expect(local.text).not.toBe((await localAnswer('Describe it.')).text);
  });
});

describe('stop sequences', () => {
  it('end the answer before the first one, with finish_reason stop (string and array)', async () => {
    const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'Say it.' }];
    const whole = await script.client.chat.completions.create({ model: 'scripted', messages });
    expect(whole.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: 'Hello world. Goodbye now' } });
    const one = await script.client.chat.completions.create({ model: 'scripted', messages, stop: '.' });
    expect(one.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: 'Hello world' } });
    const several = await script.client.chat.completions.create({ model: 'scripted', messages, stop: ['now', 'd. G'] });
    expect(several.choices[0]!.message.content).toBe('Hello worl');
    // The answer stopped there: fewer tokens than the whole script.
    expect(one.usage!.completion_tokens).toBeLessThan(whole.usage!.completion_tokens);
  });

  it('never stream any part of the stop sequence, even split across tokens', async () => {
    const chunks = await drain(
      await script.client.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: 'Say it.' }], stop: 'world. Good', stream: true }),
    );
    expect(textOf(chunks)).toBe('Hello ');
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
  });
});

describe('follow-ups', () => {
  it('continue the kept conversation on its KV cache, answering as the engine\'s own follow-up', async () => {
    const first: ChatCompletionMessageParam[] = withImage('What is on the screen?');
    const a1 = await main.client.chat.completions.create({ model: 'random', messages: first, ...greedy });
    const followUp: ChatCompletionMessageParam[] = [...first, { role: 'assistant', content: a1.choices[0]!.message.content! }, { role: 'user', content: 'And the title?' }];
    const a2 = await main.client.chat.completions.create({ model: 'random', messages: followUp, ...greedy });
    const stats = (c: unknown) => (c as { screenask: { continued: boolean; stats: { reusedPromptTokens: number; imageEncodeMs: number } } }).screenask;
    expect(stats(a2).continued).toBe(true);
    expect(stats(a2).stats.reusedPromptTokens).toBeGreaterThanOrEqual(a1.usage!.prompt_tokens);
    expect(a2.usage!.prompt_tokens_details?.cached_tokens).toBe(stats(a2).stats.reusedPromptTokens);

    const local = model.startConversation({ image, detail: 'low' });
    await collectAnswer(local.ask('What is on the screen?', { temperature: 0, maxNewTokens: 10 }));
    const second = await collectAnswer(local.ask('And the title?', { temperature: 0, maxNewTokens: 10 }));
    expect(a2.choices[0]!.message.content).toBe(second.text);
    expect(a2.usage!.prompt_tokens).toBe(second.promptTokenIds.length);

    // The same follow-up with an edited answer is another conversation: read whole again, and the same as a fresh one.
    const edited = followUp.map((m) => (m.role === 'assistant' ? { ...m, content: 'Something else.' } : m));
    const a3 = await main.client.chat.completions.create({ model: 'random', messages: edited, ...greedy });
    expect(stats(a3).continued).toBe(false);
    expect(stats(a3).stats.reusedPromptTokens).toBe(0);
    const fresh = model.startConversation({
      image, detail: 'low',
      history: [
        { role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'What is on the screen?' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'Something else.' }] },
      ],
    });
    expect(a3.choices[0]!.message.content).toBe((await collectAnswer(fresh.ask('And the title?', { temperature: 0, maxNewTokens: 10 }))).text);
  });
});

describe('several clients', () => {
  it('requests sent at once each get their whole, own answer, as when sent one by one', async () => {
    const questions = ['What is on the screen?', 'Which window is open?', 'Read the title.', 'What colour is it?', 'Is there an error?'];
    const ask = (question: string, stream: boolean) =>
      stream
        ? main.client.chat.completions
            .create({ model: 'random', messages: withImage(question), ...greedy, stream: true })
            .then(drain)
            .then(textOf)
        : main.client.chat.completions.create({ model: 'random', messages: withImage(question), ...greedy }).then((c) => c.choices[0]!.message.content!);
    const sequential: string[] = [];
    for (const question of questions) sequential.push(await ask(question, false));
    expect(new Set(sequential).size).toBe(questions.length); // distinct answers, so a mix-up would show
    const together = await Promise.all(questions.map((question, i) => ask(question, i % 2 === 0)));
    expect(together).toEqual(sequential);
  });

  it('two copies of the same follow-up at once both get the follow-up\'s answer; at most one continues the kept conversation', async () => {
    const first = withImage('What is on the screen?');
    const answer = (await main.client.chat.completions.create({ model: 'random', messages: first, ...greedy })).choices[0]!.message.content!;
    const followUp: ChatCompletionMessageParam[] = [...first, { role: 'assistant', content: answer }, { role: 'user', content: 'Why?' }];
    const expected = (await main.client.chat.completions.create({ model: 'random', messages: followUp, ...greedy })).choices[0]!.message.content;
    await main.client.chat.completions.create({ model: 'random', messages: first, ...greedy }); // kept again
    const both = await Promise.all([0, 1].map(() => main.client.chat.completions.create({ model: 'random', messages: followUp, ...greedy })));
    expect(both.map((c) => c.choices[0]!.message.content)).toEqual([expected, expected]);
    const continued = both.map((c) => (c as unknown as { screenask: { continued: boolean } }).screenask.continued);
    expect(continued.filter(Boolean)).toHaveLength(1);
  });

  it('a client that hangs up mid-stream cancels its answer, and the next request is answered', async () => {
    const before = main.records.length;
    const controller = new AbortController();
    const stream = await main.client.chat.completions.create(
      { model: 'random', messages: [{ role: 'user', content: 'Tell me everything.' }], temperature: 0, max_tokens: 8000, stream: true },
      { signal: controller.signal },
    );
    let chunks = 0;
    // The openai client ends the iteration quietly once its request is aborted.
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content && ++chunks === 2) controller.abort();
    }
    expect(chunks).toBe(2);
    const next = await main.client.chat.completions.create({ model: 'random', messages: withImage('What is on the screen?'), ...greedy });
    expect(next.choices[0]!.message.content).toBe((await localAnswer('What is on the screen?')).text);
    const [cancelled, served] = main.records.slice(before);
    expect(cancelled!.finishReason).toBeUndefined();
    expect(cancelled!.answer.stats.stopReason).toBe('cancelled');
    expect(cancelled!.answer.stats.generatedTokens).toBeLessThan(8000);
    expect(served!.finishReason).toBe('length');
    expect(main.server.queue.busy).toBe(false);
  });
});

describe('the API key', () => {
  let keyed: RunningServer;
  beforeAll(async () => {
    keyed = await startServer({ model: scripted, apiKey: 'sk-test-right-key' });
  });
  afterAll(() => keyed?.close());

  it('is required when set: none and a wrong one get 401, the right one an answer', async () => {
    const none = await raw(keyed.url, '/models');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(none.body.error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key', message: expect.stringMatching(/^No API key was sent/) });

    const wrong = new OpenAI({ baseURL: keyed.url, apiKey: 'sk-test-wrong-key', maxRetries: 0 });
    const refused = await wrong.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((refused as InstanceType<typeof OpenAI.AuthenticationError>).status).toBe(401);
    expect((refused as InstanceType<typeof OpenAI.AuthenticationError>).message).toMatch(/The API key is wrong/);
    const prefix = new OpenAI({ baseURL: keyed.url, apiKey: 'sk-test-right-ke', maxRetries: 0 });
    await expect(prefix.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);

    const answer = await keyed.client.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: 'Hi' }] });
    expect(answer.choices[0]!.message.content).toBe('Hello world. Goodbye now');
    expect((await keyed.client.models.list()).data[0]!.id).toBe('scripted');
  });
});
