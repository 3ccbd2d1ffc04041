// Turns a conversation starts from: a system message, or a whole exchange that happened elsewhere (an API client sends
// the conversation so far with every request). The conversation then continues exactly as if it had asked them itself.
import { ScreenAskError } from '../model/errors.js';
import type { ChatContent, ChatMessage } from '../text/chat-template.js';

const roles = new Set<string>(['system', 'user', 'assistant']);

export function holdsImage(messages: readonly ChatMessage[]): boolean {
  return messages.some((m) => m.content.some((c) => c.type === 'image'));
}

/**
 * Checks the turns given to `startConversation({ history })` and copies them (the caller may reuse its array). The
 * engine holds one image per conversation: at most one image part, in a user message, and only when the
 * conversation has an image; without one in the history, the image goes with the first question, as usual.
 */
export function startingTurns(history: readonly ChatMessage[] | undefined, hasImage: boolean): ChatMessage[] {
  if (history === undefined) return [];
  if (!Array.isArray(history)) throw new ScreenAskError('A conversation history is an array of messages ({ role, content }).');
  let images = 0;
  const turns = history.map((message, i): ChatMessage => {
    const where = `History message ${i + 1}`;
    if (!roles.has(message?.role)) {
      throw new ScreenAskError(`${where} has role ${JSON.stringify(message?.role)}: use system, user or assistant.`);
    }
    if (!Array.isArray(message.content) || message.content.length === 0) {
      throw new ScreenAskError(`${where} has no content: give it at least one text part.`);
    }
    const content = (message.content as readonly ChatContent[]).map((part: ChatContent): ChatContent => {
      if (part?.type === 'text' && typeof part.text === 'string') return { type: 'text', text: part.text };
      if (part?.type !== 'image') throw new ScreenAskError(`${where} has a part that is neither { type: 'text', text } nor { type: 'image' }.`);
      if (message.role !== 'user') throw new ScreenAskError(`${where} (${message.role}) has an image: only a user message can hold the image.`);
      if (!hasImage) throw new ScreenAskError(`${where} has an image part, but the conversation has no image: pass it as the image option.`);
      if (++images > 1) throw new ScreenAskError('The history holds more than one image part: a conversation has one image.');
      return { type: 'image' };
    });
    return { role: message.role, content };
  });
  return turns;
}
