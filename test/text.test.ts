import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AutoProcessor, AutoTokenizer, RawImage, env } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandImageTokens, imageTokenCount, type ImageGrid } from '../native-models/families/smolvlm/prompt.js';
import { renderChatTemplate, type ChatMessage } from '../native-models/text/chat-template.js';
import { StreamDecoder } from '../native-models/text/stream-decoder.js';
import { loadTokenizer, type TextTokenizer } from '../native-models/text/tokenizer.js';
import { SMOLVLM_CHAT_TEMPLATE, buildSmolVlmTokenizer } from './fixtures/smolvlm/tokenizer.js';
import { idefics3PreprocessorConfig } from './fixtures/smolvlm/json-files.js';

const IMAGE_SEQ_LEN = 64;
const fixture = buildSmolVlmTokenizer();
let root: string;
let modelDir: string;

function writeModelFiles(dir: string, files: Record<string, unknown>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(path.join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
}

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'screenask-text-'));
  modelDir = path.join(root, 'smolvlm');
  writeModelFiles(modelDir, {
    'tokenizer.json': fixture.tokenizerJson,
    'tokenizer_config.json': fixture.tokenizerConfig,
    'special_tokens_map.json': fixture.specialTokensMap,
    // As SmolVLM ships them, except the resize sizes are scaled down 32× (2048 → 64, 512 → 16) so the reference
    // processor runs in milliseconds; rows/cols follow the same arithmetic, and image_seq_len keeps the real 64.
    'preprocessor_config.json': idefics3PreprocessorConfig(16, 64),
    'processor_config.json': { image_seq_len: IMAGE_SEQ_LEN, processor_class: 'Idefics3Processor' },
  });
  env.allowRemoteModels = false;
  env.localModelPath = root;
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** transformers.js returns int64 tensors; compare as plain numbers. */
function tensorIds(t: { data: ArrayLike<number | bigint> }): number[] {
  return Array.from(t.data, Number);
}

function blankImage(width: number, height: number): RawImage {
  return new RawImage(new Uint8ClampedArray(width * height * 3).fill(128), width, height, 3);
}

const text = (t: string) => ({ type: 'text' as const, text: t });
const image = { type: 'image' as const };

