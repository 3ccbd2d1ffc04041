// The web harness's stand-in for Electron's preload, loaded into the page before the app. It gives the page the same
// `window.screenask` the preload gives it (the same API object, built by electron/preload/api.ts) over an
// ipcRenderer look-alike that speaks HTTP to harness/server.ts, and hands answer streams to the page as real
// MessagePorts posted to the window, as the preload does. It also adds a small toolbar to stand in for the hotkey,
// the tray and the screen.
import { IpcChannel, STREAM_PORT_MESSAGE } from '../electron/shared/ipc-channels.js';
import { createScreenAskApi, type IpcRendererLike } from '../electron/preload/api.js';
import { CLIENT_HEADER, CONFIRM_PATH, EVENTS_PATH, IPC_PATH, SCREEN_PATH, TRIGGER_PATH, type HarnessEvent, type InvokeReply } from './protocol.js';

const clientId = crypto.randomUUID();
const events = new EventSource(`${EVENTS_PATH}?client=${clientId}`);
// Invokes wait for the event stream: a subscribe's first event is sent the moment the server handles it.
const connected = new Promise<void>((resolve) => events.addEventListener('open', () => resolve(), { once: true }));

type Listener = (event: unknown, ...args: unknown[]) => void;
const listeners = new Map<string, Set<Listener>>();
/**
 * The last message of each channel that arrived while no view listened. In the app, the main process sends a trigger
 * to the ask window once that window is ready; here one tab switches views, and the ask view may still be mounting.
 */
const undelivered = new Map<string, readonly unknown[]>();

const ipc: IpcRendererLike = {
  async invoke(channel, ...args) {
    // The app's main process asks before the browser opens a link; here the page already is in a browser, so the
    // same question is asked here and the link opens in a new tab.
    if (channel === IpcChannel.openLink) return openLinkHere((args[0] as { url: string }).url);
    await connected;
    const response = await fetch(IPC_PATH + encodeURIComponent(channel), {
      method: 'POST',
      headers: { 'content-type': 'application/json', [CLIENT_HEADER]: clientId },
      body: JSON.stringify(args),
    });
    const reply = (await response.json()) as InvokeReply;
    // Electron rejects a failed invoke with this wording; the page must cope with it here too.
    if (!reply.ok) throw new Error(`Error invoking remote method '${channel}': Error: ${reply.error}`);
    return reply.result;
  },
  on(channel, listener) {
    let set = listeners.get(channel);
    if (!set) listeners.set(channel, (set = new Set()));
    set.add(listener);
    const held = undelivered.get(channel);
    if (held) {
      undelivered.delete(channel);
      queueMicrotask(() => listener({}, ...held));
    }
  },
  removeListener(channel, listener) {
    listeners.get(channel)?.delete(listener);
  },
};

function openLinkHere(url: string): boolean {
  if (!/^https?:\/\//i.test(url) || !confirm(`Open this address in a new tab?\n\n${url}`)) return false;
  window.open(url, '_blank', 'noopener,noreferrer');
  return true;
}

Object.defineProperty(window, 'screenask', { value: createScreenAskApi(ipc), enumerable: true });

const ports = new Map<string, MessagePort>();
events.addEventListener('message', (message: MessageEvent<string>) => {
  const event = JSON.parse(message.data) as HarnessEvent;
  switch (event.type) {
    case 'send': {
      const current = listeners.get(event.channel);
      if (current?.size) current.forEach((listener) => listener({}, ...event.args));
      else undelivered.set(event.channel, event.args);
      break;
    }
    case 'port-open': {
      const channel = new MessageChannel();
      ports.set(event.askId, channel.port1);
      window.postMessage({ type: STREAM_PORT_MESSAGE, askId: event.askId }, '*', [channel.port2]);
      break;
    }
    case 'port-message':
      ports.get(event.askId)?.postMessage(event.message);
      break;
    case 'port-close':
      ports.get(event.askId)?.close();
      ports.delete(event.askId);
      break;
    case 'window':
      showWindow(event.action, event.view);
      break;
    case 'confirm': {
      // The app's main process shows a message box; the browser's own dialog plays it (the page cannot answer it).
      const ok = confirm(`${event.message}\n\n${event.detail}`);
      void post(CONFIRM_PATH, JSON.stringify({ id: event.id, ok }), 'application/json');
      break;
    }
  }
});

/** One tab plays every window: showing one switches the view; closing the overlay returns to the ask view. */
function showWindow(action: 'show' | 'close', view: string): void {
  if (action === 'show') location.hash = `#${view}`;
  else if (location.hash === `#${view}`) location.hash = '#ask';
  document.documentElement.classList.toggle('harness-overlay', location.hash === '#overlay');
}

async function post(path: string, body: BodyInit, type: string): Promise<void> {
  const response = await fetch(path, { method: 'POST', headers: { 'content-type': type, [CLIENT_HEADER]: clientId }, body });
  if (!response.ok) alert(((await response.json()) as { error?: string }).error ?? response.statusText);
}

function toolbar(): void {
  const bar = document.createElement('div');
  bar.className = 'harness-bar';
  bar.setAttribute('role', 'toolbar');
  bar.setAttribute('aria-label', 'Web harness');
  // Short texts keep the bar clear of the page's own controls at the app's window sizes.
  const button = (label: string, text: string, onClick: () => void) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = text;
    b.title = label;
    b.setAttribute('aria-label', label);
    b.addEventListener('click', onClick);
    bar.append(b);
  };
  button('Capture screen', 'Screen', () => void post(TRIGGER_PATH, JSON.stringify({ mode: 'screen' }), 'application/json'));
  button('Capture region', 'Region', () => void post(TRIGGER_PATH, JSON.stringify({ mode: 'region' }), 'application/json'));
  const file = document.createElement('input');
  file.type = 'file';
  file.accept = 'image/*';
  file.hidden = true;
  file.addEventListener('change', () => file.files?.[0] && void useImage(file.files[0]));
  button('Use an image as the screen', 'Image…', () => file.click());
  bar.append(file);
  document.body.append(bar);
}

async function useImage(image: Blob): Promise<void> {
  await post(SCREEN_PATH, image, image.type || 'application/octet-stream');
  await post(TRIGGER_PATH, JSON.stringify({ mode: 'screen' }), 'application/json');
}

// Dropping an image anywhere makes it the screen and opens the ask view on it.
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => {
  const image = [...(e.dataTransfer?.files ?? [])].find((f) => f.type.startsWith('image/'));
  if (!image) return;
  e.preventDefault();
  void useImage(image);
});

const style = document.createElement('style');
style.textContent = `
  .harness-bar { position: fixed; right: 8px; top: 4px; z-index: 2147483647; display: flex; gap: 6px; align-items: center;
    padding: 3px 6px; border-radius: 6px; font: 11px system-ui; opacity: 0.92; background: #5b2a86; color: #fff; box-shadow: 0 2px 8px #0006; }
  .harness-bar button { font: inherit; padding: 3px 8px; border-radius: 4px; border: 1px solid #fff8; background: #fff; color: #222; }
  .harness-overlay body { background: url(${SCREEN_PATH}.png) top left / 100vw 100vh no-repeat; }
  .harness-overlay .harness-bar { display: none; }
`;
document.addEventListener('DOMContentLoaded', () => {
  document.head.append(style);
  toolbar();
  showWindow('show', location.hash.slice(1) || 'ask');
});
