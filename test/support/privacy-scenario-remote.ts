/**
 * The privacy scenario with a server backend: the app's own composition (createServices: settings store, model
 * process, the remote engine over the real client, whose captures the model process sizes) in the caller's process,
 * which plays the main process; the model process is the real utility entry, forked with `modelArgv` (the network
 * sentinel's --import). A capture is asked about, then a follow-up, on the server the settings name (confirmed).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createNodeLauncher, type ProcessLauncher } from '../../electron/main/process-launcher.js';
import { createServices } from '../../electron/main/services.js';
import type { StreamMessage } from '../../electron/shared/ipc.js';

export interface RemoteScenarioOptions {
  /** userData and models live here. */
  readonly dir: string;
  /** A PNG of the "screen". */
  readonly screenshot: string;
  readonly server: { readonly baseUrl: string; readonly model: string };
  readonly modelArgv: readonly string[];
  readonly modelEnv: NodeJS.ProcessEnv;
  /** Runs after the follow-up, while the model process is still up (its pid given); not when none started. */
  readonly whileRunning?: (modelPid: number) => Promise<void>;
}

export interface RemoteScenarioResult {
  /** The model process that sized the capture; undefined when no question got that far (nothing started it). */
  readonly modelPid: number | undefined;
  /** Each question's messages, or the one-line error it failed with. */
  readonly turns: readonly (readonly StreamMessage[] | string)[];
}

export async function captureAskServer(options: RemoteScenarioOptions): Promise<RemoteScenarioResult> {
  const node = createNodeLauncher({ execArgv: options.modelArgv, env: options.modelEnv });
  const pids: number[] = [];
  const launcher: ProcessLauncher = {
    kind: node.kind,
    fork: (...args) => {
      const child = node.fork(...args);
      if (child.pid !== undefined) pids.push(child.pid);
      return child;
    },
  };
  const services = await createServices({
    userDataDir: path.join(options.dir, 'user-data'),
    modelsDir: path.join(options.dir, 'models'),
    launcher,
    machine: { hasGpu: false, totalMemoryBytes: 4 * 1024 ** 3 },
    log: () => undefined,
  });
  try {
    const { baseUrl, model } = options.server;
    const saved = await services.store.update({ backend: 'server', serverUrl: baseUrl, serverModel: model, confirmedServers: [baseUrl] });
    if (!saved.ok) throw new Error(`settings refused: ${JSON.stringify(saved.errors)}`);
    // The capture, as the main process hands it over: PNG bytes of the screen.
    const png = new Uint8Array(await readFile(options.screenshot));
    const turns: (readonly StreamMessage[] | string)[] = [];
    const questions = [
      { question: 'What does this error mean?', image: png, detail: 'high' as const, followUp: false },
      { question: 'And then?', followUp: true },
    ];
    for (const ask of questions) {
      const messages: StreamMessage[] = [];
      try {
        for await (const message of services.remote.ask({ conversationId: 'capture-1', options: { maxNewTokens: 6 }, ...ask }, new AbortController().signal)) messages.push(message);
        turns.push(messages);
      } catch (error) {
        turns.push(error instanceof Error ? error.message : String(error));
        break;
      }
    }
    const modelPid = pids.at(-1);
    if (modelPid !== undefined) await options.whileRunning?.(modelPid);
    return { modelPid, turns };
  } finally {
    await services.dispose();
  }
}