describe('chat template + tokenizer vs transformers.js', () => {
  let ours: TextTokenizer;
  // Typed loosely: only the few reference methods used below matter.
  let refTok: Awaited<ReturnType<typeof AutoTokenizer.from_pretrained>>;

  beforeAll(async () => {
    ours = await loadTokenizer(modelDir);
    refTok = await AutoTokenizer.from_pretrained('smolvlm');
  });

  const render = (messages: ChatMessage[]) =>
    renderChatTemplate(ours.chatTemplate, messages, { addGenerationPrompt: true, specialTokens: ours.specialTokens });

  function refRender(messages: ChatMessage[]): string {
    return refTok.apply_chat_template(messages as never, { add_generation_prompt: true, tokenize: false }) as string;
  }

  function refTemplateIds(messages: ChatMessage[]): number[] {
    const ids = refTok.apply_chat_template(messages as never, {
      add_generation_prompt: true,
      tokenize: true,
      return_tensor: false,
      return_dict: false,
    });
    return ids as unknown as number[];
  }

  async function refProcessorIds(prompt: string, images: RawImage[], splitting: boolean) {
    const processor = await AutoProcessor.from_pretrained('smolvlm');
    const out = await processor(prompt, images, { do_image_splitting: splitting });
    return {
      ids: tensorIds(out.input_ids),
      rows: (out.rows as number[][])[0]!,
      cols: (out.cols as number[][])[0]!,
    };
  }

  it('loads the fixture with its metadata', () => {
    expect(ours.vocabSize).toBe(fixture.vocabSize);
    expect(ours.chatTemplate).toBe(SMOLVLM_CHAT_TEMPLATE);
    expect(ours.specialTokens).toEqual({
      bos: '<|im_start|>',
      eos: '<end_of_utterance>',
      pad: '<|im_end|>',
      unk: '<|endoftext|>',
    });
    expect(ours.idOf('<image>')).toBe(fixture.specialTokenIds['<image>']);
    expect(ours.idOf('<row_6_col_6>')).toBe(fixture.specialTokenIds['<row_6_col_6>']);
    expect(ours.idOf('no such token')).toBeUndefined();
  });

  it('text-only prompt: same string and ids, no BOS added', () => {
    const messages: ChatMessage[] = [{ role: 'user', content: [text('Hello, who are you? é 中文 🙂 2024')] }];
    const prompt = render(messages);
    expect(prompt).toBe('<|im_start|>User: Hello, who are you? é 中文 🙂 2024<end_of_utterance>\nAssistant:');
    expect(prompt).toBe(refRender(messages));
    const ids = ours.encode(prompt);
    expect(ids).toEqual(refTemplateIds(messages));
    // The template writes <|im_start|> itself; the tokenizer adds nothing before or after.
    expect(ids[0]).toBe(fixture.specialTokenIds['<|im_start|>']);
    expect(ids.filter((id) => id === fixture.specialTokenIds['<|im_start|>'])).toHaveLength(1);
    expect(ids.at(-1)).toBe(ours.encode(':')[0]);
  });

  it('one image, not split: matches the Idefics3 processor', async () => {
    const messages: ChatMessage[] = [{ role: 'user', content: [image, text('What is on my screen?')] }];
    const prompt = render(messages);
    expect(prompt).toBe('<|im_start|>User:<image>What is on my screen?<end_of_utterance>\nAssistant:');
    expect(prompt).toBe(refRender(messages));

    const ref = await refProcessorIds(prompt, [blankImage(40, 20)], false);
    expect([ref.rows, ref.cols]).toEqual([[0], [0]]);
    const grids: ImageGrid[] = [{ rows: 0, cols: 0 }];
    const ids = ours.encode(expandImageTokens(prompt, grids, IMAGE_SEQ_LEN));
    expect(ids).toEqual(ref.ids);
    // The processor tokenizes with add_special_tokens true; a ByteLevel post-processor makes that no difference.
    expect(ours.encode(expandImageTokens(prompt, grids, IMAGE_SEQ_LEN), { addSpecialTokens: true })).toEqual(ref.ids);
    const imageId = ours.idOf('<image>');
    expect(ids.filter((id) => id === imageId)).toHaveLength(imageTokenCount(grids[0]!, IMAGE_SEQ_LEN));
  });

  it('one image split 2×4: matches the Idefics3 processor', async () => {
    const messages: ChatMessage[] = [{ role: 'user', content: [image, text('Describe the image.')] }];
    const prompt = render(messages);
    const ref = await refProcessorIds(prompt, [blankImage(40, 20)], true);
    expect([ref.rows, ref.cols]).toEqual([[2], [4]]);
    const grids: ImageGrid[] = [{ rows: 2, cols: 4 }];
    const ids = ours.encode(expandImageTokens(prompt, grids, IMAGE_SEQ_LEN));
    expect(ids).toEqual(ref.ids);
    expect(ids.filter((id) => id === ours.idOf('<image>'))).toHaveLength(9 * IMAGE_SEQ_LEN);
    expect(ids).toContain(fixture.specialTokenIds['<row_2_col_4>']);
  });

  it('multi-turn text-only conversation matches apply_chat_template', () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: [text('You are a helpful assistant.')] },
      { role: 'user', content: [text('Hi!')] },
      { role: 'assistant', content: [text('Hello. How can I help?')] },
      { role: 'user', content: [text('Tell me a joke.')] },
    ];
    const prompt = render(messages);
    expect(prompt).toBe(
      '<|im_start|>System: You are a helpful assistant.<end_of_utterance>\nUser: Hi!<end_of_utterance>\n' +
        'Assistant: Hello. How can I help?<end_of_utterance>\nUser: Tell me a joke.<end_of_utterance>\nAssistant:',
    );
    expect(prompt).toBe(refRender(messages));
    expect(ours.encode(prompt)).toEqual(refTemplateIds(messages));
  });

  it('multi-turn with two split images matches the Idefics3 processor', async () => {
    const messages: ChatMessage[] = [
      { role: 'user', content: [image, text('What is this?')] },
      { role: 'assistant', content: [text(' A chart.')] },
      { role: 'user', content: [image, text('And this one?')] },
    ];
    const prompt = render(messages);
    expect(prompt).toBe(refRender(messages));
    const ref = await refProcessorIds(prompt, [blankImage(40, 20), blankImage(20, 40)], true);
    expect([ref.rows, ref.cols]).toEqual([
      [2, 4],
      [4, 2],
    ]);
    const grids: ImageGrid[] = [
      { rows: 2, cols: 4 },
      { rows: 4, cols: 2 },
    ];
    expect(ours.encode(expandImageTokens(prompt, grids, IMAGE_SEQ_LEN))).toEqual(ref.ids);
  });

  it('decodes like transformers.js, with and without special tokens', () => {
    const prompt = render([{ role: 'user', content: [image, text('Ünïcødé ✓ 中文 🙂')] }]);
    const ids = ours.encode(prompt);
    expect(ours.decode(ids)).toBe(prompt);
    expect(ours.decode(ids)).toBe(refTok.decode(ids));
    expect(ours.decode(ids, { skipSpecialTokens: true })).toBe(refTok.decode(ids, { skip_special_tokens: true }));
    expect(ours.decode(ids, { skipSpecialTokens: true })).toBe('User:Ünïcødé ✓ 中文 🙂\nAssistant:');
    expect(ours.decode([])).toBe('');
    // Ids past the tokenizer (a padded LM head) have no text, and do not disturb the text around them.
    expect(ours.decode([fixture.vocabSize + 5])).toBe('');
    expect(ours.decode([...ids, fixture.vocabSize])).toBe(prompt);
  });
});

