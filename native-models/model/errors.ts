/**
 * An error whose message is one line a user can act on: what is wrong and how to fix it. The CLI and the app print
 * `message` alone for these; anything else is a bug and keeps its stack.
 */
export class ScreenAskError extends Error {
  override name = 'ScreenAskError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** First line of an underlying error, for wrapping native/runtime messages into one-line errors. */
export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n').find((line) => line.trim() !== '')?.trim() ?? 'unknown error';
}

/** A failed file read in words a user can act on ("no such file", "permission denied"), for one-line errors. */
export function fileProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'no such file';
  if (code === 'EISDIR') return 'it is a directory, not a file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return `the file could not be read (${code ?? firstLine(error)})`;
}
