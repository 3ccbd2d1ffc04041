// Fake Electron objects for main-process tests: just enough behaviour (events, handlers, recorded calls) to drive the
// modules under test. The modules take these through their narrow interfaces; index.test mocks 'electron' with them.
import { EventEmitter } from 'node:events';

export class FakeGlobalShortcut {
  readonly registered = new Map<string, () => void>();
  /** Accelerators other applications own: register() returns false for them, as Electron does. */
  readonly takenElsewhere = new Set<string>();
  register(accelerator: string, callback: () => void): boolean {
    if (accelerator.includes('Bogus')) throw new Error(`conversion failure for ${accelerator}`);
    if (this.takenElsewhere.has(accelerator)) return false;
    this.registered.set(accelerator, callback);
    return true;
  }
  unregister(accelerator: string): void {
    this.registered.delete(accelerator);
  }
  isRegistered(accelerator: string): boolean {
    return this.registered.has(accelerator);
  }
  unregisterAll(): void {
    this.registered.clear();
  }
  press(accelerator: string): void {
    this.registered.get(accelerator)?.();
  }
}

export class FakeApp extends EventEmitter {
  lockHeld = false;
  quitCalls = 0;
  readyResolve!: () => void;
  readonly ready = new Promise<void>((resolve) => (this.readyResolve = resolve));
  requestSingleInstanceLock(): boolean {
    return !this.lockHeld;
  }
  whenReady(): Promise<void> {
    return this.ready;
  }
  quit(): void {
    this.quitCalls++;
    this.emit('will-quit');
  }
}

export class FakeWebContents extends EventEmitter {
  static nextId = 1;
  readonly id = FakeWebContents.nextId++;
  readonly sent: Array<{ channel: string; args: unknown[] }> = [];
  readonly posted: Array<{ channel: string; message: unknown; transfer: unknown[] }> = [];
  openHandler: ((details: { url: string }) => { action: 'deny' } | { action: 'allow' }) | undefined;
  destroyed = false;
  url = '';
  send(channel: string, ...args: unknown[]): void {
    this.sent.push({ channel, args });
  }
  postMessage(channel: string, message: unknown, transfer: unknown[] = []): void {
    this.posted.push({ channel, message, transfer });
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
  getURL(): string {
    return this.url;
  }
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' } | { action: 'allow' }): void {
    this.openHandler = handler;
  }
  /** Emits a preventable event and says whether a listener prevented it. */
  attempt(event: string, ...args: unknown[]): boolean {
    let prevented = false;
    this.emit(event, { preventDefault: () => (prevented = true) }, ...args);
    return prevented;
  }
}

export class FakeSession {
  headersListener:
    | ((details: { responseHeaders?: Record<string, string[] | string> }, cb: (r: { responseHeaders?: Record<string, string[] | string> }) => void) => void)
    | undefined;
  requestHandler: ((wc: { getURL(): string } | null, permission: string, cb: (granted: boolean) => void, details: { requestingUrl?: string; mediaTypes?: Array<'video' | 'audio'> }) => void) | undefined;
  checkHandler: ((wc: { getURL(): string } | null, permission: string, origin: string, details: { requestingUrl?: string }) => boolean) | undefined;
  readonly webRequest = {
    onHeadersReceived: (listener: NonNullable<FakeSession['headersListener']>) => {
      this.headersListener = listener;
    },
  };
  setPermissionRequestHandler(handler: NonNullable<FakeSession['requestHandler']>): void {
    this.requestHandler = handler;
  }
  setPermissionCheckHandler(handler: NonNullable<FakeSession['checkHandler']>): void {
    this.checkHandler = handler;
  }
  /** Runs the request handler and returns what it granted. */
  request(permission: string, requestingUrl: string, mediaTypes?: Array<'video' | 'audio'>): Promise<boolean> {
    return new Promise((resolve) => this.requestHandler?.(null, permission, resolve, { requestingUrl, ...(mediaTypes ? { mediaTypes } : {}) }));
  }
}

export class FakeIpcMain {
  readonly handlers = new Map<string, (event: unknown, ...args: unknown[]) => unknown>();
  handle(channel: string, listener: (event: never, ...args: unknown[]) => unknown): void {
    if (this.handlers.has(channel)) throw new Error(`second handler for ${channel}`);
    this.handlers.set(channel, listener as (event: unknown, ...args: unknown[]) => unknown);
  }
  removeHandler(channel: string): void {
    this.handlers.delete(channel);
  }
  /** What ipcRenderer.invoke would get: the handler's result, or its rejection. */
  async invoke(frameUrl: string | null, sender: FakeWebContents, channel: string, ...args: unknown[]): Promise<unknown> {
    const handler = this.handlers.get(channel);
    if (!handler) throw new Error(`No handler registered for '${channel}'`);
    return handler({ senderFrame: frameUrl === null ? null : { url: frameUrl }, sender }, ...args);
  }
}

export class FakeImage {
  constructor(
    readonly width: number,
    readonly height: number,
    readonly label = 'screen',
  ) {}
  crops: Array<{ x: number; y: number; width: number; height: number }> = [];
  toPNG(): Uint8Array {
    return new TextEncoder().encode(`png:${this.label}:${this.width}x${this.height}`);
  }
  getSize(): { width: number; height: number } {
    return { width: this.width, height: this.height };
  }
  isEmpty(): boolean {
    return this.width === 0 || this.height === 0;
  }
  crop(rect: { x: number; y: number; width: number; height: number }): FakeImage {
    this.crops.push(rect);
    return new FakeImage(rect.width, rect.height, `${this.label}-crop@${rect.x},${rect.y}`);
  }
  /** Like Electron's: given only a width, the height follows the aspect ratio. */
  resize({ width }: { width: number }): FakeImage {
    return new FakeImage(width, Math.round((this.height * width) / this.width), `${this.label}-resized`);
  }
  toDataURL(): string {
    return `data:image/png;base64,${Buffer.from(this.toPNG()).toString('base64')}`;
  }
}

export class FakeTray extends EventEmitter {
  menus: unknown[] = [];
  tooltip = '';
  destroyed = false;
  setContextMenu(menu: unknown): void {
    this.menus.push(menu);
  }
  setToolTip(tooltip: string): void {
    this.tooltip = tooltip;
  }
  destroy(): void {
    this.destroyed = true;
  }
}
