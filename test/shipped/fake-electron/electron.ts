/**
 * A fake 'electron' module for the BUILT main process (out/main/index.js), run by plain Node with loader.ts mapping
 * the specifier here. It is modelled on Electron 45's electron.d.ts and documentation, not on what ScreenAsk happens
 * to call: each export `satisfies` the type of the Electron API it stands for, and it enforces the rules Electron
 * enforces where the app could break them:
 *   - before `ready`: only enableSandbox, protocol.registerSchemesAsPrivileged and requestSingleInstanceLock; after
 *     it, registerSchemesAsPrivileged throws; Tray, screen, globalShortcut, utilityProcess and windows throw before it;
 *   - the single-instance lock is real across processes (a socket in userData, as Chromium does), and a second
 *     instance's command line reaches the first one's 'second-instance';
 *   - permissions: a session without handlers grants everything (Electron's default);
 *   - loadURL of the app's scheme goes through the handler given to protocol.handle, then loads the page's script,
 *     stylesheet and icon through it as Chromium would (relative URLs resolve only on a scheme registered as
 *     standard); file:// loads only existing files; preload paths must be absolute and exist;
 *   - ipcMain.handle refuses a second handler; a handler's rejection reaches the page as Electron words it;
 *   - MessagePortMain queues until start(); a port transferred to a page is neutered in this process;
 *   - utilityProcess.fork starts a real Node child whose `process.parentPort` follows Electron's (parent-port.ts);
 *   - app.quit() emits before-quit and will-quit (preventable) and then ends the process, without waiting for any
 *     promise a listener started; app.exit() ends it at once.
 * What it cannot model is written down in README (Known limitations).
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cropRgba, encodePng, scaleRgba, type RgbaImage } from '../../../harness/rgba.js';
import {
  FAKE_ELECTRON_ENV,
  decodeRgbaFile,
  type AppEvent,
  type DriverMessage,
  type DriverRequest,
  type FakeDisplaySpec,
  type FakeElectronConfig,
  type MenuItemView,
  type ResourceLoad,
} from './control.js';

/**
 * An Electron API's methods with Electron's own parameter types; what they return may be the fake's partial objects
 * (a FakeMenu for a Menu). Used with `satisfies`, so a fake method that takes other arguments than Electron's fails
 * the type check.
 */
type Calls<T> = { [K in keyof T]: T[K] extends (...args: infer A) => unknown ? (...args: A) => unknown : T[K] };

const config = JSON.parse(process.env[FAKE_ELECTRON_ENV] ?? 'null') as FakeElectronConfig | null;
if (!config || !process.send) throw new Error(`the fake electron module runs only under the test driver (${FAKE_ELECTRON_ENV} and an IPC channel)`);
const send = process.send.bind(process);
const report = (event: AppEvent) => void send(event);

// What Electron's main process looks like to code that inspects it.
Object.assign(process, { type: 'browser' });
Object.assign(process.versions, { electron: '45.4.1', chrome: '142.0.0.0' });

// ---------------------------------------------------------------------------------------------------------------- app

let ready = false;
let readyResolve!: () => void;
const readyPromise = new Promise<void>((resolve) => (readyResolve = resolve));
const mustBeReady = (what: string) => {
  if (!ready) throw new Error(`${what} cannot be used before the app is ready`);
};

/** The package.json Electron reads: the one of the folder it was started on (here: the working directory). */
const appPath = process.cwd();
const appPackage = JSON.parse(readFileSync(path.join(appPath, 'package.json'), 'utf8')) as { name: string; productName?: string; version: string };
const appName = appPackage.productName ?? appPackage.name;
const userData = path.join(config.appData, appName);

interface SingleInstanceLock {
  readonly server: net.Server;
}
let lock: SingleInstanceLock | undefined;

