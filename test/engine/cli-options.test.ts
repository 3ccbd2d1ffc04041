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
      question: 'what is this?',
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

  it.each([
    [['hi'], /Missing --model/],
    [['--model', 'm'], /Missing the question/],
    [['--model', 'm', '--top-k', 'many', 'q'], /--top-k: expected a number \(got "many"\)/],
    [['--model', 'm', '--precision', 'fp8', 'q'], /--precision: "fp8" \(use one of fp32, fp16/],
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
