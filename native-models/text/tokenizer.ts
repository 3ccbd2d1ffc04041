import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { z } from 'zod';
import { ScreenAskError } from '../model/errors.js';
import { readModelJson } from '../model/json-files.js';

/** The engine's view of a model's tokenizer: only what prompting and streaming need. */
export interface TextTokenizer {
  /**
   * Token ids of an already rendered prompt. Special tokens written in the text (`<image>`, `<|im_start|>`) always
   * become their single ids. By default nothing is prepended or appended (the chat template writes any BOS itself),
   * as transformers.js's `apply_chat_template` does; `addSpecialTokens: true` runs the tokenizer's post-processor, as
   * its Idefics3 processor does (identical for SmolVLM, whose ByteLevel post-processor adds nothing).
   */
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  /** Text of `ids`; with `skipSpecialTokens`, special tokens are left out. Ids the tokenizer lacks have no text. */
  decode(ids: readonly number[], opts?: { skipSpecialTokens?: boolean }): string;
  /**
   * `text` as the user wrote it, made safe to place in a prompt: every added token's string in it (`<image>`,
   * `<|im_end|>`, `<end_of_utterance>`) gets a word joiner (U+2060) after its first character, so it is read as
   * text. Without this, a question quoting `<image>` would claim an image slot (and fail), and one quoting
   * `<end_of_utterance>` would end the user's turn early. (The tokenizer library matches added tokens anywhere; it has
   * no switch to read part of the input as plain text.)
   */
  literal(text: string): string;
  /** Id of one token (regular or added), e.g. `idOf('<image>')`. */
  idOf(token: string): number | undefined;
  /** Highest token id + 1, added tokens included. */
  readonly vocabSize: number;
  readonly chatTemplate: string;
  /** Token strings from tokenizer_config.json, as chat templates see them (`bos_token`, …). */
  readonly specialTokens: SpecialTokens;
}

export interface SpecialTokens {
  bos?: string;
  eos?: string;
  pad?: string;
  unk?: string;
}

// HF writes special tokens either as a plain string or as a serialized AddedToken ({ content, … }).
const tokenSpec = z
  .union([z.string(), z.looseObject({ content: z.string() }), z.null()])
  .optional()
  .transform((v) => (v == null ? undefined : typeof v === 'string' ? v : v.content));

// A chat template is a string, or a list of named templates of which "default" is the one to use.
const chatTemplateSpec = z.union([z.string(), z.array(z.object({ name: z.string(), template: z.string() }))]);

const tokenizerJsonSchema = z.looseObject({
  model: z.looseObject({ type: z.string().optional() }),
  added_tokens: z.array(z.looseObject({ id: z.number().int().nonnegative(), content: z.string() })).default([]),
});

const tokenizerConfigSchema = z.looseObject({
  chat_template: chatTemplateSpec.optional(),
  bos_token: tokenSpec,
  eos_token: tokenSpec,
  pad_token: tokenSpec,
  unk_token: tokenSpec,
});

const chatTemplateJsonSchema = z.looseObject({ chat_template: chatTemplateSpec });

function pickTemplate(spec: z.infer<typeof chatTemplateSpec> | undefined): string | undefined {
  if (spec === undefined || typeof spec === 'string') return spec;
  return spec.find((t) => t.name === 'default')?.template;
}

/**
 * Where the chat template comes from, first match wins: `chat_template.jinja` (how current transformers saves it),
 * then `chat_template.json` (what processors such as SmolVLM's ship), then `tokenizer_config.json`'s field.
 */
async function findChatTemplate(dir: string, fromConfig: string | undefined): Promise<string> {
  try {
    return await readFile(path.join(dir, 'chat_template.jinja'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ScreenAskError(`Cannot read chat_template.jinja in ${dir}: ${(error as Error).message}.`, { cause: error });
    }
  }
  const json = await readModelJson(dir, 'chat_template.json', chatTemplateJsonSchema, { optional: true });
  const template = pickTemplate(json?.chat_template) ?? fromConfig;
  if (template === undefined || template.trim() === '') {
    throw new ScreenAskError(
      `Model in ${dir} has no chat template: add "chat_template" to tokenizer_config.json or ship chat_template.json (download the instruct model's files again).`,
    );
  }
  return template;
}

export async function loadTokenizer(dir: string): Promise<TextTokenizer> {
  const tokenizerJson = (await readModelJson(dir, 'tokenizer.json', tokenizerJsonSchema))!;
  const config = (await readModelJson(dir, 'tokenizer_config.json', tokenizerConfigSchema))!;
  const chatTemplate = await findChatTemplate(dir, pickTemplate(config.chat_template));

  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(tokenizerJson, config);
  } catch (error) {
    throw new ScreenAskError(
      `Cannot build the tokenizer from ${path.join(dir, 'tokenizer.json')} (${(error as Error).message}): download it again.`,
      { cause: error },
    );
  }
  return new HfTextTokenizer(tokenizer, tokenizerJson.added_tokens.map((t) => t.content), chatTemplate, {
    bos: config.bos_token,
    eos: config.eos_token,
    pad: config.pad_token,
    unk: config.unk_token,
  });
}

const WORD_JOINER = '\u2060';

class HfTextTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  /** Every added token's string, longest first (so `<image>` never pre-empts a longer token that contains it). */
  private readonly addedTokens: RegExp | undefined;

  constructor(
    private readonly tokenizer: Tokenizer,
    addedTokens: readonly string[],
    readonly chatTemplate: string,
    readonly specialTokens: SpecialTokens,
  ) {
    let max = -1;
    for (const id of tokenizer.get_vocab(true).values()) max = Math.max(max, id);
    this.vocabSize = max + 1;
    const strings = [...new Set(addedTokens.filter((t) => [...t].length > 1))].sort((a, b) => b.length - a.length);
    this.addedTokens = strings.length ? new RegExp(strings.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'gu') : undefined;
  }

  literal(text: string): string {
    if (!this.addedTokens) return text;
    return text.replace(this.addedTokens, (token) => {
      const [first = ''] = token;
      return `${first}${WORD_JOINER}${token.slice(first.length)}`;
    });
  }

  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: opts.addSpecialTokens ?? false }).ids;
  }

  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    // LM heads are often padded past the tokenizer (SmolVLM: 49,280 rows), so a model can emit ids with no text.
    // They decode to nothing; the library would map them to the (often absent) unk token and fail obscurely.
    const known = ids.filter((id) => Number.isInteger(id) && this.tokenizer.id_to_token(id) !== undefined);
    if (known.length === 0) return ''; // the library throws on an empty list
    return this.tokenizer.decode(known, { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  idOf(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }
}