class FakeApp extends EventEmitter {
  #sandboxed = false;
  #quitting = false;
  get isPackaged(): boolean {
    return false;
  }
  whenReady(): Promise<void> {
    return readyPromise;
  }
  isReady(): boolean {
    return ready;
  }
  getName(): string {
    return appName;
  }
  getVersion(): string {
    return appPackage.version;
  }
  getAppPath(): string {
    return appPath;
  }
  getPath(name: Parameters<Electron.App['getPath']>[0]): string {
    switch (name) {
      case 'appData':
        return config!.appData;
      case 'userData':
      case 'sessionData':
        return userData;
      case 'logs':
        return path.join(userData, 'logs');
      case 'temp':
        return path.join(config!.appData, 'tmp');
      case 'home':
        return process.env.HOME ?? config!.appData;
      default:
        throw new Error(`Failed to get '${name}' path (not modelled by the fake)`);
    }
  }
  enableSandbox(): void {
    if (ready) throw new Error('app.enableSandbox() can only be called before app is ready');
    this.#sandboxed = true;
  }
  get sandboxed(): boolean {
    return this.#sandboxed;
  }
  /**
   * Chromium's process singleton: a socket in userData. The first process listens; a later one connects, hands over
   * its command line and is told to go. Synchronous in Electron; here the check is synchronous (is the socket there
   * and alive?), the hand-over asynchronous, and the second process must exit anyway.
   */
  requestSingleInstanceLock(): boolean {
    if (lock) return true;
    mkdirSync(userData, { recursive: true });
    const socket = path.join(userData, 'SingletonSocket');
    if (existsSync(socket) && handOver(socket, [process.execPath, ...process.argv.slice(1)])) return false;
    rmSync(socket, { force: true });
    const server = net.createServer((connection) => {
      let text = '';
      connection.on('data', (chunk) => (text += chunk.toString('utf8')));
      connection.on('end', () => {
        connection.end();
        const argv = parseArgv(text);
        if (argv) this.emit('second-instance', { preventDefault() {} }, argv, process.cwd(), null);
      });
    });
    server.listen(socket);
    server.unref();
    lock = { server };
    return true;
  }
  hasSingleInstanceLock(): boolean {
    return lock !== undefined;
  }
  quit(): void {
    if (this.#quitting) return;
    this.#quitting = true;
    this.emit('before-quit', { preventDefault: () => (this.#quitting = false) });
    if (!this.#quitting) return;
    for (const win of [...windows.values()]) win.close();
    let prevented = false;
    this.emit('will-quit', { preventDefault: () => (prevented = true) });
    if (prevented) {
      this.#quitting = false;
      return;
    }
    this.emit('quit', {}, 0);
    // Electron ends the process once the listeners have returned: it does not wait for promises they started.
    setImmediate(() => this.exit(0));
  }
  exit(code = 0): void {
    lock?.server.close();
    process.exit(code);
  }
}

/**
 * Hands a command line to the process listening on the singleton socket, synchronously (Electron's lock call is
 * synchronous, and the caller exits right after it): false when nobody listens (a stale socket file after a crash).
 */
function handOver(socket: string, argv: readonly string[]): boolean {
  const script =
    'const s=require("net").connect(process.argv[1]);' +
    's.on("connect",()=>s.end(process.argv[2]));s.on("close",(e)=>process.exit(e?1:0));s.on("error",()=>process.exit(1));';
  return spawnSync(process.execPath, ['-e', script, socket, JSON.stringify(argv)], { timeout: 5000 }).status === 0;
}

function parseArgv(text: string): string[] | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) && value.every((a) => typeof a === 'string') ? value : undefined;
  } catch {
    return undefined;
  }
}

export const app = new FakeApp() satisfies Pick<
  Electron.App,
  'whenReady' | 'isReady' | 'getPath' | 'getName' | 'getVersion' | 'getAppPath' | 'enableSandbox' | 'requestSingleInstanceLock' | 'hasSingleInstanceLock' | 'quit' | 'exit' | 'isPackaged'
>;

// ----------------------------------------------------------------------------------------------------- native images

/** A NativeImage over RGBA pixels (or empty, as createFromPath returns for a file it cannot read). */
class FakeNativeImage {
  constructor(
    readonly pixels: RgbaImage | null,
    readonly source = '',
  ) {}
  isEmpty(): boolean {
    return this.pixels === null || this.pixels.width === 0;
  }
  getSize(): Electron.Size {
    return { width: this.pixels?.width ?? 0, height: this.pixels?.height ?? 0 };
  }
  toPNG(): Buffer {
    return this.pixels ? Buffer.from(encodePng(this.pixels)) : Buffer.alloc(0);
  }
  toDataURL(): string {
    return `data:image/png;base64,${this.toPNG().toString('base64')}`;
  }
  crop(rect: Electron.Rectangle): FakeNativeImage {
    return new FakeNativeImage(this.pixels ? cropRgba(this.pixels, rect) : null);
  }
  resize(options: Electron.ResizeOptions): FakeNativeImage {
    if (!this.pixels) return this;
    if (options.width === undefined) throw new Error('the fake resizes by width only');
    return new FakeNativeImage(scaleRgba(this.pixels, options.width));
  }
}

/** The PNG's size from its header, without decoding: enough to tell a real icon from a missing or broken file. */
function pngSize(file: string): Electron.Size | null {
  try {
    const bytes = readFileSync(file);
    if (bytes.length < 24 || bytes.toString('latin1', 1, 4) !== 'PNG') return null;
    return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
  } catch {
    return null;
  }
}

export const nativeImage = {
  createFromPath(file: string): FakeNativeImage {
    const size = path.isAbsolute(file) ? pngSize(file) : null;
    return new FakeNativeImage(size ? { ...size, data: new Uint8Array(size.width * size.height * 4) } : null, file);
  },
} satisfies Pick<Calls<typeof Electron.nativeImage>, 'createFromPath'>;

// -------------------------------------------------------------------------------------------------------- protocol

type ProtocolHandler = Parameters<Electron.Protocol['handle']>[1];
const privileged = new Map<string, Electron.Privileges>();
const handlers = new Map<string, ProtocolHandler>();

export const protocol = {
  registerSchemesAsPrivileged(schemes: Electron.CustomScheme[]): void {
    if (ready) throw new Error('protocol.registerSchemesAsPrivileged should be called before app is ready');
    for (const { scheme, privileges } of schemes) privileged.set(scheme, privileges ?? {});
  },
  handle(scheme: string, handler: ProtocolHandler): void {
    mustBeReady('protocol.handle');
    if (handlers.has(scheme)) throw new Error(`Failed to register protocol: ${scheme}`);
    handlers.set(scheme, handler);
  },
  isProtocolHandled(scheme: string): boolean {
    return handlers.has(scheme);
  },
} satisfies Pick<Electron.Protocol, 'registerSchemesAsPrivileged' | 'handle' | 'isProtocolHandled'>;

// ---------------------------------------------------------------------------------------------------------- session

type PermissionRequestHandler = NonNullable<Parameters<Electron.Session['setPermissionRequestHandler']>[0]>;
type PermissionCheckHandler = NonNullable<Parameters<Electron.Session['setPermissionCheckHandler']>[0]>;
type Permission = Parameters<PermissionCheckHandler>[1];

class FakeSession {
  requestHandler: PermissionRequestHandler | null = null;
  checkHandler: PermissionCheckHandler | null = null;
  headersListener: unknown = null;
  readonly webRequest = {
    onHeadersReceived: (...args: unknown[]) => {
      this.headersListener = args.at(-1) ?? null;
    },
  } as Pick<Electron.WebRequest, 'onHeadersReceived'>;
  readonly protocol = protocol;
  setPermissionRequestHandler(handler: PermissionRequestHandler | null): void {
    this.requestHandler = handler;
  }
  setPermissionCheckHandler(handler: PermissionCheckHandler | null): void {
    this.checkHandler = handler;
  }
  /** What Chromium asks when a page calls an API behind `permission` (both handlers; none set: granted). */
  async allows(permission: Permission, contents: FakeWebContents): Promise<boolean> {
    const url = contents.getURL();
    const checked = this.checkHandler ? this.checkHandler(contents as unknown as Electron.WebContents, permission, originOf(url), { requestingUrl: url, isMainFrame: true }) : true;
    if (!checked) return false;
    const handler = this.requestHandler;
    if (!handler) return true;
    return new Promise((resolve) => handler(contents as unknown as Electron.WebContents, permission, resolve, { requestingUrl: url, isMainFrame: true }));
  }
}

function originOf(url: string): string {
  const parsed = new URL(url);
  return privileged.get(parsed.protocol.slice(0, -1))?.standard ? `${parsed.protocol}//${parsed.host}` : parsed.origin;
}

const defaultSession = new FakeSession();
export const session = { defaultSession } as unknown as Pick<typeof Electron.session, 'defaultSession'>;

// ---------------------------------------------------------------------------------------------------- message ports

let nextPortId = 1;
class FakeMessagePortMain extends EventEmitter {
  readonly id = nextPortId++;
  other: FakeMessagePortMain | undefined;
  #started = false;
  #closed = false;
  #queue: unknown[] = [];
  /** Transferred to a page: its messages go to the driver, and this process can no longer use it. */
  #remote = false;
  postMessage(message: unknown, transfer: FakeMessagePortMain[] = []): void {
    if (transfer.length > 0) throw new Error('the fake does not transfer ports through ports');
    if (this.#closed || this.#remote) return;
    const data = structuredClone(message);
    const peer = this.other;
    if (!peer) return;
    if (peer.#remote) report({ type: 'port-message', portId: peer.id, data });
    else peer.#deliver(data);
  }
  #deliver(data: unknown): void {
    if (this.#closed) return;
    if (this.#started) setImmediate(() => this.emit('message', { data, ports: [] }));
    else this.#queue.push(data);
  }
  start(): void {
    this.#started = true;
    for (const data of this.#queue.splice(0)) this.#deliver(data);
  }
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const peer = this.other;
    if (peer && peer.#remote) report({ type: 'port-close', portId: peer.id });
    else if (peer && !peer.#closed) {
      peer.#closed = true;
      peer.emit('close');
    }
    this.emit('close');
  }
  /** Handed to a page by webContents.postMessage: neutered here. */
  transferAway(): number {
    if (this.#remote) throw new Error('DataCloneError: a MessagePort was transferred twice');
    this.#remote = true;
    return this.id;
  }
}

export class MessageChannelMain {
  readonly port1 = new FakeMessagePortMain();
  readonly port2 = new FakeMessagePortMain();
  constructor() {
    this.port1.other = this.port2;
    this.port2.other = this.port1;
  }
}

// ------------------------------------------------------------------------------------------------------ web contents

let nextContentsId = 1;
class FakeWebContents extends EventEmitter {
  readonly id = nextContentsId++;
  readonly session = defaultSession;
  #url = '';
  #destroyed = false;
  windowOpenHandler: ((details: Electron.HandlerDetails) => Electron.WindowOpenHandlerResponse) | undefined;
  constructor(readonly windowId: number) {
    super();
  }
  getURL(): string {
    return this.#url;
  }
  setURL(url: string): void {
    this.#url = url;
  }
  isDestroyed(): boolean {
    return this.#destroyed;
  }
  destroy(): void {
    this.#destroyed = true;
    this.emit('destroyed');
  }
  send(channel: string, ...args: unknown[]): void {
    if (this.#destroyed) throw new Error('Object has been destroyed');
    report({ type: 'send', windowId: this.windowId, channel, args: args.map((a) => structuredClone(a)) });
  }
  postMessage(channel: string, message: unknown, transfer: FakeMessagePortMain[] = []): void {
    if (this.#destroyed) throw new Error('Object has been destroyed');
    const portIds = transfer.map((port) => port.transferAway());
    report({ type: 'post', windowId: this.windowId, channel, message: structuredClone(message), portIds });
  }
  setWindowOpenHandler(handler: (details: Electron.HandlerDetails) => Electron.WindowOpenHandlerResponse): void {
    this.windowOpenHandler = handler;
  }
}

// ------------------------------------------------------------------------------------------------------- windows

let nextWindowId = 1;
const windows = new Map<number, BrowserWindow>();

export class BrowserWindow extends EventEmitter {
  readonly id = nextWindowId++;
  readonly webContents: FakeWebContents;
  #bounds: Electron.Rectangle;
  #visible = false;
  #destroyed = false;
  #alwaysOnTop: { flag: boolean; level?: string } = { flag: false };
  constructor(readonly options: Electron.BrowserWindowConstructorOptions = {}) {
    super();
    mustBeReady('BrowserWindow');
    const preload = options.webPreferences?.preload;
    if (preload !== undefined && (!path.isAbsolute(preload) || !existsSync(preload))) {
      throw new Error(`preload path must be an absolute path to a file: ${preload}`);
    }
    this.webContents = new FakeWebContents(this.id);
    this.#bounds = placeWindow(options);
    this.#alwaysOnTop = { flag: options.alwaysOnTop === true };
    windows.set(this.id, this);
    report({ type: 'window-created', windowId: this.id, options: structuredClone({ ...options, webPreferences: { ...options.webPreferences } }) });
  }
  async loadURL(url: string): Promise<void> {
    try {
      const resources = await loadPage(url);
      this.webContents.setURL(url);
      report({ type: 'window-loaded', windowId: this.id, url, resources });
      this.webContents.emit('did-finish-load');
      this.emit('ready-to-show');
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      report({ type: 'window-load-failed', windowId: this.id, url, error: message });
      throw error;
    }
  }
  show(): void {
    this.#visible = true;
    report({ type: 'window-shown', windowId: this.id });
  }
  hide(): void {
    this.#visible = false;
  }
  isVisible(): boolean {
    return this.#visible;
  }
  focus(): void {}
  close(): void {
    if (this.#destroyed) return;
    this.emit('close', { preventDefault() {} });
    this.#destroyed = true;
    windows.delete(this.id);
    this.webContents.destroy();
    this.emit('closed');
    report({ type: 'window-closed', windowId: this.id });
    if (windows.size === 0 && app.listenerCount('window-all-closed') === 0) app.quit();
    else if (windows.size === 0) app.emit('window-all-closed');
  }
  isDestroyed(): boolean {
    return this.#destroyed;
  }
  getBounds(): Electron.Rectangle {
    return { ...this.#bounds };
  }
  getContentBounds(): Electron.Rectangle {
    return { ...this.#bounds };
  }
  setAlwaysOnTop(flag: boolean, level?: Parameters<Electron.BrowserWindow['setAlwaysOnTop']>[1]): void {
    this.#alwaysOnTop = level === undefined ? { flag } : { flag, level };
    report({ type: 'window-on-top', windowId: this.id, flag, level: level ?? null });
  }
  isAlwaysOnTop(): boolean {
    return this.#alwaysOnTop.flag;
  }
}

/** Where the window manager puts a window: inside the work area of the display it was asked for (as macOS does). */
function placeWindow(options: Electron.BrowserWindowConstructorOptions): Electron.Rectangle {
  const wanted = { x: options.x ?? 0, y: options.y ?? 0, width: options.width ?? 800, height: options.height ?? 600 };
  const display = displays.find((d) => wanted.x >= d.bounds.x && wanted.x < d.bounds.x + d.bounds.width) ?? displays[0]!;
  const area = display.workArea;
  const x = Math.max(area.x, wanted.x);
  const y = Math.max(area.y, wanted.y);
  return { x, y, width: Math.min(wanted.width, area.x + area.width - x), height: Math.min(wanted.height, area.y + area.height - y) };
}

/**
 * Loads a page as Chromium would for what ScreenAsk needs: the document, then every script, stylesheet and icon it
 * names, each through the same URL handling. Relative URLs resolve against the page only on standard schemes.
 */
async function loadPage(url: string): Promise<ResourceLoad[]> {
  const page = await fetchResource(url);
  if (page.status !== 200) throw new Error(`ERR_FILE_NOT_FOUND (-6) loading '${url}' (status ${page.status})`);
  const resources: ResourceLoad[] = [page];
  const html = page.body ?? '';
  const standard = isStandard(url);
  for (const match of html.matchAll(/<(?:script|link)\b[^>]*?\s(?:src|href)="([^"]+)"/g)) {
    const reference = match[1]!;
    if (!standard && !/^[a-z]+:/i.test(reference)) {
      resources.push({ url: reference, status: 0, contentType: null, csp: null });
      continue;
    }
    const resolved = new URL(reference, url).href;
    resources.push(await fetchResource(resolved));
  }
  return resources.map(({ url: u, status, contentType, csp }) => ({ url: u, status, contentType, csp }));
}

function isStandard(url: string): boolean {
  const scheme = new URL(url).protocol.slice(0, -1);
  return ['http', 'https', 'file'].includes(scheme) || privileged.get(scheme)?.standard === true;
}

async function fetchResource(url: string): Promise<ResourceLoad & { body?: string }> {
  const scheme = new URL(url).protocol.slice(0, -1);
  if (scheme === 'file') {
    const file = fileURLToPath(url.split('#')[0]!);
    if (!existsSync(file)) return { url, status: 404, contentType: null, csp: null };
    return { url, status: 200, contentType: null, csp: null, body: readFileSync(file, 'utf8') };
  }
  const handler = handlers.get(scheme);
  if (!handler) throw new Error(`ERR_UNKNOWN_URL_SCHEME (-302) loading '${url}'`);
  const response = await handler(new Request(url.split('#')[0]!, { method: 'GET' }));
  const contentType = response.headers.get('content-type');
  return {
    url,
    status: response.status,
    contentType,
    csp: response.headers.get('content-security-policy'),
    ...(contentType?.startsWith('text/html') ? { body: await response.text() } : {}),
  };
}

// --------------------------------------------------------------------------------------------------------- ipcMain

type InvokeListener = (event: Electron.IpcMainInvokeEvent, ...args: unknown[]) => unknown;
const invokeHandlers = new Map<string, InvokeListener>();

export const ipcMain = Object.assign(new EventEmitter(), {
  handle(channel: string, listener: InvokeListener): void {
    if (invokeHandlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    invokeHandlers.set(channel, listener);
  },
  removeHandler(channel: string): void {
    invokeHandlers.delete(channel);
  },
}) satisfies Pick<Calls<Electron.IpcMain>, 'handle' | 'removeHandler'>;

/** A page's ipcRenderer.invoke, as Electron delivers it: the sender, its frame, and the arguments cloned. */
async function invokeFromPage(windowId: number, channel: string, args: readonly unknown[]): Promise<unknown> {
  const win = windows.get(windowId);
  if (!win) throw new Error(`no window ${windowId}`);
  const handler = invokeHandlers.get(channel);
  if (!handler) throw new Error(`Error invoking remote method '${channel}': Error: No handler registered for '${channel}'`);
  const event = { sender: win.webContents, senderFrame: { url: win.webContents.getURL() }, frameId: 1, processId: 1 } as unknown as Electron.IpcMainInvokeEvent;
  try {
    return structuredClone(await handler(event, ...args.map((a) => structuredClone(a))));
  } catch (error) {
    // What the page's promise rejects with: Electron wraps the message (and drops everything else of the error).
    throw new Error(`Error invoking remote method '${channel}': ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`, { cause: error });
  }
}

// ------------------------------------------------------------------------------------------------ tray and menus

interface FakeMenuItem {
  readonly label?: string;
  readonly type?: string;
  readonly enabled: boolean;
  readonly click?: (...args: unknown[]) => void;
}
class FakeMenu {
  constructor(readonly items: readonly FakeMenuItem[]) {}
}

export const Menu = {
  buildFromTemplate(template: Array<Electron.MenuItemConstructorOptions | Electron.MenuItem>): FakeMenu {
    return new FakeMenu(
      template.map((item) => {
        const options = item as Electron.MenuItemConstructorOptions;
        if (options.label === undefined && options.role === undefined && options.type !== 'separator') {
          throw new Error('Invalid template for MenuItem: must have at least one of label, role or type');
        }
        return {
          ...(options.label !== undefined ? { label: options.label } : {}),
          ...(options.type !== undefined ? { type: options.type } : {}),
          enabled: options.enabled !== false,
          ...(options.click ? { click: options.click as (...args: unknown[]) => void } : {}),
        };
      }),
    );
  },
} satisfies Pick<Calls<typeof Electron.Menu>, 'buildFromTemplate'>;

/** The tray icons alive, newest last (the app has one). */
const trays: Tray[] = [];
export class Tray extends EventEmitter {
  #menu: FakeMenu | null = null;
  #tooltip = '';
  #destroyed = false;
  constructor(readonly image: FakeNativeImage | string) {
    super();
    mustBeReady('Tray');
    trays.push(this);
    this.#report();
  }
  setContextMenu(menu: FakeMenu | null): void {
    this.#menu = menu;
    this.#report();
  }
  setToolTip(tooltip: string): void {
    this.#tooltip = tooltip;
    this.#report();
  }
  destroy(): void {
    this.#destroyed = true;
    trays.splice(trays.indexOf(this), 1);
  }
  isDestroyed(): boolean {
    return this.#destroyed;
  }
  click(label: string): void {
    const item = this.#menu?.items.find((i) => i.label === label);
    if (!item) throw new Error(`the tray menu has no item "${label}"`);
    if (!item.enabled) throw new Error(`the tray menu item "${label}" is disabled`);
    item.click?.({}, undefined, undefined);
  }
  #report(): void {
    const image = typeof this.image === 'string' ? nativeImage.createFromPath(this.image) : this.image;
    const menu: MenuItemView[] = (this.#menu?.items ?? []).map(({ label, type, enabled }) => ({ ...(label !== undefined ? { label } : {}), ...(type !== undefined ? { type } : {}), enabled }));
    report({ type: 'tray', icon: { empty: image.isEmpty(), path: image.source }, menu, tooltip: this.#tooltip });
  }
}

// ------------------------------------------------------------------------------------------------ global shortcuts

const shortcuts = new Map<string, () => void>();
const ACCELERATOR = /^((CommandOrControl|CmdOrCtrl|Command|Cmd|Control|Ctrl|Alt|Option|AltGr|Shift|Super|Meta)\+)*([A-Z0-9]|F([1-9]|1[0-9]|2[0-4])|Space|Tab|Backspace|Delete|Insert|Return|Enter|Up|Down|Left|Right|Home|End|PageUp|PageDown|Escape|Esc|Plus|[`\-=[\]\\;',./])$/;
export const globalShortcut = {
  register(accelerator: string, callback: () => void): boolean {
    mustBeReady('globalShortcut');
    if (!ACCELERATOR.test(accelerator)) throw new Error(`Failed to convert '${accelerator}' to an accelerator`);
    if (shortcuts.has(accelerator)) return false;
    shortcuts.set(accelerator, callback);
    report({ type: 'shortcuts', accelerators: [...shortcuts.keys()] });
    return true;
  },
  isRegistered(accelerator: string): boolean {
    return shortcuts.has(accelerator);
  },
  unregister(accelerator: string): void {
    shortcuts.delete(accelerator);
    report({ type: 'shortcuts', accelerators: [...shortcuts.keys()] });
  },
  unregisterAll(): void {
    shortcuts.clear();
    report({ type: 'shortcuts', accelerators: [] });
  },
} satisfies Pick<Electron.GlobalShortcut, 'register' | 'isRegistered' | 'unregister' | 'unregisterAll'>;

// ------------------------------------------------------------------------------------------- screen and capture

interface FakeDisplay extends Electron.Display {
  readonly pixels: RgbaImage;
}
const displays: FakeDisplay[] = config.displays.map((spec: FakeDisplaySpec) => {
  const pixels = decodeRgbaFile(readFileSync(spec.rgbaFile));
  const size = { width: spec.bounds.width, height: spec.bounds.height };
  const workArea = spec.workArea ?? spec.bounds;
  return {
    id: spec.id,
    label: `Display ${spec.id}`,
    bounds: spec.bounds,
    workArea,
    size,
    workAreaSize: { width: workArea.width, height: workArea.height },
    scaleFactor: spec.scaleFactor,
    rotation: 0,
    internal: false,
    monochrome: false,
    accelerometerSupport: 'unknown',
    touchSupport: 'unknown',
    colorDepth: 24,
    colorSpace: 'srgb',
    depthPerComponent: 8,
    displayFrequency: 60,
    detected: true,
    nativeOrigin: { x: spec.bounds.x, y: spec.bounds.y },
    maximumCursorSize: { width: 64, height: 64 },
    pixels,
  } as FakeDisplay;
});

const within = (p: Electron.Point, r: Electron.Rectangle) => p.x >= r.x && p.x < r.x + r.width && p.y >= r.y && p.y < r.y + r.height;

export const screen = {
  getCursorScreenPoint(): Electron.Point {
    mustBeReady("The 'screen' module");
    return { ...config.cursor };
  },
  getAllDisplays(): Electron.Display[] {
    mustBeReady("The 'screen' module");
    return displays.map(publicDisplay);
  },
  getPrimaryDisplay(): Electron.Display {
    mustBeReady("The 'screen' module");
    return publicDisplay(displays[0]!);
  },
  getDisplayNearestPoint(point: Electron.Point): Electron.Display {
    mustBeReady("The 'screen' module");
    return publicDisplay(displays.find((d) => within(point, d.bounds)) ?? displays[0]!);
  },
} satisfies Pick<Electron.Screen, 'getCursorScreenPoint' | 'getAllDisplays' | 'getPrimaryDisplay' | 'getDisplayNearestPoint'>;

function publicDisplay({ pixels: _pixels, ...display }: FakeDisplay): Electron.Display {
  return display;
}

export const desktopCapturer = {
  /** Screens only; Linux gives every source an empty display_id, as Electron does there. */
  async getSources(options: Electron.SourcesOptions): Promise<Electron.DesktopCapturerSource[]> {
    mustBeReady('desktopCapturer');
    if (!options.types.includes('screen')) return [];
    const size = options.thumbnailSize ?? { width: 150, height: 150 };
    return displays.map((display, index) => {
      // Electron scales the whole screen into the thumbnail size, keeping the aspect ratio.
      const scale = Math.min(size.width / display.pixels.width, size.height / display.pixels.height, 1);
      const pixels = scale >= 1 ? display.pixels : scaleRgba(display.pixels, Math.max(1, Math.round(display.pixels.width * scale)));
      return {
        id: `screen:${index}:0`,
        name: displays.length === 1 ? 'Entire screen' : `Screen ${index + 1}`,
        display_id: process.platform === 'linux' ? '' : String(display.id),
        thumbnail: new FakeNativeImage(pixels) as unknown as Electron.NativeImage,
        appIcon: null as unknown as Electron.NativeImage,
      };
    });
  },
} satisfies Pick<Electron.DesktopCapturer, 'getSources'>;

export const systemPreferences = {
  getMediaAccessStatus(_mediaType: 'microphone' | 'camera' | 'screen'): 'not-determined' | 'granted' | 'denied' | 'restricted' | 'unknown' {
    // Only macOS restricts screen capture, and this fake runs on Linux.
    return 'granted';
  },
} satisfies Pick<Electron.SystemPreferences, 'getMediaAccessStatus'>;

// --------------------------------------------------------------------------------------------- dialogs and shell

export const dialog = {
  async showMessageBox(...args: unknown[]): Promise<Electron.MessageBoxReturnValue> {
    const options = args.at(-1) as Electron.MessageBoxOptions;
    report({ type: 'dialog', kind: 'message', options: structuredClone(options) });
    // The user presses the cancel button (or the last one).
    return { response: options.cancelId ?? (options.buttons?.length ?? 1) - 1, checkboxChecked: false };
  },
  async showOpenDialog(...args: unknown[]): Promise<Electron.OpenDialogReturnValue> {
    report({ type: 'dialog', kind: 'open', options: structuredClone(args.at(-1)) });
    return { canceled: true, filePaths: [] };
  },
} satisfies Pick<Electron.Dialog, 'showMessageBox' | 'showOpenDialog'>;

export const shell = {
  async openExternal(url: string): Promise<void> {
    report({ type: 'open-external', url });
  },
} satisfies Pick<Electron.Shell, 'openExternal'>;

// ------------------------------------------------------------------------------------------------- safeStorage

/**
 * safeStorage as on a Linux desktop with a keyring: real AES-256-GCM under a key standing in for the keyring's (stable
 * for one appData, so a restarted app decrypts what it stored); nothing is available before `ready`, as in Electron.
 */
const keyringKey = createHash('sha256').update(`fake keyring for ${config.appData}`).digest();
function encrypt(plainText: string): Buffer {
  mustBeReady('safeStorage');
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyringKey, iv);
  const body = Buffer.concat([cipher.update(plainText, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from('v11'), iv, cipher.getAuthTag(), body]);
}
function decrypt(encrypted: Buffer): string {
  mustBeReady('safeStorage');
  if (encrypted.subarray(0, 3).toString() !== 'v11') throw new Error('Error while decrypting the ciphertext provided to safeStorage.decryptString.');
  const decipher = createDecipheriv('aes-256-gcm', keyringKey, encrypted.subarray(3, 15));
  decipher.setAuthTag(encrypted.subarray(15, 31));
  return Buffer.concat([decipher.update(encrypted.subarray(31)), decipher.final()]).toString('utf8');
}
export const safeStorage = {
  isEncryptionAvailable: () => ready,
  isAsyncEncryptionAvailable: async () => ready,
  getSelectedStorageBackend: (): ReturnType<Electron.SafeStorage['getSelectedStorageBackend']> => (ready ? 'gnome_libsecret' : 'unknown'),
  setUsePlainTextEncryption: (_usePlainText: boolean) => undefined,
  encryptString: encrypt,
  encryptStringAsync: async (plainText: string) => encrypt(plainText),
  decryptString: decrypt,
  decryptStringAsync: async (encrypted: Buffer) => ({ result: decrypt(encrypted), shouldReEncrypt: false }),
} satisfies Calls<Electron.SafeStorage>;

// ------------------------------------------------------------------------------------------------ utility process

class FakeUtilityProcess extends EventEmitter {
  readonly #child: ChildProcess;
  constructor(modulePath: string, args: readonly string[], options: Electron.ForkOptions) {
    super();
    mustBeReady('utilityProcess');
    if (!path.isAbsolute(modulePath) || !existsSync(modulePath)) throw new Error(`utilityProcess: no such module ${modulePath}`);
    const stdio = options.stdio === 'pipe' || options.stdio === 'ignore' || options.stdio === 'inherit' ? options.stdio : 'inherit';
    this.#child = fork(modulePath, [...args], {
      execArgv: ['--import', config!.parentPortShim, ...(options.execArgv ?? [])],
      env: { ...(options.env ?? process.env) },
      ...(options.cwd ? { cwd: options.cwd } : {}),
      // Electron's messages are structured clones, as Node's 'advanced' serialization is.
      serialization: 'advanced',
      stdio: [stdio === 'inherit' ? 'ignore' : stdio, stdio, stdio, 'ipc'],
    });
    this.#child.on('spawn', () => {
      report({ type: 'utility-forked', pid: this.#child.pid, modulePath });
      this.emit('spawn');
    });
    this.#child.on('message', (message) => this.emit('message', message));
    this.#child.on('exit', (code, signal) => this.emit('exit', code ?? (signal ? 1 : 0)));
  }
  get pid(): number | undefined {
    return this.#child.exitCode === null ? this.#child.pid : undefined;
  }
  postMessage(message: unknown, transfer?: FakeMessagePortMain[]): void {
    if (transfer && transfer.length > 0) throw new Error('the fake cannot transfer MessagePorts to a utility process');
    if (this.#child.connected) this.#child.send(message as object);
  }
  kill(): boolean {
    return this.#child.kill('SIGTERM');
  }
}

export const utilityProcess = {
  fork(modulePath: string, args: string[] = [], options: Electron.ForkOptions = {}): FakeUtilityProcess {
    return new FakeUtilityProcess(modulePath, args, options);
  },
};

// ------------------------------------------------------------------------------------- what the driver asks for

async function perform(request: DriverRequest): Promise<unknown> {
  switch (request.type) {
    case 'press-shortcut': {
      const callback = shortcuts.get(request.accelerator);
      if (!callback) throw new Error(`no global shortcut ${request.accelerator} is registered`);
      callback();
      return null;
    }
    case 'click-tray': {
      const tray = trays.at(-1);
      if (!tray) throw new Error('there is no tray icon');
      tray.click(request.label);
      return null;
    }
    case 'invoke':
      return invokeFromPage(request.windowId, request.channel, request.args);
    case 'permission': {
      const win = windows.get(request.windowId);
      if (!win) throw new Error(`no window ${request.windowId}`);
      return win.webContents.session.allows(request.permission, win.webContents);
    }
    case 'close-window':
      windows.get(request.windowId)?.close();
      return null;
    case 'quit':
      app.quit();
      return null;
  }
}

process.on('message', (message: DriverMessage) => {
  perform(message).then(
    (value) => report({ type: 'reply', requestId: message.requestId, ok: true, value: value ?? null }),
    (error: unknown) => report({ type: 'reply', requestId: message.requestId, ok: false, error: error instanceof Error ? error.message : String(error) }),
  );
});

// Electron becomes ready once the main script's first turn has run.
setImmediate(() => {
  ready = true;
  app.emit('ready', {}, {});
  readyResolve();
  report({ type: 'ready', sandboxed: app.sandboxed, privilegedSchemes: Object.fromEntries(privileged) });
});

export default {
  app,
  BrowserWindow,
  desktopCapturer,
  dialog,
  globalShortcut,
  ipcMain,
  Menu,
  MessageChannelMain,
  nativeImage,
  protocol,
  safeStorage,
  screen,
  session,
  shell,
  systemPreferences,
  Tray,
  utilityProcess,
};
