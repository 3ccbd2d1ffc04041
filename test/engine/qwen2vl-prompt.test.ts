/**
 * Qwen2-VL prompts: the chat template's `<|vision_start|><|image_pad|><|vision_end|>` with each pad expanded to the
 * image's t·h·w/4 tokens, tokenized as transformers.js 4.3.1's Qwen2VLProcessor does (one and several images).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AutoProcessor, RawImage } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFamily } from '../../native-models/families/registry.js';
import type { ModelFamily } from '../../native-models/families/family.js';
import { expandImagePads, IMAGE_PAD } from '../../native-models/families/qwen2vl/prompt.js';
import { QWEN2VL_PIXEL_BUDGETS } from '../../native-models/families/qwen2vl/preprocess.js';
import { readModelConfigs } from '../../native-models/model/config.js';
import { renderChatTemplate, type ChatMessage } from '../../native-models/text/chat-template.js';
import { loadTokenizer, type TextTokenizer } from '../../native-models/text/tokenizer.js';
import { writeQwen2VlModel, type Qwen2VlFixtureInfo } from '../fixtures/qwen2vl/generate.js';

let root: string;
let info: Qwen2VlFixtureInfo;
let family: ModelFamily;
let tokenizer: TextTokenizer;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- transformers.js types its processor loosely
let processor: any;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-qwen2vl-prompt-'));
  info = await writeQwen2VlModel(path.join(root, 'model'), { family: 'qwen2_5_vl', graphs: [] });
  tokenizer = await loadTokenizer(info.dir);
  family = await createFamily({ dir: info.dir, configs: await readModelConfigs(info.dir), tokenizer });
  processor = await AutoProcessor.from_pretrained(info.dir, { local_files_only: true });
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

function gradient(width: number, height: number, seed: number): { data: Uint8Array; width: number; height: number } {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * seed + (i >> 7)) & 255;
  return { data, width, height };
}

describe('Qwen2-VL prompt expansion', () => {
  it('expands each pad, in order, and refuses a placeholder count that differs from the images', () => {
    const prompt = `a<|vision_start|>${IMAGE_PAD}<|vision_end|>b<|vision_start|>${IMAGE_PAD}<|vision_end|>c`;
    expect(expandImagePads(prompt, [2, 3])).toBe(
      `a<|vision_start|>${IMAGE_PAD.repeat(2)}<|vision_end|>b<|vision_start|>${IMAGE_PAD.repeat(3)}<|vision_end|>c`,
    );
    expect(expandImagePads('no image', [])).toBe('no image');
    expect(() => expandImagePads(prompt, [2])).toThrow(/2 <\|image_pad\|> placeholder\(s\) but 1 image\(s\)/);
    expect(() => expandImagePads(prompt, [2, 0])).toThrow(/Invalid image token count 0/);
  });

  it('one screenshot-sized image: input_ids identical to transformers.js', async () => {
    // One image only: transformers.js 4.3.1's image processor takes a second image for a second temporal frame.
    const images = [gradient(1920, 1080, 7)];
    const messages: ChatMessage[] = [
      { role: 'user', content: [...images.map(() => ({ type: 'image' as const })), { type: 'text', text: "What's on my screen?" }] },
    ];
    const rendered = renderChatTemplate(tokenizer.chatTemplate, messages, { addGenerationPrompt: true, specialTokens: tokenizer.specialTokens });
    const prepared = await Promise.all(images.map((image) => family.prepareImage(image, 'low')));
    const ours = tokenizer.encode(family.expandPrompt(rendered, prepared), { addSpecialTokens: true });

    processor.image_processor.max_pixels = QWEN2VL_PIXEL_BUDGETS.low;
    const text = processor.apply_chat_template(messages, { add_generation_prompt: true });
    expect(text).toBe(rendered);
    const raws = images.map((image) => new RawImage(new Uint8ClampedArray(image.data), image.width, image.height, 3));
    const inputs = await processor(text, raws);
    expect(ours).toEqual(Array.from(inputs.input_ids.data as BigInt64Array, Number));
    const grids = (inputs.image_grid_thw.tolist() as bigint[][]).map((g) => g.map(Number));
    expect(prepared.map((p) => (p.layout as { grid: number[] }).grid)).toEqual(grids);
    expect(ours.filter((id) => id === info.ids.imagePad)).toHaveLength(prepared.reduce((n, p) => n + p.tokenCount, 0));
  });

  it('two images of different sizes: each pad run has its own image’s length, in order (no reference for this)', async () => {
    const images = [gradient(640, 360, 3), gradient(300, 900, 5)];
    const prepared = await Promise.all(images.map((image) => family.prepareImage(image, 'high')));
    expect(prepared.map((p) => p.tokenCount)).toEqual([299, 11 * 32]);
    const ids = tokenizer.encode(family.expandPrompt(`x<|vision_start|>${IMAGE_PAD}<|vision_end|>y<|vision_start|>${IMAGE_PAD}<|vision_end|>`, prepared));
    const runs: number[] = [];
    ids.forEach((id, i) => {
      if (id !== info.ids.imagePad) return;
      if (ids[i - 1] === info.ids.imagePad) runs[runs.length - 1]!++;
      else runs.push(1);
    });
    expect(runs).toEqual([299, 352]);
  });
});
