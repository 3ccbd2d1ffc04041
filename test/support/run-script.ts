import { execFile } from 'node:child_process';
import path from 'node:path';

export interface ScriptResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export const repoRoot = path.resolve(import.meta.dirname, '..', '..');

/** Runs one of the project's TypeScript entry points as a real child process, as `npm run` would. */
export function runScript(script: string, args: readonly string[], timeoutMs = 120_000): Promise<ScriptResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(repoRoot, script), ...args],
      { cwd: repoRoot, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
