/** The `ask` command line, run as a real process on a generated model. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScript } from '../support/run-script.js';
import { writeSolid } from '../support/images.js';

const ask = 'native-models/cli/ask.ts';
let root: string;
let modelDir: string;
let image: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-cli-'));
  modelDir = path.join(root, 'model');
  const fixtures = await runScript('test/fixtures/cli.ts', ['--out', modelDir, '--seed', '5', '--precision', 'fp32,q8']);
  expect(fixtures.code).toBe(0);
  image = await writeSolid(path.join(root, 'blue.png'), 400, 300, [20, 40, 220]);
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('npm run ask', () => {
  it('--json prints one object with token ids, text, stats and warnings', async () => {
    const result = await runScript(ask, ['--model', modelDir, '--image', image, '--max-new-tokens', '6', '--detail', 'low', '--json', 'What colour?']);
    expect(result.code).toBe(0);
    const answer = JSON.parse(result.stdout);
    expect(answer.tokenIds).toHaveLength(6);
    expect(typeof answer.text).toBe('string');
    expect(answer.stats).toMatchObject({ cache: 'on', precision: 'q8', provider: 'cpu', imageTokens: 64, generatedTokens: 6 });
    expect(answer.warnings).toEqual([]);
  });

  it('--follow-up continues the conversation; --json gives every turn with its stats', async () => {
    const result = await runScript(ask, [
      '--model', modelDir, '--image', image, '--max-new-tokens', '5', '--detail', 'low', '--precision', 'fp32', '--json',
      'What colour?', '--follow-up', 'Why?', '--follow-up', 'Are you sure?',
    ]);
    expect(result.code).toBe(0);
    const output = JSON.parse(result.stdout);
    expect(output.turns).toHaveLength(3);
    expect(output.tokenIds).toEqual(output.turns[0].tokenIds);
    for (const turn of output.turns) {
      expect(turn.tokenIds).toHaveLength(5);
      expect(typeof turn.text).toBe('string');
    }
    expect(output.turns[0].stats.reusedPromptTokens).toBe(0);
    expect(output.turns[1].stats.reusedPromptTokens).toBeGreaterThan(64);
    expect(output.turns[2].stats.reusedPromptTokens).toBeGreaterThan(output.turns[1].stats.reusedPromptTokens);
    expect(output.turns[1].stats.imageEncodeMs).toBe(0);
  });

  it('streams plain text and prints the figures on stderr; --no-cache gives the same text', async () => {
    const args = ['--model', modelDir, '--image', image, '--max-new-tokens', '6', '--detail', 'low', '--precision', 'fp32'];
    const cached = await runScript(ask, [...args, 'What colour?']);
    const uncached = await runScript(ask, [...args, '--no-cache', 'What colour?']);
    expect(cached.code).toBe(0);
    expect(cached.stderr).toMatch(/tok\/s .* cache on · fp32 on cpu/);
    expect(uncached.stderr).toMatch(/cache off/);
    expect(uncached.stdout).toBe(cached.stdout);
  });

  it.each([
    [['--image', 'IMAGE', 'q'], /^error: Missing --model DIR/],
    [['--model', 'NOWHERE', 'q'], /^error: Model directory .* does not exist/],
    [['--model', 'MODEL', '--image', 'NOT_IMAGE', 'q'], /^error: Cannot read image .*notes\.txt/],
    [['--model', 'MODEL', '--temperature', '12', 'q'], /^error: Invalid setting temperature: .*\(got 12\)/],
    [['--model', 'MODEL', '--top-p', 'lots', 'q'], /^error: Invalid value for --top-p/],
    [['--model', 'MODEL', '--precision', 'q4', 'q'], /^error: Model in .* has no q4 files/],
    [['--model', 'MODEL', 'q', '--follow-up', ' '], /^error: Empty --follow-up question/],
    [['--model', 'MODEL', '--max-pixels', '10', 'q'], /^error: Invalid setting imagePixels\.high: .*\(got 10\)/],
    [['--model', 'MODEL', '--max-pixels', 'many', 'q'], /^error: Invalid value for --max-pixels/],
  ])('bad input %j exits 1 with one line and no stack trace', async (args, message) => {
    const notImage = path.join(root, 'notes.txt');
    await writeFile(notImage, 'hello');
    const resolved = args.map((a) =>
      a === 'MODEL' ? modelDir : a === 'IMAGE' ? image : a === 'NOWHERE' ? path.join(root, 'none') : a === 'NOT_IMAGE' ? notImage : a,
    );
    const result = await runScript(ask, resolved);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stderr).not.toContain('unexpected');
  });
});
