/** `npm run serve` as a real child process: its one line, answers, a clean exit on SIGINT and SIGTERM, and refusals. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { repoRoot, runScript } from '../support/run-script.js';

const serve = 'native-models/cli/serve.ts';
let root: string;
let scriptedDir: string;
let randomDir: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-serve-cli-'));
  scriptedDir = path.join(root, 'scripted');
  randomDir = path.join(root, 'random');
  await writeSmolVlmModel(scriptedDir, { seed: 3, precisions: ['fp32', 'q8'], scriptedAnswer: 'Served from a child process.' });
  await writeSmolVlmModel(randomDir, { seed: 10, precisions: ['fp32'] });
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (root) await rm(root, { recursive: true, force: true });
});

interface Running {
  readonly child: ChildProcess;
  readonly url: string;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a command and waits for the server's line on stdout; fails with what it printed if it exits first. */
async function start(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; detached?: boolean } = {}): Promise<Running> {
  const child = spawn(command, args, { cwd: repoRoot, env: { ...process.env, ...options.env }, detached: options.detached ?? false });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const url = await new Promise<string>((resolve, reject) => {
    const check = (): void => {
      const line = /ScreenAsk server: (\S+)\n/.exec(stdout);
      if (line) resolve(line[1]!);
    };
    child.stdout!.on('data', check);
    void exit.then(({ code }) => reject(new Error(`exited with ${code} before listening: ${stderr}`)));
  });
  return { child, url, stdout: () => stdout, stderr: () => stderr, exit };
}

const node = (args: readonly string[], env?: NodeJS.ProcessEnv) => start(process.execPath, ['--import', 'tsx', path.join(repoRoot, serve), ...args], env ? { env } : {});

describe('npm run serve', () => {
  it('prints exactly its one line, answers the openai client, and exits 0 on SIGINT', async () => {
    const server = await node(['--model', scriptedDir, '--port', '0', '--precision', 'q8']);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const client = new OpenAI({ baseURL: server.url, apiKey: 'none', maxRetries: 0 });
    expect((await client.models.list()).data.map((m) => m.id)).toEqual(['scripted']);
    const answer = await client.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: 'Hi' }] });
    expect(answer.choices[0]!.message.content).toBe('Served from a child process.');
    expect((answer as unknown as { screenask: { stats: { precision: string } } }).screenask.stats.precision).toBe('q8');
    server.child.kill('SIGINT');
    expect(await server.exit).toEqual({ code: 0, signal: null });
    expect(server.stdout()).toBe(`ScreenAsk server: ${server.url}\n`);
    // One log line per answer on stderr, with the engine's figures.
    expect(server.stderr()).toMatch(/chatcmpl-[0-9a-f]{32} stop · image 0 ms · .* \+ \d+ new tokens · cache on · q8 on cpu · stop: eos\n/);
  });

  it('SIGTERM in the middle of a streamed answer stops it and exits 0', async () => {
    const server = await node(['--model', randomDir, '--port', '0']);
    const client = new OpenAI({ baseURL: server.url, apiKey: 'none', maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'random', messages: [{ role: 'user', content: 'Tell me everything.' }], temperature: 0, max_tokens: 8000, stream: true,
    });
    let text = '';
    const reading = (async () => {
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        if (text && server.child.exitCode === null && !server.child.killed) server.child.kill('SIGTERM');
      }
    })().catch((error: unknown) => error);
    expect(await server.exit).toEqual({ code: 0, signal: null });
    // The answer was cut off: the stream never finished with [DONE].
    expect(await reading).toBeInstanceOf(Error);
    expect(text.length).toBeGreaterThan(0);
  });

  it('runs as the package script, and stops with its whole process group on Ctrl+C', async () => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const server = await start(npm, ['run', '-s', 'serve', '--', '--model', scriptedDir, '--port', '0'], { detached: true });
    const client = new OpenAI({ baseURL: server.url, apiKey: 'none', maxRetries: 0 });
    const answer = await client.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: 'Hi' }] });
    expect(answer.choices[0]!.message.content).toBe('Served from a child process.');
    process.kill(-server.child.pid!, 'SIGINT'); // as a terminal's Ctrl+C does: to the whole foreground group
    await server.exit;
    // npm, its shell, tsx and the server: every process of the group has exited, and the port is closed.
    const groupAlive = (): boolean => {
      try {
        process.kill(-server.child.pid!, 0);
        return true;
      } catch {
        return false;
      }
    };
    await expect.poll(groupAlive, { timeout: 30_000 }).toBe(false);
    expect(server.stdout()).toBe(`ScreenAsk server: ${server.url}\n`);
    await expect(fetch(`${server.url}/models`)).rejects.toThrow();
  });

  it('takes the key from SCREENASK_API_KEY and requires it', async () => {
    const server = await node(['--model', scriptedDir, '--port', '0'], { SCREENASK_API_KEY: 'sk-from-env' });
    const refused = await fetch(`${server.url}/models`);
    expect(refused.status).toBe(401);
    const client = new OpenAI({ baseURL: server.url, apiKey: 'sk-from-env', maxRetries: 0 });
    expect((await client.models.list()).data).toHaveLength(1);
    server.child.kill('SIGTERM');
    expect((await server.exit).code).toBe(0);
  });
});

describe('refusals, in one line, exit 1', () => {
  it('a host other computers can reach, without a key, before the model loads', async () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.20', 'myhost.example']) {
      const result = await runScript(serve, ['--model', path.join(root, 'no-such-model'), '--host', host]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(
        `error: --host ${host} lets other computers reach the model: add --api-key KEY (or SCREENASK_API_KEY) so that only clients with the key can use it, or keep the default --host 127.0.0.1.\n`,
      );
    }
  });

  it.each<[string, string[], RegExp]>([
    ['no --model', ['--port', '0'], /^error: Missing --model DIR\. usage: npm run serve -- --model DIR/],
    ['a port out of range', ['--model', 'x', '--port', '70000'], /^error: Invalid value for --port: a whole number from 0 to 65535 \(got "70000"\)\.$/],
    ['an unknown flag', ['--model', 'x', '--frobnicate'], /^error: Unknown option '--frobnicate'.*\(usage: npm run serve/],
    ['an unknown detail', ['--model', 'x', '--detail', 'ultra'], /^error: Invalid value for --detail: "ultra" \(use one of low, high\)\.$/],
    ['an empty key', ['--model', 'x', '--api-key', ' '], /^error: Empty --api-key/],
    ['a missing model folder', ['--model', '/nonexistent/model', '--port', '0'], /^error: .*\/nonexistent\/model/],
  ])('%s', async (_, args, message) => {
    const result = await runScript(serve, args);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr.trimEnd()).toMatch(message);
  });

  it('a port in use', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      const result = await runScript(serve, ['--model', scriptedDir, '--port', String(port)]);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(`error: Port ${port} on 127.0.0.1 is in use: pick another with --port N (or --port 0 for any free one).\n`);
    } finally {
      blocker.close();
    }
  });
});
