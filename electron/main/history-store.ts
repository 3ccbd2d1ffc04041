/**
 * The local history of questions and answers: `<dir>/history.json` plus, only when the user opted in, each
 * conversation's screenshot as `<dir>/history-screenshots/<id>.png`.
 *
 * Guarantees:
 * - Opening never throws for a bad file: a corrupt or unknown-version `history.json` is set aside
 *   (`history.corrupt-<timestamp>.json`, never deleted), reported in `problems`, and the history starts empty.
 * - Writes are atomic (temp file, fsync, rename) and serialised: each change applies to the result of the previous
 *   one, so concurrent records are all kept. Memory changes only after the disk did, so a failed write loses nothing
 *   that was shown.
 * - Ids are checked before they become file names, so no id can reach outside the screenshots folder.
 * - A screenshot is written before the entry that points at it and deleted after the entry lets go of it; a crash in
 *   between leaves an unreferenced file, which the next open deletes (what the user deleted stays deleted).
 *
 * Plain Node on purpose (no `electron` import): the web harness runs it outside Electron.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ScreenAskError, firstLine } from '../../native-models/model/errors.js';
import { answerStatsSchema } from '../shared/engine-protocol.js';
import type { AnswerStatsView, HistoryEntry, HistoryTurn } from '../shared/ipc.js';

export const HISTORY_FILE = 'history.json';
export const SCREENSHOTS_DIR = 'history-screenshots';
const HISTORY_VERSION = 1;
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const turnSchema = z
  .object({
    question: z.string(),
    answer: z.string(),
    stats: answerStatsSchema.optional(),
    incomplete: z.boolean().optional(),
  })
  .strict();
const entrySchema = z
  .object({
    id: z.string().regex(ID),
    askedAt: z.iso.datetime(),
    model: z.string(),
    turns: z.array(turnSchema).min(1),
    hasScreenshot: z.boolean(),
  })
  .strict();
const fileSchema = z.object({ version: z.literal(HISTORY_VERSION), entries: z.array(entrySchema) }).strict();

export interface HistoryStoreOptions {
  /** Entries kept; beyond it the oldest go, screenshots included. Default 500. */
  readonly maxEntries?: number;
}

export interface HistoryRecord {
  /** The conversation's id: its first turn creates the entry, later turns append to it. */
  readonly conversationId: string;
  readonly model: string;
  readonly question: string;
  readonly answer: string;
  readonly stats?: AnswerStatsView;
  /** The answer was cut short (stopped, or an error). */
  readonly incomplete?: boolean;
  /** A PNG, kept only with the first turn, and only passed when the user opted in to keeping screenshots. */
  readonly screenshot?: Uint8Array;
}