describe('expandImageTokens', () => {
  it('writes the exact Idefics3 strings', () => {
    const I = '<image>';
    const F = '<fake_token_around_image>';
    const G = '<global-img>';
    expect(expandImageTokens(`a${I}b`, [{ rows: 0, cols: 0 }], 2)).toBe(`a${F}${G}${I}${I}${F}b`);
    expect(expandImageTokens(`${I}`, [{ rows: 1, cols: 2 }], 1)).toBe(
      `${F}<row_1_col_1>${I}${F}<row_1_col_2>${I}\n\n${F}${G}${I}${F}`,
    );
    expect(expandImageTokens(`x${I}y${I}z`, [{ rows: 2, cols: 1 }, { rows: 0, cols: 0 }], 1)).toBe(
      `x${F}<row_1_col_1>${I}\n${F}<row_2_col_1>${I}\n\n${F}${G}${I}${F}y${F}${G}${I}${F}z`,
    );
    expect(imageTokenCount({ rows: 2, cols: 4 }, 64)).toBe(576);
    expect(imageTokenCount({ rows: 0, cols: 0 }, 64)).toBe(64);
  });

  it('rejects placeholder/image count mismatches and bad grids', () => {
    expect(() => expandImageTokens('no image here', [{ rows: 0, cols: 0 }], 64)).toThrow(
      'The prompt has 0 <image> placeholder(s) but 1 image(s) were given',
    );
    expect(() => expandImageTokens('<image><image>', [{ rows: 0, cols: 0 }], 64)).toThrow(/2 <image> placeholder/);
    expect(() => expandImageTokens('<image>', [{ rows: 0, cols: 3 }], 64)).toThrow(/Invalid image grid 0×3/);
    expect(() => expandImageTokens('<image>', [{ rows: 1, cols: 1 }], 0)).toThrow(/image_seq_len/);
    expect(expandImageTokens('plain text', [], 64)).toBe('plain text');
  });
});

