// Fake Electron objects for main-process tests: just enough behaviour (events, handlers, recorded calls) to drive the
// modules under test. The modules take these through their narrow interfaces; index.test mocks 'electron' with them.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { SessionLike } from '../../electron/main/security.js';

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

type PermissionRequestHandler = NonNullable<Parameters<Electron.Session['setPermissionRequestHandler']>[0]>;
type PermissionCheckHandler = NonNullable<Parameters<Electron.Session['setPermissionCheckHandler']>[0]>;
type HeadersListener = NonNullable<Parameters<Electron.WebRequest['onHeadersReceived']>[0]>;
/** A permission by Electron's own name (the union in electron.d.ts): a test cannot ask for one Electron does not have. */
export type ElectronPermission = Parameters<PermissionCheckHandler>[1];

/**
 * Electron's Session, as far as permissions and response headers go, with the signatures of electron.d.ts. As in
 * Electron, a session without handlers grants every request and passes every check.
 */
export class FakeSession implements SessionLike {
  headersListener: HeadersListener | undefined;
  requestHandler: PermissionRequestHandler | undefined;
  checkHandler: PermissionCheckHandler | undefined;
  readonly webRequest: SessionLike['webRequest'] = {
    onHeadersReceived: (...args: [HeadersListener | null] | [Electron.WebRequestFilter, HeadersListener | null]) => {
      this.headersListener = args.at(-1) as HeadersListener | undefined ?? undefined;
    },
  };
  setPermissionRequestHandler(handler: PermissionRequestHandler | null): void {
    this.requestHandler = handler ?? undefined;
  }
  setPermissionCheckHandler(handler: PermissionCheckHandler | null): void {
    this.checkHandler = handler ?? undefined;
  }
  /** A page at `requestingUrl` asks for a permission (the request handler decides; none set: granted). */
  request(permission: ElectronPermission, requestingUrl: string, mediaTypes?: Array<'video' | 'audio'>): Promise<boolean> {
    const handler = this.requestHandler;
    if (!handler) return Promise.resolve(true);
    const contents = { getURL: () => requestingUrl } as unknown as Electron.WebContents;
    const details = { requestingUrl, isMainFrame: true, ...(mediaTypes ? { mediaTypes } : {}) } as Electron.PermissionRequest;
    return new Promise((resolve) => handler(contents, permission, resolve, details));
  }
  /** Chromium checks a permission for a page (the check handler decides; none set: allowed). */
  check(permission: ElectronPermission, requestingUrl: string): boolean {
    const handler = this.checkHandler;
    if (!handler) return true;
    return handler(null, permission, new URL(requestingUrl).origin, { requestingUrl, isMainFrame: true });
  }
  /**
   * `navigator.clipboard.writeText` from a page: Chromium needs 'clipboard-sanitized-write'. Which of the two handlers
   * it consults depends on the code path, so the fake requires both: a gap in either shows.
   */
  async clipboardWriteText(pageUrl: string): Promise<boolean> {
    return this.check('clipboard-sanitized-write', pageUrl) && (await this.request('clipboard-sanitized-write', pageUrl));
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

/**
 * macOS's Screen Recording permission as macOS keeps it (TCC): the status of an app that was never granted is
 * 'denied', never 'not-determined'; the app is listed in System Settings, and the prompt shown, only after it has
 * tried to capture. `attempted` is what a capture call does to it.
 */
export class FakeScreenRecordingPermission {
  listedInSystemSettings = false;
  #granted = false;
  getMediaAccessStatus(mediaType: 'microphone' | 'camera' | 'screen'): 'not-determined' | 'granted' | 'denied' | 'restricted' | 'unknown' {
    return mediaType === 'screen' && this.#granted ? 'granted' : 'denied';
  }
  attempted(): void {
    this.listedInSystemSettings = true;
  }
  /** The user switches ScreenAsk on in System Settings (possible only once it is listed). */
  grant(): void {
    if (!this.listedInSystemSettings) throw new Error('ScreenAsk is not listed in System Settings: it never tried to capture');
    this.#granted = true;
  }
}

/**
 * Electron's safeStorage with the signatures of electron.d.ts (every method, the deprecated synchronous ones too).
 * Encryption is real (AES-256-GCM under a key that lives only in this object, standing in for the keychain), so what
 * reaches a file is ciphertext a test can search for the plain text. As in Electron: before `ready` nothing is
 * available; with no encryption available, encrypting throws; decrypting bytes this key did not produce throws.
 */
export class FakeSafeStorage implements Electron.SafeStorage {
  /** The OS offers encryption (Keychain, DPAPI, a keyring); false plays a Linux desktop with none at all. */
  available = true;
  /** What getSelectedStorageBackend says (Linux); 'basic_text' plays a desktop without a keyring. */
  backend: ReturnType<Electron.SafeStorage['getSelectedStorageBackend']> = 'gnome_libsecret';
  /** Set when the keychain's key was rotated: the next decrypt asks for re-encryption. */
  rotated = false;
  readonly #key = randomBytes(32);
  readonly encrypted: string[] = [];

  isEncryptionAvailable(): boolean {
    return this.available;
  }
  async isAsyncEncryptionAvailable(): Promise<boolean> {
    return this.available;
  }
  getSelectedStorageBackend(): ReturnType<Electron.SafeStorage['getSelectedStorageBackend']> {
    return this.backend;
  }
  setUsePlainTextEncryption(_usePlainText: boolean): void {}
  encryptString(plainText: string): Buffer {
    if (!this.available) throw new Error('Error while encrypting the text provided to safeStorage.encryptString. Encryption is not available.');
    this.encrypted.push(plainText);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    const body = Buffer.concat([cipher.update(plainText, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.from('v10'), iv, cipher.getAuthTag(), body]);
  }
  async encryptStringAsync(plainText: string): Promise<Buffer> {
    return this.encryptString(plainText);
  }
  decryptString(encrypted: Buffer): string {
    if (!this.available) throw new Error('Error while decrypting the ciphertext provided to safeStorage.decryptString. Decryption is not available.');
    if (encrypted.subarray(0, 3).toString() !== 'v10' || encrypted.length < 31) throw new Error('Error while decrypting the ciphertext provided to safeStorage.decryptString.');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, encrypted.subarray(3, 15));
    decipher.setAuthTag(encrypted.subarray(15, 31));
    try {
      return Buffer.concat([decipher.update(encrypted.subarray(31)), decipher.final()]).toString('utf8');
    } catch {
      throw new Error('Error while decrypting the ciphertext provided to safeStorage.decryptString.');
    }
  }
  async decryptStringAsync(encrypted: Buffer): Promise<Electron.DecryptStringAsyncReturnValue> {
    return { result: this.decryptString(encrypted), shouldReEncrypt: this.rotated };
  }
}