export class HistoryStore {
  /** Oldest first (the order they were asked in); `list` reverses it. Replaced on change, never mutated. */
  private entries: readonly HistoryEntry[];
  /** The tail of the write queue; it never rejects, so one failed write does not block the ones behind it. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly dir: string,
    private readonly maxEntries: number,
    entries: readonly HistoryEntry[],
    /** One line per problem found while opening. */
    readonly problems: readonly string[],
  ) {
    this.entries = entries;
  }

  static async open(dir: string, options: HistoryStoreOptions = {}): Promise<HistoryStore> {
    const maxEntries = options.maxEntries ?? 500;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new ScreenAskError(`History size ${maxEntries} is not valid: keep at least one entry.`);
    }
    const { entries, problems } = await load(dir);
    // Only a clean load knows every screenshot's owner; after a set-aside the old screenshots may still be wanted.
    if (problems.length === 0) await removeUnreferenced(dir, entries);
    return new HistoryStore(dir, maxEntries, entries, problems);
  }

  async record(turn: HistoryRecord): Promise<void> {
    const id = checkId(turn.conversationId);
    if (turn.screenshot !== undefined) checkPng(turn.screenshot);
    return this.enqueue(async () => {
      const next = toTurn(turn);
      if (this.entries.some((e) => e.id === id)) {
        await this.commit(this.entries.map((e) => (e.id === id ? { ...e, turns: [...e.turns, next] } : e)));
        return;
      }
      const hasScreenshot = turn.screenshot !== undefined;
      if (turn.screenshot !== undefined) await this.writeScreenshot(id, turn.screenshot);
      const all = [...this.entries, { id, askedAt: new Date().toISOString(), model: turn.model, turns: [next], hasScreenshot }];
      const dropped = all.slice(0, Math.max(0, all.length - this.maxEntries));
      try {
        await this.commit(all.slice(dropped.length));
      } catch (error) {
        if (hasScreenshot) await this.removeScreenshot(id);
        throw error;
      }
      for (const old of dropped) if (old.hasScreenshot) await this.removeScreenshot(old.id);
    });
  }

  /** Newest first; a query keeps the entries whose questions and answers contain every one of its words. */
  async list(query?: string): Promise<HistoryEntry[]> {
    await this.queue; // read your own writes: a record just made is listed
    const words = (query ?? '').toLowerCase().split(/\s+/).filter(Boolean);
    const matches = (entry: HistoryEntry) => {
      const text = entry.turns.map((t) => `${t.question}\n${t.answer}`).join('\n').toLowerCase();
      return words.every((word) => text.includes(word));
    };
    return this.entries.filter(matches).reverse();
  }

  /** Forgets an entry and deletes its screenshot; an id that is not there is already deleted. */
  async delete(id: string): Promise<void> {
    checkId(id);
    return this.enqueue(async () => {
      const entry = this.entries.find((e) => e.id === id);
      if (!entry) return;
      await this.commit(this.entries.filter((e) => e !== entry));
      if (entry.hasScreenshot) await this.removeScreenshot(id);
    });
  }

  async clear(): Promise<void> {
    return this.enqueue(async () => {
      await this.commit([]);
      await this.removeScreenshotsFolder();
    });
  }

  /** The user turned keeping screenshots off: every kept one goes, the questions and answers stay. */
  async dropScreenshots(): Promise<void> {
    return this.enqueue(async () => {
      await this.commit(this.entries.map((e) => (e.hasScreenshot ? { ...e, hasScreenshot: false } : e)));
      await this.removeScreenshotsFolder();
    });
  }

  /** The kept screenshot as a PNG data URL, or null when none was kept. */
  async screenshot(id: string): Promise<string | null> {
    checkId(id);
    await this.queue;
    if (!this.entries.some((e) => e.id === id && e.hasScreenshot)) return null;
    try {
      return `data:image/png;base64,${(await readFile(this.screenshotFile(id))).toString('base64')}`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new ScreenAskError(`Could not read the screenshot of history entry ${id}: ${firstLine(error)}.`, { cause: error });
    }
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => {});
    return run;
  }

  /** Saves `entries` as the history, then makes them current (only once they are safely on disk). */
  private async commit(entries: readonly HistoryEntry[]): Promise<void> {
    const file = path.join(this.dir, HISTORY_FILE);
    try {
      await mkdir(this.dir, { recursive: true });
      await writeFileAtomic(file, `${JSON.stringify({ version: HISTORY_VERSION, entries }, null, 2)}\n`);
    } catch (error) {
      throw new ScreenAskError(`Could not save the history to ${file} (${firstLine(error)}): check that the folder is writable.`, {
        cause: error,
      });
    }
    this.entries = entries;
  }

  private screenshotFile(id: string): string {
    return path.join(this.dir, SCREENSHOTS_DIR, `${checkId(id)}.png`);
  }

  private async writeScreenshot(id: string, png: Uint8Array): Promise<void> {
    try {
      await mkdir(path.join(this.dir, SCREENSHOTS_DIR), { recursive: true });
      await writeFileAtomic(this.screenshotFile(id), png);
    } catch (error) {
      throw new ScreenAskError(`Could not save the screenshot to ${this.dir} (${firstLine(error)}): check that the folder is writable.`, {
        cause: error,
      });
    }
  }

  /** Best effort: the entry no longer points at it, and the next open deletes anything left behind. */
  private async removeScreenshot(id: string): Promise<void> {
    await rm(this.screenshotFile(id), { force: true }).catch(() => {});
  }

  private async removeScreenshotsFolder(): Promise<void> {
    await rm(path.join(this.dir, SCREENSHOTS_DIR), { recursive: true, force: true }).catch(() => {});
  }
}

