// The question's way in: text on the command line (bounded, see below), stdin, or a file.
import { readFile } from 'node:fs/promises';
import { ScreenAskError, fileProblem } from '../model/errors.js';
import type { QuestionSource } from './options.js';

/**
 * onnxruntime-node 1.30's `InferenceSession.create` segfaults (exit 139, no message) once the process's command line
 * passes ~28,950 bytes (measured on Linux x64: 28,956 loads, 28,957 crashes, whatever the arguments). Refuse well
 * below that, before anything is loaded, and point to the ways in that have no limit.
 */
export const MAX_COMMAND_LINE_BYTES = 24 * 1024;

/** `parts`: the process's whole command line (executable, Node options, script and arguments). */
export function assertCommandLineFits(parts: readonly string[]): void {
  const bytes = parts.reduce((sum, part) => sum + Buffer.byteLength(part) + 1, 0);
  if (bytes <= MAX_COMMAND_LINE_BYTES) return;
  throw new ScreenAskError(
    `The command line is ${bytes.toLocaleString('en')} bytes long, over the ${MAX_COMMAND_LINE_BYTES.toLocaleString('en')} ` +
      'that onnxruntime survives: pass a long question in a file with --question-file FILE, or on stdin with - ' +
      '(npm run ask -- --model DIR - < question.txt).',
  );
}

/** The question text, read from where the command line says; an unreadable or empty source is a one-line error. */
export async function readQuestion(source: QuestionSource, stdin: AsyncIterable<Buffer | string> = process.stdin): Promise<string> {
  let text: string;
  if (source.from === 'text') {
    text = source.text;
  } else if (source.from === 'file') {
    try {
      text = await readFile(source.path, 'utf8');
    } catch (error) {
      throw new ScreenAskError(`Cannot read --question-file ${source.path}: ${fileProblem(error)}.`, { cause: error });
    }
  } else {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    text = Buffer.concat(chunks).toString('utf8');
  }
  const question = text.trim();
  if (!question) {
    const where = source.from === 'file' ? `--question-file ${source.path} is empty` : source.from === 'stdin' ? 'stdin was empty' : 'the question is empty';
    throw new ScreenAskError(`Missing the question: ${where}. Write the question there.`);
  }
  return question;
}
