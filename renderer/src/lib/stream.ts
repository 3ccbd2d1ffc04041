// Reads one answer's stream port. The port carries StreamMessages from the main process; this checks their shape (a
// port is a boundary like any other) and closes the port once the answer is over.
import type { AnswerStatsView, ServerAnswerStatsView, StreamMessage } from '../../../electron/shared/ipc.js';

export interface StreamHandlers {
  progress(stage: string): void;
  warning(message: string): void;
  token(text: string): void;
  done(stats: AnswerStatsView | ServerAnswerStatsView | undefined): void;
  error(message: string): void;
}

function parse(data: unknown): StreamMessage | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const m = data as Record<string, unknown>;
  switch (m.type) {
    case 'progress':
      return typeof m.stage === 'string' ? { type: 'progress', stage: m.stage } : undefined;
    case 'warning':
    case 'error':
      return typeof m.message === 'string' ? { type: m.type, message: m.message } : undefined;
    case 'token':
      return typeof m.text === 'string' ? { type: 'token', text: m.text } : undefined;
    case 'done':
      return typeof m.stats === 'object' && m.stats !== null
        ? { type: 'done', stats: m.stats as AnswerStatsView | ServerAnswerStatsView }
        : { type: 'done' };
    default:
      return undefined;
  }
}

/** Attaches the handlers and starts the port; returns a function that detaches and closes it early. */
export function readStream(port: MessagePort, handlers: StreamHandlers): () => void {
  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    port.removeEventListener('message', onMessage);
    port.close();
  };
  function onMessage(event: MessageEvent) {
    const message = parse(event.data);
    if (!message || !open) return;
    switch (message.type) {
      case 'progress':
        return handlers.progress(message.stage);
      case 'warning':
        return handlers.warning(message.message);
      case 'token':
        return handlers.token(message.text);
      case 'done':
        close();
        return handlers.done(message.stats);
      case 'error':
        close();
        return handlers.error(message.message);
    }
  }
  port.addEventListener('message', onMessage);
  // addEventListener (unlike onmessage) does not start delivery by itself.
  port.start();
  return close;
}
