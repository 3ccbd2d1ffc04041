/**
 * `npm run ask`'s argument parser with random command lines built from its own flags, values of every kind
 * (negative numbers, `=`-joined, empty, Unicode) and stray words: it returns a command whose settings are valid, or
 * throws a one-line ScreenAskError; never anything else.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAskArgs } from '../../native-models/cli/options.js';
import { generationOptionsSchema } from '../../native-models/generation/settings.js';
import { ScreenAskError } from '../../native-models/model/errors.js';
import { precisions } from '../../native-models/model/precision.js';
import { devices } from '../../native-models/runtime/devices.js';
import { isOneLine } from './arbitraries.js';

const flags = [
  'model', 'image', 'max-new-tokens', 'temperature', 'top-p', 'top-k', 'repetition-penalty', 'seed', 'no-cache', 'precision',
  'device', 'threads', 'detail', 'max-pixels', 'json', 'follow-up', 'question-file', 'bogus',
  'server', 'server-model', 'api-key', 'server-timeout',
];
const value = fc.oneof(
  fc.double({ noNaN: false }).map(String),
  fc.integer({ min: -100, max: 10_000 }).map(String),
  fc.constantFrom('auto', 'q8', 'fp32', 'low', 'high', 'cpu', '', ' ', '-', '--', '-1', '-.5', '1e3', 'NaN', 'Infinity'),
  fc.constantFrom('http://127.0.0.1:8000', 'https://gpu-box/v1/', 'ftp://x', 'http://u:p@h', 'localhost:11434'),
  fc.string({ maxLength: 8, unit: 'grapheme' }),
);
const token = fc.oneof(
  fc.constantFrom(...flags).map((f) => `--${f}`),
  fc.tuple(fc.constantFrom(...flags), value).map(([f, v]) => `--${f}=${v}`),
  value,
);

describe('the ask argument parser (fuzzed)', () => {
  it('returns valid settings or a one-line ScreenAskError for any command line', () => {
    fc.assert(
      fc.property(fc.array(token, { maxLength: 12 }), (argv) => {
        let command;
        try {
          command = parseAskArgs(argv);
        } catch (error) {
          expect(error).toBeInstanceOf(ScreenAskError);
          expect(isOneLine((error as Error).message)).toBe(true);
          return;
        }
        // Exactly one backend: a model directory, or a server whose URL is already normalised.
        expect(command.model === undefined).toBe(command.server !== undefined);
        if (command.model !== undefined) expect(command.model.length).toBeGreaterThan(0);
        if (command.server) expect(command.server.url).toMatch(/^https?:\/\/[^/?#@]+(\/[^?#]*[^/?#])?$/);
        expect(generationOptionsSchema.strict().safeParse(command.generation).success).toBe(true);
        expect(['auto', ...precisions]).toContain(command.precision);
        expect(devices).toContain(command.device);
        expect(['low', 'high']).toContain(command.detail);
        if (command.question.from === 'text') expect(command.question.text).toMatch(/^\S(.*\S)?$/s);
      }),
      { numRuns: 1000 },
    );
  });
});
