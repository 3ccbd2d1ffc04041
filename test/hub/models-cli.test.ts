/** `npm run models` as a real process, talking to the fake Hub on loopback through HF_ENDPOINT. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatProgress, progressReporter } from '../../native-models/cli/models.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { fakeSha, folderFiles, startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { repoRoot, runScript } from '../support/run-script.js';

const cli = 'native-models/cli/models.ts';
let root: string;
let hub: FakeHub;
let modelsDir: string;
let source: string;


const models = (...args: string[]) => runScript(cli, [...args, '--models-dir', modelsDir]);

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-models-cli-'));
  modelsDir = path.join(root, 'models');
  source = path.join(root, 'export');
  await writeSmolVlmModel(source, { seed: 9, precisions: ['q8'], useCacheFlag: false });
  hub = await startFakeHub({ repos: { 'HuggingFaceTB/SmolVLM-256M-Instruct': { sha: fakeSha('cli'), files: await folderFiles(source) } } });
  // The child inherits the environment: the same variable huggingface_hub reads.
  process.env.HF_ENDPOINT = hub.endpoint;
  delete process.env.HF_TOKEN;
});

afterAll(async () => {
  await hub?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('npm run models', () => {
  it('list shows the catalogue with class and install state; --remote adds what the Hub offers', async () => {
    const local = await models('list');
    expect(local.code).toBe(0);
    expect(local.stdout).toMatch(/^SmolVLM-256M-Instruct\s+cpu\s+not installed$/m);
    expect(local.stdout).toMatch(/^Qwen2.5-VL-3B-Instruct\s+gpu\s+not installed$/m);

    const remote = await models('list', '--remote');
    expect(remote.code).toBe(0);
    expect(remote.stdout).toMatch(/^SmolVLM-256M-Instruct .*available: q8 \([\d.]+ [kM]B\)$/m);
    // Repos the fake Hub does not have are reported per row, not fatal.
    expect(remote.stdout).toMatch(/^Qwen2-VL-2B-Instruct .*available: unavailable \(/m);
  });

  it('pull shows progress lines on stderr (not a TTY) and installs; list then shows it', async () => {
    const pulled = await models('pull', 'SmolVLM-256M-Instruct');
    expect(pulled.stderr).not.toMatch(/error/);
    expect(pulled.code).toBe(0);
    const lines = pulled.stderr.trim().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    expect(pulled.stderr).not.toContain('\r');
    for (const line of lines) expect(line).toMatch(/^\[[#.]{20}\]\s+\d+%\s+.+ \/ .+\s+.+\/s\s+ETA \S+\s+\S+$/);
    expect(lines.at(-1)).toMatch(/^\[#{20}\] 100%/);
    expect(pulled.stdout).toMatch(/^installed: SmolVLM-256M-Instruct q8 \([\d.]+ [kM]B, commit [0-9a-f]{12}\) in .*HuggingFaceTB--SmolVLM-256M-Instruct$/m);

    const listed = await models('list');
    expect(listed.stdout).toMatch(/^SmolVLM-256M-Instruct\s+cpu\s+installed: q8$/m);
  });

  it('import prints the report; a use_cache: false export is explained; a broken folder is one error line', async () => {
    const good = await models('import', source);
    expect(good.code).toBe(0);
    expect(good.stderr).toMatch(/^use_cache:\s+false in config.json/m);
    expect(good.stderr).toMatch(/--no-cache/);
    expect(good.stdout).toMatch(/is ready: smolvlm, precisions q8; .*use_cache: false.*; used in place, not copied\.\n$/);

    await unlink(path.join(source, 'tokenizer.json'));
    const bad = await models('import', source);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^missing:\n {2}- tokenizer.json$/m);
    const errors = bad.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors).toEqual([`error: Model folder ${source} cannot be used: missing tokenizer.json.`]);
  });

  it('Ctrl+C cancels cleanly: exit 130, one line, the partial download kept and resumed by the same command', async () => {
    const dir = path.join(root, 'models-cancel');
    hub.setFault('*', { kind: 'slow', bytesPerSecond: 50_000 }, Infinity);
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, cli), 'pull', 'SmolVLM-256M-Instruct', '--models-dir', dir], {
      cwd: repoRoot,
    });
    let stderr = '';
    let interrupted = false;
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // Interrupt once the first progress line shows the transfer is under way.
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('%') && !interrupted) interrupted = child.kill('SIGINT');
    });
    const code = await exited;
    hub.clearFaults();
    expect(code).toBe(130);
    expect(stderr.trim().split('\n').at(-1)).toBe('cancelled: the partial download is kept; run the same command again to resume.');
    const folder = path.join(dir, 'HuggingFaceTB--SmolVLM-256M-Instruct');
    expect(existsSync(path.join(folder, '.screenask-pull.json'))).toBe(true);
    expect(existsSync(path.join(folder, 'screenask-model.json'))).toBe(false);

    const resumed = await runScript(cli, ['pull', 'SmolVLM-256M-Instruct', '--models-dir', dir]);
    expect(resumed.code).toBe(0);
    expect(existsSync(path.join(folder, 'screenask-model.json'))).toBe(true);
  });

  it('a bad id exits 1 with one line', async () => {
    const result = await models('pull', 'NoSuchModel');
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^error: Unknown model "NoSuchModel": choose one of SmolVLM-256M-Instruct, /)]);
  });

  it('recommend follows the documented rule; remove deletes a download', async () => {
    const cpu = await models('recommend', '--no-gpu', '--memory-gb', '4');
    expect(cpu.stdout).toMatch(/^SmolVLM-256M-Instruct q8: no GPU and 4 GB/);
    const gpu = await models('recommend', '--gpu', '--memory-gb', '32');
    expect(gpu.stdout).toMatch(/^Qwen2.5-VL-3B-Instruct q4f16: a GPU/);

    const removed = await models('remove', 'SmolVLM-256M-Instruct');
    expect(removed.code).toBe(0);
    expect(removed.stdout).toMatch(/^removed SmolVLM-256M-Instruct/);
  });
});

describe('progress formatting', () => {
  const p = { file: 'onnx/x.onnx', fileBytes: 5, fileTotal: 10, bytes: 35_000_000, total: 100_000_000, bytesPerSecond: 5_000_000, etaSeconds: 13 };

  it('shows bar, percent, bytes, rate and ETA', () => {
    expect(formatProgress(p)).toBe('[#######.............]  35%  35 MB / 100 MB  5.0 MB/s  ETA 0:13  onnx/x.onnx');
    expect(formatProgress({ ...p, etaSeconds: undefined })).toContain('ETA --');
  });

  it('redraws one line with \\r on a TTY and writes whole lines otherwise', () => {
    let t = 0;
    const tty: string[] = [];
    const reporter = progressReporter({ isTTY: true, write: (s: string) => tty.push(s) }, () => t);
    reporter.update(p);
    t = 50; // throttled
    reporter.update({ ...p, bytes: 36_000_000 });
    t = 200;
    reporter.update({ ...p, bytes: 100_000_000, fileBytes: 10 });
    reporter.end();
    expect(tty).toHaveLength(3);
    expect(tty[0]).toMatch(/^\r\[/);
    expect(tty.at(-1)).toBe('\n');

    const plain: string[] = [];
    const lines = progressReporter({ isTTY: false, write: (s: string) => plain.push(s) }, () => 0);
    lines.update(p);
    lines.update({ ...p, fileBytes: 10 }); // the file finished: always a line
    lines.update({ ...p, fileBytes: 10 });
    lines.end();
    expect(plain).toEqual([`${formatProgress(p)}\n`, `${formatProgress({ ...p, fileBytes: 10 })}\n`]);
  });
});
