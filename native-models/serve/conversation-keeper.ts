// The last conversation, kept so that a follow-up reuses its KV cache instead of reading the image and the whole
// exchange again. One model answers one request at a time, so one kept conversation serves the common case: a client
// asking about one capture, turn after turn.
import type { Answer } from '../conversation/answer.js';
import type { Conversation } from '../conversation/conversation.js';
import type { Model } from '../index.js';
import { turnKey, type ConversationPlan } from './messages.js';

export class ConversationKeeper {
  private kept: { readonly keys: readonly string[]; readonly conversation: Conversation } | undefined;

  /**
   * The kept conversation when the request is exactly its messages, its answer as the engine gave it, and one new
   * user turn without an image; otherwise a new conversation from the request's messages (an answer the client
   * trimmed or edited is history the engine never saw, so it is read again).
   */
  take(model: Model, plan: ConversationPlan): { conversation: Conversation; continued: boolean } {
    const kept = this.kept;
    this.kept = undefined; // in use: kept again only once it has answered
    if (
      kept &&
      !plan.imageInQuestion &&
      plan.keys.length === kept.keys.length + 1 &&
      kept.keys.every((key, i) => plan.keys[i] === key)
    ) {
      return { conversation: kept.conversation, continued: true };
    }
    const conversation = model.startConversation({ ...(plan.image ? { image: plan.image.bytes } : {}), detail: plan.detail, history: plan.history });
    return { conversation, continued: false };
  }

  /** Keeps the conversation that just answered `plan`, for a follow-up. */
  keep(conversation: Conversation, plan: ConversationPlan, answer: Answer): void {
    this.kept = { keys: [...plan.keys, turnKey('assistant', answer.text)], conversation };
  }
}
