/** The `ask` command line, run as a real process on a generated model. */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_COMMAND_LINE_BYTES } from '../../native-models/cli/question.js';
import { repoRoot, runScript, type ScriptResult } from '../support/run-script.js';
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
    [['--model', 'MODEL', '--temperature', '12', 'q'], /^error: Invalid --temperature: must be a number from 0 to 5 \(got 12\)\./],
    [['--model', 'MODEL', '--temperature', '-1', 'q'], /^error: Invalid --temperature: must be a number from 0 to 5 \(got -1\)\./],
    [['--model', 'MODEL', '--max-new-tokens', '-5', 'q'], /^error: Invalid --max-new-tokens: must be a whole number from 1 to 8192 \(got -5\)\./],
    [['--model', 'CONFIG_FILE', 'q'], /^error: Model path .*config\.json is a file, not a folder: pass the folder that holds config\.json/],
    [['--model', 'MODEL', '--precision', 'fp8', 'q'], /^error: Invalid value for --precision: "fp8" \(use one of auto, fp32/],
    [['--model', 'MODEL', '--question-file', 'NOWHERE'], /^error: Cannot read --question-file .*none: no such file\./],
    [['--model', 'MODEL', '--top-p', 'lots', 'q'], /^error: Invalid value for --top-p/],
    [['--model', 'MODEL', '--precision', 'q4', 'q'], /^error: Model in .* has no q4 files/],
    [['--model', 'MODEL', 'q', '--follow-up', ' '], /^error: Empty --follow-up question/],
    [['--model', 'MODEL', '--max-pixels', '10', 'q'], /^error: Invalid setting imagePixels\.high: .*\(got 10\)/],
    [['--model', 'MODEL', '--max-pixels', 'many', 'q'], /^error: Invalid value for --max-pixels/],
  ])('bad input %j exits 1 with one line and no stack trace', async (args, message) => {
    const notImage = path.join(root, 'notes.txt');
    await writeFile(notImage, 'hello');
    const resolved = args.map((a) =>
      a === 'MODEL' ? modelDir
      : a === 'IMAGE' ? image
      : a === 'NOWHERE' ? path.join(root, 'none')
      : a === 'NOT_IMAGE' ? notImage
      : a === 'CONFIG_FILE' ? path.join(modelDir, 'config.json')
      : a,
    );
    const result = await runScript(ask, resolved);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stderr).not.toContain('unexpected');
  });

  it('checks the image before loading the model: a bad image next to a broken model is what gets reported', async () => {
    const broken = path.join(root, 'broken-model');
    await cp(modelDir, broken, { recursive: true });
    await truncate(path.join(broken, 'onnx', 'decoder_model_merged_quantized.onnx'), 100);
    const notImage = path.join(root, 'not-an-image.png');
    await writeFile(notImage, 'hello');
    const result = await runScript(ask, ['--model', broken, '--image', notImage, 'q']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: Cannot read image .*not-an-image\.png": not a supported image format/);
    // The model is broken too, which loading it would have reported instead.
    const loaded = await runScript(ask, ['--model', broken, '--image', image, 'q']);
    expect(loaded.stderr).toMatch(/^error: Cannot load onnx\/decoder_model_merged_quantized\.onnx: /);
  });
});

describe('a long question', () => {
  // Over the command-line length at which onnxruntime's InferenceSession.create segfaults (~28,950 bytes).
  const long = `What does this say? ${'a'.repeat(30_000)}`;
  const oneLineError = (result: ScriptResult, message: RegExp): void => {
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  };

  it('on the command line is refused in one line, exit 1, before anything loads', async () => {
    oneLineError(
      await runScript(ask, ['--model', modelDir, long]),
      /^error: The command line is 30,\d{3} bytes long, over the 24,576 that onnxruntime survives: pass a long question in a file with --question-file FILE, or on stdin with -/,
    );
  });

  it('just under the limit loads the model and answers: the limit sits below the length at which onnxruntime crashes', async () => {
    // The command line as ask.ts measures it (executable, Node options, script, arguments), filled with a question to
    // a few bytes under MAX_COMMAND_LINE_BYTES. Were the limit above the crash (or a new onnxruntime crash earlier),
    // this run would die with exit 139 in InferenceSession.create instead of answering.
    const args = ['--model', modelDir, '--max-new-tokens', '1', '--json'];
    const fixed = [process.execPath, '--import', 'tsx', path.join(repoRoot, ask), ...args].reduce((sum, part) => sum + Buffer.byteLength(part) + 1, 0);
    const room = MAX_COMMAND_LINE_BYTES - fixed - 1 - 8;
    const question = 'screenshot '.repeat(Math.ceil(room / 11)).slice(0, room).trim();
    const result = await runScript(ask, [...args, question]);
    expect(result.stderr).not.toMatch(/command line is/);
    expect(result.code).toBe(0);
    // A long prompt really went through the decoder (about one token per word of the question).
    expect(JSON.parse(result.stdout).promptTokenIds.length).toBeGreaterThan(room / 11);
  });

  it('through npm run -s as well (npm used to exit 249 in silence)', async () => {
    const result = await new Promise<ScriptResult>((resolve) =>
      execFile('npm', ['run', '-s', 'ask', '--', '--model', modelDir, long], { cwd: repoRoot }, (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
      ),
    );
    oneLineError(result, /^error: The command line is .* bytes long/);
  });

  it('from --question-file reaches the model, which names its limit when the question cannot fit', async () => {
    const file = path.join(root, 'long-question.txt');
    await writeFile(file, long);
    oneLineError(
      await runScript(ask, ['--model', modelDir, '--max-new-tokens', '2', '--question-file', file]),
      /^error: This question is too long for the model: the prompt is [\d,]+ tokens and the model's context holds 8,192 \(prompt and answer together\)\. Shorten it to at most [\d,]+ tokens \(about [\d,]+ characters\)\./,
    );
  });

  it('from stdin (-) is answered like one on the command line', async () => {
    const args = ['--model', modelDir, '--image', image, '--max-new-tokens', '4', '--detail', 'low', '--precision', 'fp32', '--json'];
    const fromStdin = await new Promise<ScriptResult>((resolve) => {
      const child = execFile(process.execPath, ['--import', 'tsx', path.join(repoRoot, ask), ...args, '-'], { cwd: repoRoot }, (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
      );
      child.stdin!.end('What colour?\n');
    });
    const fromArgs = await runScript(ask, [...args, 'What colour?']);
    expect(fromStdin.code).toBe(0);
    expect(JSON.parse(fromStdin.stdout).promptTokenIds).toEqual(JSON.parse(fromArgs.stdout).promptTokenIds);
  });
});
