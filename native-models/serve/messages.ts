// From OpenAI chat messages to what the engine asks: the turns before the last (the conversation's history), the last
// user turn's text (the question), and the one image.
import type { ImageDetail } from '../families/family.js';
import type { ChatMessage } from '../text/chat-template.js';
import { badRequest } from './errors.js';
import { parseImageUrl, type InlineImage } from './images.js';
import type { RequestMessage } from './schema.js';

export interface ConversationPlan {
  /** The turns before the last, as the engine reads them. */
  readonly history: ChatMessage[];
  readonly question: string;
  readonly image: InlineImage | undefined;
  /** True when the image came with the question (the last message) rather than earlier. */
  readonly imageInQuestion: boolean;
  readonly detail: ImageDetail;
  /**
   * One string per message, the image as its hash and detail: equal keys mean the same conversation. A follow-up
   * continues a kept conversation when its keys are that conversation's plus one user turn (see conversation-keeper.ts).
   */
  readonly keys: string[];
}

export interface PlanOptions {
  /** The detail of an image sent without one, or with `auto`. */
  readonly defaultDetail: ImageDetail;
  readonly maxImageBytes: number;
}

/** A turn's key: role, text and image, in one string. */
export function turnKey(role: ChatMessage['role'], text: string, image?: { sha256: string; detail: ImageDetail }): string {
  return JSON.stringify([role, text, image ? `${image.sha256}:${image.detail}` : null]);
}

/**
 * The engine holds one image per conversation, placed before the text of its user turn (as the families' templates
 * expect); a turn's text parts are joined with newlines. The same mapping serves a first request and its follow-ups,
 * so a conversation continued on the server reads exactly the prompt a fresh one would.
 */
export function planConversation(messages: readonly RequestMessage[], options: PlanOptions): ConversationPlan {
  const last = messages.at(-1)!;
  if (last.role !== 'user') {
    throw badRequest(`The last message is from the ${last.role}: end messages with the user's question, which the server answers.`, `messages[${messages.length - 1}].role`);
  }
  let image: InlineImage | undefined;
  let detail = options.defaultDetail;
  const turns: ChatMessage[] = [];
  const keys: string[] = [];
  for (const [i, message] of messages.entries()) {
    const role = message.role === 'developer' ? 'system' : message.role;
    if (message.content === null || message.content === undefined) {
      throw badRequest(`messages[${i}] has no content (tool calls are not supported): give every message its text.`, `messages[${i}].content`);
    }
    const parts = typeof message.content === 'string' ? [{ type: 'text' as const, text: message.content }] : message.content;
    const texts: string[] = [];
    let here: InlineImage | undefined;
    for (const [j, part] of parts.entries()) {
      const param = `messages[${i}].content[${j}]`;
      if (part.type === 'text') texts.push(part.text);
      else if (part.type === 'refusal') texts.push(part.refusal);
      else {
        if (role !== 'user') throw badRequest(`${param} is an image in a ${message.role} message: only user messages may hold the image.`, param);
        if (image) {
          throw badRequest(
            `${param} is a second image: the engine holds one image per conversation (the first is ${image.param}); ask about another picture in a new conversation.`,
            param,
            'too_many_images',
          );
        }
        image = here = parseImageUrl(part.image_url.url, param, options.maxImageBytes);
        if (part.image_url.detail === 'low' || part.image_url.detail === 'high') detail = part.image_url.detail;
      }
    }
    const text = texts.join('\n');
    turns.push({ role, content: [...(here ? [{ type: 'image' as const }] : []), { type: 'text', text }] });
    keys.push(turnKey(role, text, here ? { sha256: here.sha256, detail } : undefined));
  }
  const question = turns.pop()!;
  const text = question.content.find((c) => c.type === 'text');
  const imageInQuestion = question.content.some((c) => c.type === 'image');
  return { history: turns, question: text?.type === 'text' ? text.text : '', image, imageInQuestion, detail, keys };
}
