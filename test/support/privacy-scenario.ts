/**
 * What the privacy promise is about: a screen capture handed to the model process, an answer, a follow-up. Run by
 * the privacy test in its own process and, for the namespace proof, by privacy-scenario-cli.ts in a fresh one. The
 * caller's process plays the main process (supervisor, capture bytes); the model runs in the real utility entry,
 * forked by the real Node launcher with `modelArgv` (the sentinel's --import).
 */
import { readFile } from 'node:fs/promises';
import { EngineSupervisor } from '../../electron/main/engine-supervisor.js';
import { createNodeLauncher } from '../../electron/main/process-launcher.js';

export interface ScenarioOptions {
  readonly modelDir: string;
  /** A PNG of the "screen". */
  readonly screenshot: string;
  readonly modelArgv: readonly string[];
  readonly modelEnv: NodeJS.ProcessEnv;
  /** Runs after the follow-up, while the model process is still up (its pid given). */
  readonly whileRunning?: (modelPid: number) => Promise<void>;
}

export interface ScenarioResult {
  readonly modelPid: number;
  readonly first: readonly number[];
  readonly followUp: readonly number[];
}

export async function captureAnswerFollowUp(options: ScenarioOptions): Promise<ScenarioResult> {
  const supervisor = new EngineSupervisor({ launcher: createNodeLauncher({ execArgv: options.modelArgv, env: options.modelEnv }) });
  try {
    // The capture, as the main process hands it over: PNG bytes of the screen.
    const png = new Uint8Array(await readFile(options.screenshot));
    await supervisor.load({ dir: options.modelDir, precision: 'fp32' });
    const first = await supervisor.ask({
      conversationId: 'capture-1',
      start: { image: { kind: 'png', bytes: png }, detail: 'high' },
      question: 'What does this error mean?',
      options: { maxNewTokens: 6 },
    }).result;
    const followUp = await supervisor.ask({ conversationId: 'capture-1', question: 'And then?', options: { maxNewTokens: 4 } }).result;
    const modelPid = supervisor.pid!;
    await options.whileRunning?.(modelPid);
    return { modelPid, first: first.tokenIds, followUp: followUp.tokenIds };
  } finally {
    await supervisor.stop();
  }
}
