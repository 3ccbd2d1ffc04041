/**
 * Starting the model process, behind one small interface so the supervisor runs the same under Electron
 * (`utilityProcess.fork`) and under plain Node (`child_process.fork`: the tests, and a later `npm run dev:web`).
 */
import { fork as forkNode } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** How a process ended. Electron gives only the code (and its codes have been unreliable: see the runtime notes). */
export interface ExitInfo {
  readonly code: number | null;
  readonly signal: string | null;
}

export interface ChildHandle {
  readonly pid: number | undefined;
  /** `transfer`: MessagePorts to hand over (Electron only; Node's IPC channel cannot carry them). */
  postMessage(message: unknown, transfer?: readonly unknown[]): void;
  on(event: 'message', listener: (message: unknown) => void): void;
  on(event: 'exit', listener: (info: ExitInfo) => void): void;
  /** Ends the process at once (SIGKILL in Node): a model process mid-prefill would not answer a polite request. */
  kill(): void;
}

export interface ProcessLauncher {
  readonly kind: 'electron' | 'node';
  fork(modulePath: string, args?: readonly string[]): ChildHandle;
}

/** The utility entry as TypeScript source (tests, development); a packaged app passes its built `.js` instead. */
export const utilityEntrySource = fileURLToPath(new URL('../utility/main.ts', import.meta.url));

export interface NodeLauncherOptions {
  /** Default: `['--import', 'tsx']` for a `.ts` entry, so the TypeScript source runs unbuilt; none otherwise. */
  readonly execArgv?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

export function createNodeLauncher(options: NodeLauncherOptions = {}): ProcessLauncher {
  return {
    kind: 'node',
    fork(modulePath, args = []) {
      const execArgv = options.execArgv ?? (/\.[cm]?ts$/.test(modulePath) ? ['--import', 'tsx'] : []);
      const child = forkNode(modulePath, [...args], {
        execArgv: [...execArgv],
        env: options.env ?? process.env,
        // Structured clone instead of JSON: PNG bytes stay a Uint8Array, as they do through Electron.
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      return {
        get pid() {
          return child.pid;
        },
        postMessage(message, transfer) {
          if (transfer && transfer.length > 0) throw new Error('Node child processes cannot receive MessagePorts.');
          // A dead channel raises asynchronously through the callback; the 'exit' event reports the death itself.
          if (child.connected) child.send(message as object, (error) => void error);
        },
        on(event: 'message' | 'exit', listener: ((message: unknown) => void) | ((info: ExitInfo) => void)) {
          if (event === 'message') child.on('message', listener as (message: unknown) => void);
          else child.on('exit', (code, signal) => (listener as (info: ExitInfo) => void)({ code, signal }));
        },
        kill() {
          child.kill('SIGKILL');
        },
      };
    },
  };
}

export interface ElectronLauncherOptions {
  /** Shown in the OS task manager. */
  readonly serviceName?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Electron's launcher. Async because 'electron' is imported lazily: this module is also loaded by Node tests, where
 * the electron package is only a binary downloader. `utilityProcess.fork` may only be called after `app` is ready.
 */
export async function createElectronLauncher(options: ElectronLauncherOptions = {}): Promise<ProcessLauncher> {
  const { utilityProcess } = await import('electron');
  return {
    kind: 'electron',
    fork(modulePath, args = []) {
      const child = utilityProcess.fork(modulePath, [...args], {
        serviceName: options.serviceName ?? 'ScreenAsk model',
        stdio: 'inherit',
        ...(options.env ? { env: options.env } : {}),
      });
      return {
        get pid() {
          return child.pid;
        },
        postMessage(message, transfer) {
          child.postMessage(message, transfer ? ([...transfer] as Electron.MessagePortMain[]) : undefined);
        },
        on(event: 'message' | 'exit', listener: ((message: unknown) => void) | ((info: ExitInfo) => void)) {
          if (event === 'message') child.on('message', listener as (message: unknown) => void);
          // The reason (crashed, oom, killed) comes from app's 'child-process-gone'; the code is all that is here.
          else child.on('exit', (code) => (listener as (info: ExitInfo) => void)({ code, signal: null }));
        },
        kill() {
          child.kill();
        },
      };
    },
  };
}
