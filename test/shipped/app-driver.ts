// Runs the BUILT app (out/main/index.js) as Electron would, as far as plain Node can: a child process whose
// 'electron' is the fake (fake-electron/electron.ts), with the built utility entry forked as a real grandchild and the
// built preload run for each window in a sandbox-like context (preload-host.ts). The driver plays the user and the
// pages: it presses the hotkey, clicks the tray, calls the preload's API, reads the answer's stream port.
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../support/run-script.js';
import { FAKE_ELECTRON_ENV, type AppEvent, type DriverRequest, type FakeElectronConfig } from './fake-electron/control.js';
import { FAKE_ELECTRON_MODULE_ENV } from './fake-electron/loader-env.js';
import { fakeElectronDir } from './build-output.js';
import { PageUnderTest } from './preload-host.js';

export interface LaunchOptions {
  readonly config: Omit<FakeElectronConfig, 'parentPortShim'>;
  readonly argv?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** The app's folder (its package.json and out/); default: the repository, as `npm start` runs it. */
  readonly appDir?: string;
}

type EventOf<T extends AppEvent['type']> = Extract<AppEvent, { type: T }>;

export class AppUnderTest {
  readonly events: AppEvent[] = [];
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  readonly pages = new Map<number, PageUnderTest>();
  #stderr = '';
  #nextRequest = 1;
  readonly #replies = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  readonly #waiters = new Set<() => void>();

  private constructor(readonly child: ChildProcess) {
    child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr += chunk.toString('utf8');
      this.#wake();
    });
    child.on('message', (event: AppEvent) => this.#onEvent(event));
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => (resolve({ code, signal }), this.#wake())));
  }

  static launch(options: LaunchOptions): AppUnderTest {
    const appDir = options.appDir ?? repoRoot;
    const fake = fakeElectronDir();
    const config: FakeElectronConfig = { ...options.config, parentPortShim: pathToFileURL(path.join(fake, 'parent-port.mjs')).href };
    const child = fork(path.join(appDir, 'out', 'main', 'index.js'), [...(options.argv ?? [])], {
      cwd: appDir,
      execArgv: ['--import', pathToFileURL(path.join(fake, 'loader.mjs')).href],
      env: {
        ...process.env,
        ...options.env,
        [FAKE_ELECTRON_ENV]: JSON.stringify(config),
        [FAKE_ELECTRON_MODULE_ENV]: pathToFileURL(path.join(fake, 'electron.mjs')).href,
      },
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    return new AppUnderTest(child);
  }

  get stderr(): string {
    return this.#stderr;
  }

  #onEvent(event: AppEvent): void {
    if (event.type === 'reply') {
      const pending = this.#replies.get(event.requestId);
      this.#replies.delete(event.requestId);
      if (event.ok) pending?.resolve(event.value);
      else pending?.reject(new Error(event.error));
      return;
    }
    this.events.push(event);
    if (event.type === 'window-created') this.pages.set(event.windowId, new PageUnderTest(this, event.windowId));
    const page = 'windowId' in event ? this.pages.get(event.windowId) : undefined;
    page?.deliver(event);
    if (event.type === 'port-message' || event.type === 'port-close') for (const p of this.pages.values()) p.deliver(event);
    this.#wake();
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Asks the fake to act (a user or a page): resolves with its result, rejects with the app's error. */
  request(request: DriverRequest): Promise<unknown> {
    const requestId = this.#nextRequest++;
    return new Promise((resolve, reject) => {
      if (!this.child.connected) return reject(new Error(`the app is gone; stderr:\n${this.#stderr}`));
      this.#replies.set(requestId, { resolve, reject });
      this.child.send({ ...request, requestId }, (error) => {
        if (!error) return;
        this.#replies.delete(requestId);
        reject(error);
      });
    });
  }

  /** The first event of `type` (from `after` on) that `match` accepts; fails with what the app printed if none comes. */
  waitFor<T extends AppEvent['type']>(type: T, match: (event: EventOf<T>) => boolean = () => true, { after = 0, timeoutMs = 60_000 } = {}): Promise<EventOf<T>> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.events.slice(after).find((e): e is EventOf<T> => e.type === type && match(e as EventOf<T>));
        if (found) return done(() => resolve(found));
        if (this.child.exitCode !== null || this.child.signalCode !== null) {
          done(() => reject(new Error(`the app exited (${this.child.exitCode ?? this.child.signalCode}) before '${type}'; stderr:\n${this.#stderr}`)));
        }
      };
      const timer = setTimeout(() => done(() => reject(new Error(`no '${type}' within ${timeoutMs} ms; stderr:\n${this.#stderr}`))), timeoutMs);
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        settle();
      };
      this.#waiters.add(check);
      check();
    });
  }

  page(windowId: number): PageUnderTest {
    const page = this.pages.get(windowId);
    if (!page) throw new Error(`no window ${windowId}`);
    return page;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
