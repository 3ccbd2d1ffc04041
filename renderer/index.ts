// A deliberately small UI (the full one is another issue): #ask (question + streamed answer), #overlay (drag a
// rectangle to ask about a region), #settings (the raw settings, edited as JSON). Model output is only ever written with
// textContent, never as HTML, so an answer cannot inject markup or script.
import { STREAM_PORT_MESSAGE } from '../electron/shared/ipc-channels.js';
import type { AppStatus, ScreenAskApi, StreamMessage } from '../electron/shared/ipc.js';

declare global {
  interface Window {
    readonly screenask: ScreenAskApi;
  }
}

const api = window.screenask;
const root = document.getElementById('app') as HTMLElement;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}): HTMLElementTagNameMap[K] {
  return Object.assign(document.createElement(tag), props);
}

/** Stream ports arrive from the preload by window.postMessage, keyed by ask id. */
const portWaiters = new Map<string, (port: MessagePort) => void>();
window.addEventListener('message', (event: MessageEvent) => {
  const data = event.data as { type?: unknown; askId?: unknown } | null;
  if (event.source !== window || data?.type !== STREAM_PORT_MESSAGE || typeof data.askId !== 'string') return;
  const port = event.ports[0];
  if (!port) return;
  const waiter = portWaiters.get(data.askId);
  if (waiter) {
    portWaiters.delete(data.askId);
    waiter(port);
  } else port.close();
});

function askView(): void {
  const status = el('div', { className: 'status', textContent: 'Starting…' });
  const form = el('form');
  const question = el('textarea', { rows: 3, placeholder: 'Ask about the screen…' });
  const answer = el('pre');
  const error = el('div', { className: 'error' });
  form.append(question, el('button', { type: 'submit', textContent: 'Ask' }));
  root.append(status, form, answer, error);
  let captureId: string | undefined;
  let lastAskId: string | undefined;

  void api.subscribeStatus((s: AppStatus) => {
    status.textContent = `${s.model.name}: ${s.model.state}${s.hotkey.message ? ` · ${s.hotkey.message}` : ''}`;
  });
  api.onTrigger((trigger) => {
    captureId = trigger.captureId;
    lastAskId = undefined;
    answer.textContent = '';
    status.dataset.capture = `${trigger.width}×${trigger.height}`;
    question.focus();
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = question.value.trim();
    if (!text) return;
    error.textContent = '';
    answer.textContent = '';
    // Register for the port before invoking: the port can arrive before invoke() resolves.
    let resolvePort!: (port: MessagePort) => void;
    const portPromise = new Promise<MessagePort>((resolve) => (resolvePort = resolve));
    const request = lastAskId ? api.followUp({ askId: lastAskId, question: text }) : api.ask({ question: text, ...(captureId ? { captureId } : {}) });
    request
      .then(async ({ askId }) => {
        lastAskId ??= askId;
        portWaiters.set(askId, resolvePort);
        const port = await portPromise;
        port.onmessage = (m: MessageEvent<StreamMessage>) => {
          const msg = m.data;
          if (msg.type === 'token') answer.textContent += msg.text;
          else if (msg.type === 'error') error.textContent = msg.message;
          if (msg.type === 'done' || msg.type === 'error') port.close();
        };
        port.start();
      })
      .catch((e: unknown) => (error.textContent = e instanceof Error ? e.message : String(e)));
    question.value = '';
  });
}

function overlayView(): void {
  document.body.classList.add('overlay');
  const box = el('div', { className: 'selection' });
  let start: { x: number; y: number } | undefined;
  const rect = (e: MouseEvent) => {
    const s = start ?? { x: e.clientX, y: e.clientY };
    return { x: Math.min(s.x, e.clientX), y: Math.min(s.y, e.clientY), width: Math.abs(e.clientX - s.x), height: Math.abs(e.clientY - s.y) };
  };
  window.addEventListener('mousedown', (e) => {
    start = { x: e.clientX, y: e.clientY };
    root.append(box);
  });
  window.addEventListener('mousemove', (e) => {
    if (!start) return;
    const r = rect(e);
    Object.assign(box.style, { left: `${r.x}px`, top: `${r.y}px`, width: `${r.width}px`, height: `${r.height}px` });
  });
  window.addEventListener('mouseup', (e) => {
    const r = rect(e);
    start = undefined;
    // Client coordinates are DIPs relative to the overlay, which covers exactly the captured display.
    if (r.width >= 4 && r.height >= 4) void api.capture({ mode: 'region', region: r }).catch(() => window.close());
  });
  window.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') window.close();
  });
}

function settingsView(): void {
  const text = el('textarea', { rows: 18 });
  const message = el('div', { className: 'status' });
  const save = el('button', { textContent: 'Save' });
  root.append(text, save, message);
  void api.getSettings().then((s) => (text.value = JSON.stringify(s, null, 2)));
  save.addEventListener('click', () => {
    let patch: unknown;
    try {
      patch = JSON.parse(text.value);
    } catch {
      message.textContent = 'Not valid JSON';
      return;
    }
    void api
      .setSettings(patch)
      .then((result) => (message.textContent = JSON.stringify(result)))
      .catch((e: unknown) => (message.textContent = e instanceof Error ? e.message : String(e)));
  });
}

const view = location.hash.slice(1);
if (view === 'overlay') overlayView();
else if (view === 'settings') settingsView();
else askView();
