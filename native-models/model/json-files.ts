import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import { ScreenAskError } from './errors.js';

/** Reads and validates one JSON file of a model directory; every failure names the file and the fix. */
export async function readModelJson<T extends z.ZodType>(
  dir: string,
  file: string,
  schema: T,
  { optional = false } = {},
): Promise<z.infer<T> | undefined> {
  const full = path.join(dir, file);
  let text: string;
  try {
    text = await readFile(full, 'utf8');
  } catch (error) {
    if (optional && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ScreenAskError(`Model file ${file} is missing in ${dir}: download the model again or re-export it.`, {
      cause: error,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ScreenAskError(`Model file ${file} is not valid JSON (${(error as Error).message}): download it again.`, {
      cause: error,
    });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : '(root)';
    throw new ScreenAskError(`Model file ${file} is malformed at ${where}: ${issue.message}.`);
  }
  return parsed.data;
}