function checkId(id: string): string {
  if (!ID.test(id)) {
    // JSON-quoted so that an id holding a line break still makes a one-line message.
    throw new ScreenAskError(`History id ${JSON.stringify(id.slice(0, 80))} is not valid: ids are 1 to 64 letters, digits, "-" or "_".`);
  }
  return id;
}

function checkPng(bytes: Uint8Array): void {
  if (!PNG_SIGNATURE.every((byte, i) => bytes[i] === byte)) {
    throw new ScreenAskError('The screenshot to keep in the history is not a PNG: pass the capture as PNG bytes.');
  }
}

function toTurn(turn: HistoryRecord): HistoryTurn {
  return {
    question: turn.question,
    answer: turn.answer,
    ...(turn.stats !== undefined ? { stats: turn.stats } : {}),
    ...(turn.incomplete ? { incomplete: true } : {}),
  };
}

/** Reads the history; a file that cannot be used is set aside and the history starts empty. */
async function load(dir: string): Promise<{ entries: readonly HistoryEntry[]; problems: string[] }> {
  const file = path.join(dir, HISTORY_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], problems: [] };
    return { entries: [], problems: [`Could not read ${file} (${firstLine(error)}); the history starts empty.`] };
  }
  const verdict = judge(text);
  if (verdict.ok) return { entries: verdict.entries, problems: [] };
  const aside = await setAside(dir);
  const where = 'name' in aside ? `it was set aside as ${aside.name}` : `it could not be set aside (${aside.why})`;
  return { entries: [], problems: [`${HISTORY_FILE} ${verdict.why}; ${where} and the history starts empty.`] };
}

function judge(text: string): { ok: true; entries: HistoryEntry[] } | { ok: false; why: string } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { ok: false, why: 'is not valid JSON' };
  }
  const version = (data as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && version > HISTORY_VERSION) {
    return { ok: false, why: `was written by a newer ScreenAsk (history version ${version}; this one reads ${HISTORY_VERSION})` };
  }
  const parsed = fileSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, why: `is not a history file (${issue ? `${issue.path.join('.') || 'top level'}: ${issue.message}` : 'invalid'})` };
  }
  const ids = new Set(parsed.data.entries.map((e) => e.id));
  if (ids.size !== parsed.data.entries.length) return { ok: false, why: 'lists the same entry twice' };
  return { ok: true, entries: parsed.data.entries };
}

/** Renames the history file out of the way, to a name no earlier corrupt copy holds. */
async function setAside(dir: string): Promise<{ name: string } | { why: string }> {
  const base = `history.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`; // no colons in Windows names
  const taken = new Set(await readdir(dir).catch(() => [] as string[]));
  for (let n = 0; n < 100; n++) {
    const name = n === 0 ? `${base}.json` : `${base}-${n}.json`;
    if (taken.has(name)) continue;
    try {
      await rename(path.join(dir, HISTORY_FILE), path.join(dir, name));
      return { name };
    } catch (error) {
      return { why: firstLine(error) };
    }
  }
  return { why: 'too many earlier corrupt copies with the same time stamp' };
}

/** Screenshots no entry points at (a crash between two steps), and temp files a crash left: deleted. */
async function removeUnreferenced(dir: string, entries: readonly HistoryEntry[]): Promise<void> {
  const kept = new Set(entries.filter((e) => e.hasScreenshot).map((e) => `${e.id}.png`));
  const shots = path.join(dir, SCREENSHOTS_DIR);
  const names = await readdir(shots).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => !kept.has(n)).map((n) => rm(path.join(shots, n), { recursive: true, force: true })));
  const temps = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(`${HISTORY_FILE}.`) && n.endsWith('.tmp'));
  await Promise.all(temps.map((n) => rm(path.join(dir, n), { force: true })));
}

/** Temp file in the same folder (same file system, so the rename is atomic), fsynced before it replaces the file. */
async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const temp = `${file}.${randomUUID()}.tmp`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
