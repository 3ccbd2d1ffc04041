/**
 * `npm run ask -- --server URL …` as a real child process against the stand-in: what it prints, what it sends, its
 * one-line errors, and (with the network sentinel loaded) that the only connections it opens go to the server's
 * host:port.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeScreenshotLike } from '../support/images.js';
import { startStandIn, type StandIn } from '../support/openai-stand-in.js';
import { repoRoot, runScript, type ScriptResult } from '../support/run-script.js';

const ask = 'native-models/cli/ask.ts';
const sentinel = path.join(repoRoot, 'test/support/network-sentinel.mjs');
let root: string;
let image: string;
let server: StandIn;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-remote-cli-'));
  image = await writeScreenshotLike(path.join(root, 'screen.png'), 1280, 720);
  server = await startStandIn({ mode: 'vllm' });
});

afterAll(async () => {
  await server?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

afterEach(() => {
  server.set({ apiKey: undefined, behaviour: 'answer' });
  server.requests.length = 0;
});

/** The CLI with the network sentinel loaded, letting only `allow` (host:port) through. */
function askWatched(args: readonly string[], log: string, allow: string): Promise<ScriptResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--import', sentinel, path.join(repoRoot, ask), ...args],
      { cwd: repoRoot, timeout: 120_000, env: { ...process.env, SCREENASK_NETWORK_LOG: log, SCREENASK_NETWORK_ALLOW: allow } },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('npm run ask -- --server', () => {
  it('streams the answer to stdout and the stats line to stderr', async () => {
    const result = await runScript(ask, ['--server', server.baseUrl, '--image', image, '--detail', 'low', '--max-new-tokens', '20', 'What does the dialog say?']);
    expect(result.stderr).toMatch(
      new RegExp(`^\\nanswered by ${server.baseUrl} \\(Qwen/Qwen2\\.5-VL-7B-Instruct\\) · first token \\d+ ms · [\\d.]+ tok/s · image 840×448 sent · 485 prompt \\+ 7 new tokens · stop: eos\\n$`),
    );
    expect(result.stdout).toBe('The dialog says the disk is full.');
    expect(result.code).toBe(0);
    const [chat] = server.requests.filter((r) => r.path === '/v1/chat/completions');
    expect(chat!.body).toMatchObject({ model: 'Qwen/Qwen2.5-VL-7B-Instruct', max_tokens: 20, stream: true });
    expect(chat!.images).toEqual([{ width: 840, height: 448 }]);
  });

  it('--json with --follow-up: every turn, with the server in its stats; the follow-up sent the whole conversation', async () => {
    const result = await runScript(ask, ['--server', server.baseUrl, '--server-model', 'Qwen/Qwen2.5-VL-7B-Instruct', '--json', 'First?', '--follow-up', 'Second?']);
    expect(result.code).toBe(0);
    const output = JSON.parse(result.stdout);
    expect(output.turns).toHaveLength(2);
    expect(output.text).toBe('The dialog says the disk is full.');
    expect(output.turns[1].stats).toMatchObject({ provider: 'remote', server: { baseUrl: server.baseUrl, model: 'Qwen/Qwen2.5-VL-7B-Instruct' }, generatedTokens: 7 });
    const chats = server.requests.filter((r) => r.path === '/v1/chat/completions');
    expect(chats[1]!.body!.messages).toEqual([
      { role: 'user', content: 'First?' },
      { role: 'assistant', content: 'The dialog says the disk is full.' },
      { role: 'user', content: 'Second?' },
    ]);
  });

  it('sends the API key from --api-key; a refused key is one line and exit 1', async () => {
    server.set({ apiKey: 'sesame' });
    const refused = await runScript(ask, ['--server', server.baseUrl, '--api-key', 'wrong', 'Hi']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`error: The server at ${server.baseUrl} refused the API key (401: Unauthorized): give the key it expects (--api-key, or the server's settings).\n`);
    const accepted = await runScript(ask, ['--server', server.baseUrl, '--api-key', 'sesame', 'Hi']);
    expect(accepted.code).toBe(0);
    expect(server.requests.at(-1)!.headers.authorization).toBe('Bearer sesame');
  });

  it.each([
    [['--model', 'dir', '--server', 'http://127.0.0.1:1', 'Hi'], 'error: Give --model DIR (a model on this computer) or --server URL (a server), not both.\n'],
    [['--server', 'http://127.0.0.1:1', '--precision', 'q8', 'Hi'], 'error: --precision sets up a model on this computer: leave it out with --server.\n'],
    [['--model', 'dir', '--api-key', 'k', 'Hi'], 'error: --api-key goes with --server URL.\n'],
    [['--server', 'ftp://127.0.0.1/v1', 'Hi'], 'error: Invalid server URL "ftp://127.0.0.1/v1": it must start with http:// or https:// (got ftp:).\n'],
    [['--server', 'SERVER', '--temperature', '9', 'Hi'], 'error: Invalid --temperature: must be a number from 0 to 5 (got 9).\n'],
    [['--server', 'SERVER', '--image', 'missing.png', 'Hi'], 'error: Cannot read image "missing.png": no such file\n'],
  ])('%j is refused in one line before anything is sent', async (args, stderr) => {
    const result = await runScript(ask, args.map((a) => (a === 'SERVER' ? server.baseUrl : a)));
    expect(result.stderr).toBe(stderr);
    expect(result.code).toBe(1);
    expect(server.requests).toEqual([]);
  });

  it('privacy: the only connections it opens go to the server it was given', async () => {
    const log = path.join(root, 'network.log');
    const result = await askWatched(['--server', server.baseUrl, '--image', image, '--detail', 'low', 'What does the dialog say?', '--follow-up', 'And?'], log, server.address);
    expect(result.stderr).toMatch(/^\nanswered by /);
    expect(result.code).toBe(0);
    const records = (await readFile(log, 'utf8')).split('\n').filter(Boolean).map((line) => JSON.parse(line) as { kind: string; target: string; allowed?: boolean });
    const network = records.filter((r) => r.kind !== 'local');
    // The sentinel saw the fetches and the TCP connection(s) under them, and nothing else: no name lookup, no other host.
    expect(network.filter((r) => r.kind === 'fetch').map((r) => r.target)).toEqual([
      `${server.baseUrl}/models`,
      `${server.baseUrl}/chat/completions`,
      `${server.baseUrl}/chat/completions`,
    ]);
    expect(network.filter((r) => r.kind === 'tcp').length).toBeGreaterThan(0);
    expect(network.filter((r) => r.target !== server.address && !r.target.startsWith(server.baseUrl))).toEqual([]);
    expect(network.every((r) => r.allowed === true)).toBe(true);
  });

  it('privacy (the check can fail): a server at another address than the one allowed is recorded and refused', async () => {
    const log = path.join(root, 'network-refused.log');
    const result = await askWatched(['--server', server.baseUrl, 'Hi'], log, '127.0.0.1:9');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: Cannot reach the server at /);
    const records = (await readFile(log, 'utf8')).split('\n').filter(Boolean).map((line) => JSON.parse(line) as { kind: string; target: string; allowed?: boolean });
    expect(records).toContainEqual(expect.objectContaining({ kind: 'fetch', target: `${server.baseUrl}/models` }));
    expect(records.some((r) => r.allowed)).toBe(false);
    expect(server.requests).toEqual([]);
  });
});
