import { describe, expect, it } from 'vitest';
import { parseAskArgs } from '../../native-models/cli/options.js';

describe('ask command-line options', () => {
  it('parses every flag into typed options', () => {
    const command = parseAskArgs([
      '--model', 'm', '--image', 'i.png', '--max-new-tokens', '12', '--temperature', '0.7', '--top-p', '0.9',
      '--top-k', '40', '--repetition-penalty', '1.1', '--seed', '5', '--no-cache', '--precision', 'q8',
      '--detail', 'low', '--device', 'cpu', '--threads', '2', '--json', 'what', 'is', 'this?',
    ]);
    expect(command).toMatchObject({
      model: 'm',
      image: 'i.png',
      question: { from: 'text', text: 'what is this?' },
      precision: 'q8',
      detail: 'low',
      device: 'cpu',
      threads: 2,
      json: true,
      generation: { maxNewTokens: 12, temperature: 0.7, topP: 0.9, topK: 40, repetitionPenalty: 1.1, seed: 5, useCache: false },
    });
  });

  it('leaves unset options to the model defaults', () => {
    const command = parseAskArgs(['--model', 'm', 'hi']);
    expect(command.generation).toEqual({});
    expect(command.precision).toBe('auto');
    expect(command.detail).toBe('high');
  });

  it('takes the question from stdin with -, or from --question-file', () => {
    expect(parseAskArgs(['--model', 'm', '-']).question).toEqual({ from: 'stdin' });
    expect(parseAskArgs(['--model', 'm', '--question-file', 'long.txt']).question).toEqual({ from: 'file', path: 'long.txt' });
  });

  it('reads a negative number after a flag as its value, and leaves what follows -- alone', () => {
    expect(parseAskArgs(['--model', 'm', '--temperature', '-0', 'q']).generation.temperature).toBe(-0);
    expect(parseAskArgs(['--model', 'm', '--', '-1']).question).toEqual({ from: 'text', text: '-1' });
  });

  it.each([
    [['hi'], /Missing --model/],
    [['--model', 'm'], /Missing the question/],
    [['--model', 'm', '--top-k', 'many', 'q'], /--top-k: expected a number \(got "many"\)/],
    [['--model', 'm', '--precision', 'fp8', 'q'], /--precision: "fp8" \(use one of auto, fp32, fp16/],
    [['--model', 'm', '--temperature', '-1', 'q'], /^Invalid --temperature: must be a number from 0 to 5 \(got -1\)\.$/],
    [['--model', 'm', '--max-new-tokens', '-5', 'q'], /^Invalid --max-new-tokens: must be a whole number from 1 to 8192 \(got -5\)\.$/],
    [['--model', 'm', '--top-p', '-.5', 'q'], /^Invalid --top-p: must be a number above 0 and at most 1 \(got -0\.5\)\.$/],
    [['--model', 'm', '--seed', '-1e3', 'q'], /^Invalid --seed: must be a whole number from 0 to 4294967295 \(got -1000\)\.$/],
    [['--model', 'm', '--max-new-tokens', '0', 'q'], /^Invalid --max-new-tokens: must be a whole number from 1 to 8192 \(got 0\)\.$/],
    [['--model', 'm', '--question-file', 'q.txt', 'and text'], /^Give the question once/],
    [['--model', 'm', '--question-file', ' '], /^Empty --question-file/],
    [['--model', 'm', '--detail', 'medium', 'q'], /--detail/],
    [['--model', 'm', '--bogus', 'q'], /Unknown option '--bogus'/],
  ])('rejects %j with one line', (argv, message) => {
    expect(() => parseAskArgs(argv)).toThrow(message);
    try {
      parseAskArgs(argv);
    } catch (error) {
      expect((error as Error).message).not.toContain('\n');
    }
  });
});
