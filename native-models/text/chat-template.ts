import { Template } from '@huggingface/jinja';
import { ScreenAskError, firstLine } from '../model/errors.js';
import type { SpecialTokens } from './tokenizer.js';

export type ChatContent = { type: 'text'; text: string } | { type: 'image' };

export interface ChatMessage {
  role: 'user' | 'assistant' | 'system';
  content: ChatContent[];
}

export interface RenderOptions {
  /** Append the assistant turn's opening (e.g. `Assistant:`) so the model continues as the assistant. */
  addGenerationPrompt: boolean;
  specialTokens?: SpecialTokens;
}

// Parsing is the costly part and a model uses one template for its whole life.
const compiled = new Map<string, Template>();

function compile(template: string): Template {
  let t = compiled.get(template);
  if (t === undefined) {
    try {
      t = new Template(template);
    } catch (error) {
      throw new ScreenAskError(`The model's chat template does not parse (${firstLine(error)}): fix or re-download it.`, {
        cause: error,
      });
    }
    compiled.set(template, t);
  }
  return t;
}

/**
 * Renders a conversation the way transformers.js's `apply_chat_template(…, { tokenize: false })` does: the template
 * sees `messages`, `add_generation_prompt` and the special token strings as `bos_token`, `eos_token`, ….
 */
export function renderChatTemplate(template: string, messages: readonly ChatMessage[], opts: RenderOptions): string {
  const t = compile(template);
  const special: Record<string, string> = {};
  const { bos, eos, pad, unk } = opts.specialTokens ?? {};
  if (bos) special.bos_token = bos;
  if (eos) special.eos_token = eos;
  if (pad) special.pad_token = pad;
  if (unk) special.unk_token = unk;
  try {
    return t.render({ messages, add_generation_prompt: opts.addGenerationPrompt, ...special });
  } catch (error) {
    throw new ScreenAskError(
      `The model's chat template failed to render ${messages.length} message(s): ${firstLine(error)}.`,
      { cause: error },
    );
  }
}
