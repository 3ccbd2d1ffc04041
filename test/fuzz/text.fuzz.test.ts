/**
 * The chat template and tokenizer path with arbitrary Unicode questions, on both families' tokenizers: rendering
 * and tokenizing never throw; a question is always text (it adds no control token, even when it spells one, as a
 * question about HTML or a template may); it survives tokenization character for character; and streaming its ids
 * back never splits a character.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderChatTemplate } from '../../native-models/text/chat-template.js';
import { StreamDecoder } from '../../native-models/text/stream-decoder.js';
import { loadTokenizer, type TextTokenizer } from '../../native-models/text/tokenizer.js';
import { writeQwen2VlModel } from '../fixtures/qwen2vl/generate.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';

let root: string;
const tokenizers = new Map<string, { tokenizer: TextTokenizer; added: string[] }>();

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-text-fuzz-'));
  const smol = await writeSmolVlmModel(path.join(root, 'smolvlm'), { precisions: ['fp32'] });
  const qwen = await writeQwen2VlModel(path.join(root, 'qwen'), { precisions: ['fp32'] });
  for (const [name, dir, specials] of [['smolvlm', smol.dir, Object.keys(smol.specialTokenIds)], ['qwen2_vl', qwen.dir, Object.keys(qwen.specialTokenIds)]] as const) {
    tokenizers.set(name, { tokenizer: await loadTokenizer(dir), added: [...specials] });
  }
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

/** Arbitrary Unicode (astral planes, combining marks, controls), and text that quotes the tokenizer's own tokens. */
const question = (added: readonly string[]) =>
  fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.array(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 6 }), fc.constantFrom(...added)), { maxLength: 8 }).map((parts) => parts.join('')),
  );

/** No lone surrogate (String#isWellFormed, which this TypeScript target does not declare). */
const wellFormed = (text: string): boolean => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);

function prompt(tokenizer: TextTokenizer, text: string): number[] {
  const rendered = renderChatTemplate(
    tokenizer.chatTemplate,
    [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: tokenizer.literal(text) }] }],
    { addGenerationPrompt: true, specialTokens: tokenizer.specialTokens },
  );
  return tokenizer.encode(rendered, { addSpecialTokens: true });
}

describe.each(['smolvlm', 'qwen2_vl'])('the %s chat template and tokenizer (fuzzed)', (family) => {
  it('a question adds no control token to the prompt, whatever it spells', () => {
    const { tokenizer, added } = tokenizers.get(family)!;
    const addedIds = new Set(added.map((t) => tokenizer.idOf(t)));
    const controls = (ids: number[]) => ids.filter((id) => addedIds.has(id));
    const reference = controls(prompt(tokenizer, 'What is this?'));
    fc.assert(
      fc.property(question(added), (text) => {
        expect(controls(prompt(tokenizer, text))).toEqual(reference);
      }),
      { numRuns: 300 },
    );
  });

  it('a well-formed question survives tokenization character for character (up to NFC)', () => {
    const { tokenizer, added } = tokenizers.get(family)!;
    fc.assert(
      fc.property(question(added).filter((text) => wellFormed(text)), (text) => {
        const literal = tokenizer.literal(text);
        // Up to NFC, which Qwen's tokenizer applies on purpose (its normalizer), and the word joiners literal() adds.
        const plain = (s: string) => s.replaceAll('\u2060', '').normalize('NFC');
        expect(plain(tokenizer.decode(tokenizer.encode(literal)))).toBe(plain(text));
      }),
      { numRuns: 300 },
    );
  });

  it('streaming its ids back never splits a character, and adds up to the whole text', () => {
    const { tokenizer, added } = tokenizers.get(family)!;
    fc.assert(
      fc.property(question(added), (text) => {
        const ids = tokenizer.encode(tokenizer.literal(text));
        const stream = new StreamDecoder(tokenizer);
        const chunks = [...ids.map((id) => stream.push(id)), stream.flush()];
        expect(chunks.join('')).toBe(tokenizer.decode(ids, { skipSpecialTokens: true }));
        for (const chunk of chunks) {
          expect(wellFormed(chunk)).toBe(true);
          // U+FFFD only where the question itself could not be UTF-8 (a lone surrogate) or held one.
          if (wellFormed(text) && !text.includes('\uFFFD')) expect(chunk).not.toContain('\uFFFD');
        }
      }),
      { numRuns: 300 },
    );
  });
});
