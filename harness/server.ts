/**
 * The web harness: the app's main-process logic (ScreenAskApp with its real settings store, model process, model
 * manager and history) serving the built renderer to an ordinary browser on loopback. Electron's pieces are replaced
 * by their nearest web equivalents: IPC by POST + server-sent events (the same sender and payload validation as in
 * the app, through the real registerIpc), windows by views of one tab, the screen by an image, the hotkey and tray by
 * the bridge's toolbar. The model process is the real utility entry, as a Node child process.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import { ScreenAskApp } from '../electron/main/app.js';
import type { WindowKind } from '../electron/main/windows.js';
import { registerIpc, type InvokeEventLike, type SenderLike } from '../electron/main/ipc.js';
import { createNodeLauncher } from '../electron/main/process-launcher.js';
import { originMatcher } from '../electron/main/security.js';
import { createServices } from '../electron/main/services.js';
import { localMachine } from '../native-models/hub/machine.js';
import type { HubOptions } from '../native-models/hub/hub-api.js';
import { HttpError, openEventStream, readBody, sendJson, serveRenderer } from './http.js';
import { BRIDGE_PATH, CLIENT_HEADER, CONFIRM_PATH, EVENTS_PATH, IPC_PATH, SCREEN_PATH, TRIGGER_PATH, type HarnessEvent, type InvokeReply } from './protocol.js';
import { encodePng, type RgbaImage } from './rgba.js';
import { captureOf, decodeImage, sampleScreenSvg } from './screen.js';

export interface HarnessOptions {
  /** The built renderer (Vite's output). */
  readonly rendererDir: string;
  /** Settings and history live here, as in the app's userData folder. */
  readonly userDataDir: string;
  readonly modelsDir: string;
  /** Settings to apply at start (e.g. `{ model: '/abs/model/dir' }`), through the same validation as the page's. */
  readonly settings?: Record<string, unknown>;
  /** A model folder to select only when the settings have none yet (a model chosen in an earlier run is kept). */
  readonly initialModel?: string;
  readonly hub?: HubOptions;
  /** Image bytes standing in for the screen; default: a generated terminal with an error. */
  readonly screen?: Uint8Array;
  /** Default 0: any free port. Always bound to 127.0.0.1. */
  readonly port?: number;
  readonly log?: (message: string) => void;
}

export interface Harness {
  readonly url: string;
  readonly app: ScreenAskApp;
  /** Problems the services reported at start (a settings file set aside, …). */
  readonly problems: readonly string[];
  close(): Promise<void>;
}

interface Client {
  readonly sender: SenderLike;
  readonly emit: (event: HarnessEvent) => void;
}

const MAX_IPC_BODY = 1024 * 1024;
const MAX_IMAGE_BODY = 64 * 1024 * 1024;