describe('StreamDecoder', () => {
  let tok: TextTokenizer;
  beforeAll(async () => {
    tok = await loadTokenizer(modelDir);
  });

  function stream(ids: readonly number[]): { pieces: string[]; tail: string } {
    const d = new StreamDecoder(tok);
    const pieces = ids.map((id) => d.push(id));
    return { pieces, tail: d.flush() };
  }

  const samples = [
    'The screen shows a terminal.',
    'Café résumé naïve — “quoted” ✓',
    '中文字符和日本語のテキスト',
    'Emoji: 🙂👍🏽👨‍👩‍👧 and flags 🇫🇷🇯🇵',
    'Mixed 12345 中 é 🙂 end',
  ];

  it.each(samples)('never emits U+FFFD and reassembles exactly: %s', (sample) => {
    const ids = tok.encode(sample);
    // Make sure the sample really exercises partial characters: some single token decodes to U+FFFD.
    if (/[^\p{ASCII}]/u.test(sample)) expect(ids.some((id) => tok.decode([id]).includes('\uFFFD'))).toBe(true);
    const { pieces, tail } = stream(ids);
    for (const p of pieces) expect(p).not.toContain('\uFFFD');
    expect(tail).toBe('');
    expect(pieces.join('')).toBe(sample);
    expect(pieces.join('') + tail).toBe(tok.decode(ids, { skipSpecialTokens: true }));
  });

  it('leaves special tokens out of the visible text', () => {
    const ids = tok.encode('Hello é<end_of_utterance>');
    const { pieces, tail } = stream(ids);
    expect(pieces.join('') + tail).toBe('Hello é');
    expect(pieces.at(-1)).toBe('');
  });

  it('flush emits an unfinished character so the whole equals a plain decode', () => {
    const ids = tok.encode('ok 中');
    const cut = ids.slice(0, -1);
    expect(tok.decode(cut)).toMatch(/\uFFFD$/);
    const { pieces, tail } = stream(cut);
    expect(pieces.join('')).not.toContain('\uFFFD');
    expect(tail).toMatch(/\uFFFD$/);
    expect(pieces.join('') + tail).toBe(tok.decode(cut));
  });
});

describe('loadTokenizer errors', () => {
  const dirFor = (name: string, files: Record<string, unknown>): string => {
    const dir = path.join(root, name);
    writeModelFiles(dir, files);
    return dir;
  };
  const base = () => ({
    'tokenizer.json': fixture.tokenizerJson,
    'tokenizer_config.json': fixture.tokenizerConfig,
  });

  it('names a missing tokenizer.json', async () => {
    const { 'tokenizer.json': _omit, ...rest } = base();
    await expect(loadTokenizer(dirFor('no-tokenizer', rest))).rejects.toThrow(/tokenizer\.json is missing in .*no-tokenizer/);
  });

  it('names a missing tokenizer_config.json', async () => {
    const { 'tokenizer_config.json': _omit, ...rest } = base();
    await expect(loadTokenizer(dirFor('no-config', rest))).rejects.toThrow(/tokenizer_config\.json is missing/);
  });

  it('names malformed JSON', async () => {
    const dir = dirFor('bad-json', { ...base(), 'tokenizer_config.json': '{ "chat_template": ' });
    await expect(loadTokenizer(dir)).rejects.toThrow(/tokenizer_config\.json is not valid JSON/);
  });

  it('names a schema violation', async () => {
    const dir = dirFor('bad-schema', { ...base(), 'tokenizer.json': { added_tokens: [] } });
    await expect(loadTokenizer(dir)).rejects.toThrow(/tokenizer\.json is malformed at model/);
  });

  it('says when there is no chat template', async () => {
    const { chat_template: _omit, ...config } = fixture.tokenizerConfig as Record<string, unknown>;
    const dir = dirFor('no-template', { ...base(), 'tokenizer_config.json': config });
    await expect(loadTokenizer(dir)).rejects.toThrow(/has no chat template: add "chat_template"/);
  });

  it('prefers chat_template.json over tokenizer_config.json', async () => {
    const dir = dirFor('template-json', { ...base(), 'chat_template.json': { chat_template: 'JSON {{ bos_token }}' } });
    const tok = await loadTokenizer(dir);
    expect(tok.chatTemplate).toBe('JSON {{ bos_token }}');
    expect(renderChatTemplate(tok.chatTemplate, [], { addGenerationPrompt: false, specialTokens: tok.specialTokens })).toBe(
      'JSON <|im_start|>',
    );
  });

  it('reports templates that fail to parse or render', () => {
    expect(() => renderChatTemplate('{% for %}', [], { addGenerationPrompt: true })).toThrow(
      /chat template does not parse/,
    );
    expect(() =>
      renderChatTemplate('{{ messages[0].content.nope() }}', [{ role: 'user', content: [] }], {
        addGenerationPrompt: true,
      }),
    ).toThrow(/chat template failed to render 1 message\(s\)/);
  });
});
