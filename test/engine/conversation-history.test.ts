/** Conversations that start from given turns (a system message, an exchange held elsewhere): startConversation({ history }). */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type ChatMessage, type Model } from '../../native-models/index.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { collectAnswer } from '../support/answers.js';
import { writeScreenshotLike } from '../support/images.js';

let root: string;
let image: string;
let model: Model;
const greedy = { maxNewTokens: 8, temperature: 0 } as const;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-history-'));
  await writeSmolVlmModel(path.join(root, 'model'), { seed: 8, precisions: ['fp32'] });
  image = await writeScreenshotLike(path.join(root, 'screen.png'), 800, 600);
  model = await loadModel(path.join(root, 'model'), { precision: 'fp32' });
});

afterAll(async () => {
  await model?.dispose();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('a conversation started from a history', () => {
  it('answers a follow-up exactly as the conversation that asked those turns itself', async () => {
    const asked = model.startConversation({ image, detail: 'low' });
    const first = await collectAnswer(asked.ask('What is on the screen?', greedy));
    const second = await collectAnswer(asked.ask('And the title?', greedy));

    const history: ChatMessage[] = [
      { role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'What is on the screen?' }] },
      { role: 'assistant', content: [{ type: 'text', text: first.text }] },
    ];
    const given = model.startConversation({ image, detail: 'low', history });
    const continued = await collectAnswer(given.ask('And the title?', greedy));
    expect(continued.promptTokenIds).toEqual(second.promptTokenIds);
    expect(continued.tokenIds).toEqual(second.tokenIds);
    expect(continued.stats.imageTokens).toBe(64);
    expect(given.history.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
  });

  it('puts a system message before the first question, which still carries the image', async () => {
    const plain = await collectAnswer(model.startConversation({ image, detail: 'low' }).ask('Describe it.', greedy));
    const system = model.startConversation({ image, detail: 'low', history: [{ role: 'system', content: [{ type: 'text', text: 'Answer in one word.' }] }] });
    const answer = await collectAnswer(system.ask('Describe it.', greedy));
    // The user turn and the generation prompt are the same tokens, after the system turn's.
    expect(answer.promptTokenIds.length).toBeGreaterThan(plain.promptTokenIds.length);
    expect(answer.promptTokenIds.slice(-(plain.promptTokenIds.length - 1))).toEqual(plain.promptTokenIds.slice(1));
    expect(answer.stats.imageTokens).toBe(64);
    expect(system.history[1]!.content[0]).toEqual({ type: 'image' });
  });

  it('copies the history: changing the caller\'s array afterwards changes nothing', async () => {
    const history: ChatMessage[] = [{ role: 'system', content: [{ type: 'text', text: 'Be brief.' }] }];
    const conversation = model.startConversation({ history });
    history[0]!.content[0] = { type: 'text', text: 'Be verbose.' };
    history.push({ role: 'user', content: [{ type: 'text', text: 'extra' }] });
    expect(conversation.history).toEqual([{ role: 'system', content: [{ type: 'text', text: 'Be brief.' }] }]);
  });

  it.each<[string, readonly ChatMessage[], boolean, RegExp]>([
    ['two image parts', [
      { role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'a' }] },
      { role: 'user', content: [{ type: 'image' }] },
    ], true, /more than one image part/],
    ['an image in an assistant message', [{ role: 'assistant', content: [{ type: 'image' }] }], true, /only a user message can hold the image/],
    ['an image part without an image', [{ role: 'user', content: [{ type: 'image' }] }], false, /conversation has no image/],
    ['an unknown role', [{ role: 'tool' as ChatMessage['role'], content: [{ type: 'text', text: 'x' }] }], false, /role "tool": use system, user or assistant/],
    ['an empty message', [{ role: 'user', content: [] }], false, /has no content/],
  ])('refuses %s in one line', (_, history, withImage, message) => {
    expect(() => model.startConversation({ ...(withImage ? { image } : {}), history })).toThrow(message);
  });
});
