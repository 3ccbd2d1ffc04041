/**
 * The whole path through a real server: `npm run serve` (a child process) over a generated Qwen2-VL model, asked by
 * `npm run ask -- --server`, gives the greedy answer the local CLI gives on the same model. The image is 280×196, a
 * multiple of 28 within every budget, so neither side resizes it and both read the same pixels.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeGradient } from '../support/images.js';
import { repoRoot, runScript } from '../support/run-script.js';

let root: string;
let modelDir: string;
let image: string;
let serve: ChildProcess | undefined;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-serve-parity-'));
  modelDir = path.join(root, 'model');
  const fixtures = await runScript('test/fixtures/cli.ts', ['--out', modelDir, '--family', 'qwen2_vl', '--seed', '3', '--precision', 'fp32']);
  expect(fixtures.code).toBe(0);
  image = await writeGradient(path.join(root, 'gradient.png'), 280, 196);
});

afterAll(async () => {
  serve?.kill();
  if (root) await rm(root, { recursive: true, force: true });
});

/** Starts `npm run serve` on a free port and resolves with the base URL it prints. */
function startServe(): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'native-models/cli/serve.ts'), '--model', modelDir, '--port', '0', '--precision', 'fp32'], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  serve = child;
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`npm run serve exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /^ScreenAsk server: (\S+)$/.exec(line);
      if (match) resolve(match[1]!);
    });
  });
}

describe('ask --server against npm run serve', () => {
  it('gives the local CLI greedy answer, first question and follow-up', async () => {
    const question = ['--image', image, '--detail', 'low', '--max-new-tokens', '8', '--temperature', '0', '--json', 'What is this?', '--follow-up', 'And?'];
    const local = await runScript('native-models/cli/ask.ts', ['--model', modelDir, '--precision', 'fp32', ...question]);
    expect(local.stderr).toBe('');
    const baseUrl = await startServe();
    const remote = await runScript('native-models/cli/ask.ts', ['--server', baseUrl, ...question]);
    expect(remote.stderr).toBe('');
    const [l, r] = [JSON.parse(local.stdout), JSON.parse(remote.stdout)];
    expect(r.turns.map((t: { text: string }) => t.text)).toEqual(l.turns.map((t: { text: string }) => t.text));
    expect(l.turns[0].text.length).toBeGreaterThan(0);
    expect(r.turns[0].stats).toMatchObject({ provider: 'remote', generatedTokens: l.turns[0].stats.generatedTokens });
  });
});