export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const log = options.log ?? ((message: string) => console.error(`[harness] ${message}`));
  const clients = new Map<string, Client>();
  const broadcast = (event: HarnessEvent) => clients.forEach((client) => client.emit(event));
  const ipcHandlers = new Map<string, (event: InvokeEventLike, ...args: unknown[]) => unknown>();
  let screen: RgbaImage = await decodeImage(options.screen ?? Buffer.from(sampleScreenSvg()));
  let screenPng = encodePng(screen);
  const bridge = await bundleBridge();

  const server = createServer();
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  const isAppUrl = originMatcher(origin);

  const services = await createServices({
    userDataDir: options.userDataDir,
    modelsDir: options.modelsDir,
    launcher: createNodeLauncher(),
    ...(options.hub ? { hub: options.hub } : {}),
    machine: localMachine(),
    log,
    // No safeStorage in a browser harness: the server's API key is kept in memory only, and the settings page says so.
    // The remote client is the app's: captures for a server are sized by the model process, as in Electron.
  });
  if (options.settings) await services.settings.set(options.settings);
  if (options.initialModel && services.store.get().model === null) await services.settings.set({ model: options.initialModel });

  /** Questions the main process put to the user, waiting for the page's answer (CONFIRM_PATH). */
  const confirmations = new Map<string, (ok: boolean) => void>();
  let sequence = 0;
  const closedListeners = new Set<(kind: WindowKind) => void>();
  // The app shuts down on 'will-quit'; close() plays that event.
  const onQuit: Array<() => void> = [];
  const app = new ScreenAskApp({
    app: {
      on: (event: string, listener: (...args: never[]) => void) => void (event === 'will-quit' && onQuit.push(listener as () => void)),
      whenReady: () => Promise.resolve(),
      quit: () => undefined,
    },
    argv: [],
    // One page server, no second launches.
    secondInstances: { route: () => undefined },
    engine: services.engine,
    remote: services.remote,
    serverKeys: services.serverKeys,
    serving: services.serving,
    // Electron shows a message box; here the open pages ask with confirm(). No page open: nothing is sent.
    confirmServer: ({ baseUrl, host }) => {
      if (clients.size === 0) return Promise.resolve(false);
      const id = randomUUID();
      return new Promise<boolean>((resolve) => {
        confirmations.set(id, resolve);
        broadcast({
          type: 'confirm',
          id,
          message: `Send your screen captures and questions to ${host}?`,
          detail: `Answers come from the server at ${baseUrl}. Each question sends the capture and the conversation there. Nothing is sent if you cancel.`,
        });
      });
    },
    settings: services.settings,
    models: services.models,
    history: services.history,
    captureScreen: async () => captureOf(screen),
    createHotkey: () => {
      const status = { accelerator: null, state: 'disabled' as const, message: 'The web harness has no global shortcut: use Capture screen.' };
      return { apply: () => status, dispose: () => undefined, status };
    },
    createTray: () => ({ update: () => undefined, destroy: () => undefined }),
    windows: {
      async show(kind) {
        broadcast({ type: 'window', action: 'show', view: kind });
        return { webContents: { send: (channel: string, ...args: unknown[]) => broadcast({ type: 'send', channel, args }) } };
      },
      // The overlay view covers the sample screen exactly (its display sits at the origin, scale 1).
      contentBounds: () => ({ x: 0, y: 0, width: screen.width, height: screen.height }),
      close: (kind) => {
        broadcast({ type: 'window', action: 'close', view: kind });
        for (const listener of closedListeners) listener(kind);
      },
      onClosed: (listener) => (closedListeners.add(listener), () => void closedListeners.delete(listener)),
      closeAll: () => undefined,
    },
    registerIpc: (handlers, settingsSchema) =>
      registerIpc({
        ipcMain: {
          handle: (channel, listener) => void ipcHandlers.set(channel, listener),
          removeHandler: (channel) => void ipcHandlers.delete(channel),
        },
        isAppUrl,
        settingsSchema,
        handlers,
        log,
      }),
    openStream: (sender, askId) => {
      const client = [...clients.values()].find((c) => c.sender === sender);
      client?.emit({ type: 'port-open', askId });
      return {
        post: (message) => client?.emit({ type: 'port-message', askId, message }),
        close: () => client?.emit({ type: 'port-close', askId }),
      };
    },
    notify: (message) => log(`notify: ${message}`),
    pickFolder: async () => null,
    // Never reached: the bridge asks and opens links in the browser the page is in (see bridge.ts).
    openLink: async () => false,
    newId: () => randomUUID(),
    log,
  });
  await app.start();

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : 500;
      if (!res.headersSent) sendJson(res, status, { ok: false, error: error instanceof Error ? error.message : String(error) });
      else res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Loopback only, and only under our own name: a page elsewhere cannot reach it through DNS rebinding.
    if (req.headers.host !== `127.0.0.1:${port}` && req.headers.host !== `localhost:${port}`) throw new HttpError(403, 'unexpected Host header');
    const url = new URL(req.url ?? '/', origin);
    if (req.method === 'GET') {
      if (url.pathname === EVENTS_PATH) return openClient(url.searchParams.get('client') ?? '', res);
      if (url.pathname === BRIDGE_PATH) {
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
        res.end(bridge);
        return;
      }
      if (url.pathname === `${SCREEN_PATH}.png`) {
        res.writeHead(200, { 'content-type': 'image/png', 'cache-control': 'no-store' });
        res.end(screenPng);
        return;
      }
      return serveRenderer(res, options.rendererDir, url.pathname);
    }
    if (req.method !== 'POST') throw new HttpError(405, 'method not allowed');
    // Writes come only from our pages: same origin, and a registered client (cross-site forms cannot set headers).
    const client = clients.get(String(req.headers[CLIENT_HEADER] ?? ''));
    if (req.headers.origin !== origin || !client) throw new HttpError(403, 'not one of this harness\'s pages');
    if (url.pathname.startsWith(IPC_PATH)) return invoke(decodeURIComponent(url.pathname.slice(IPC_PATH.length)), client, req, res);
    if (url.pathname === TRIGGER_PATH) {
      const { mode } = JSON.parse((await readBody(req, MAX_IPC_BODY)).toString('utf8')) as { mode?: unknown };
      if (mode !== 'screen' && mode !== 'region') throw new HttpError(400, 'mode must be screen or region');
      await app.trigger(mode);
      return sendJson(res, 200, { ok: true });
    }
    if (url.pathname === CONFIRM_PATH) {
      const { id, ok } = JSON.parse((await readBody(req, MAX_IPC_BODY)).toString('utf8')) as { id?: unknown; ok?: unknown };
      const resolve = typeof id === 'string' ? confirmations.get(id) : undefined;
      if (!resolve || typeof ok !== 'boolean') throw new HttpError(400, 'no such question, or an answer that is not true or false');
      confirmations.delete(id as string);
      resolve(ok);
      return sendJson(res, 200, { ok: true });
    }
    if (url.pathname === SCREEN_PATH) {
      const bytes = await readBody(req, MAX_IMAGE_BODY);
      screen = await decodeImage(bytes).catch(() => {
        throw new HttpError(400, 'that file is not an image ScreenAsk can read (PNG, JPEG, WebP, GIF or SVG)');
      });
      screenPng = encodePng(screen);
      return sendJson(res, 200, { ok: true });
    }
    throw new HttpError(404, 'not found');
  }

  function openClient(id: string, res: ServerResponse): void {
    if (!/^[0-9a-f-]{36}$/.test(id) || clients.has(id)) throw new HttpError(400, 'bad client id');
    const write = openEventStream(res);
    let closed = false;
    const sender: SenderLike = {
      id: ++sequence,
      send: (channel, ...args) => write({ type: 'send', channel, args } satisfies HarnessEvent),
      postMessage: () => {
        throw new Error('the harness streams answers through openStream, not postMessage');
      },
      isDestroyed: () => closed,
    };
    clients.set(id, { sender, emit: write });
    res.on('close', () => {
      closed = true;
      clients.delete(id);
    });
  }

  async function invoke(channel: string, client: Client, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const handler = ipcHandlers.get(channel);
    if (!handler) throw new HttpError(404, `no such channel: ${channel}`);
    const args = JSON.parse((await readBody(req, MAX_IPC_BODY)).toString('utf8')) as unknown;
    if (!Array.isArray(args)) throw new HttpError(400, 'the body must be a JSON array of arguments');
    // The page's URL plays Electron's senderFrame.url: registerIpc refuses anything but our own pages.
    const event: InvokeEventLike = { senderFrame: { url: String(req.headers.referer ?? '') }, sender: client.sender };
    let reply: InvokeReply;
    try {
      reply = { ok: true, result: await handler(event, ...args) };
    } catch (error) {
      reply = { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
    sendJson(res, 200, reply);
  }

  return {
    url: `${origin}/`,
    app,
    problems: services.problems,
    async close() {
      for (const resolve of confirmations.values()) resolve(false);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      onQuit.forEach((listener) => listener());
      await services.dispose();
    },
  };
}

/** Bundles harness/bridge.ts for the browser, in memory. */
async function bundleBridge(): Promise<string> {
  const result = await build({
    entryPoints: [new URL('./bridge.ts', import.meta.url).pathname],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    logLevel: 'warning',
  });
  return result.outputFiles[0]!.text;
}
