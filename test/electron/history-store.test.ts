/** The history store on real temp folders: ordering, search, screenshots, pruning, persistence, corruption, races. */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HISTORY_FILE, HistoryStore, SCREENSHOTS_DIR, type HistoryRecord } from '../../electron/main/history-store.js';
import type { AnswerStatsView } from '../../electron/shared/ipc.js';
import { ScreenAskError } from '../../native-models/model/errors.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'screenask-history-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A PNG signature and a tail that differs per seed: the store only checks the signature. */
function png(seed: number): Uint8Array {
  return Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, seed & 0xff, 1, 2, 3]);
}

const stats: AnswerStatsView = {
  imageEncodeMs: 120,
  prefillMs: 80,
  timeToFirstTokenMs: 210,
  decodeTokensPerSecond: 41.5,
  promptTokens: 900,
  reusedPromptTokens: 0,
  imageTokens: 832,
  generatedTokens: 12,
  totalMs: 500,
  cache: 'on',
  precision: 'q8',
  provider: 'cpu',
  stopReason: 'eos',
};

const turn = (conversationId: string, question: string, answer = `answer to ${question}`, extra: Partial<HistoryRecord> = {}): HistoryRecord => ({
  conversationId,
  model: 'SmolVLM-256M-Instruct',
  question,
  answer,
  ...extra,
});

const shotFile = (id: string) => path.join(dir, SCREENSHOTS_DIR, `${id}.png`);
const stored = async () => JSON.parse(await readFile(path.join(dir, HISTORY_FILE), 'utf8')) as { version: number; entries: { id: string }[] };

describe('HistoryStore', () => {
  it('starts empty without a file and writes nothing until something is recorded', async () => {
    const store = await HistoryStore.open(dir);
    expect(await store.list()).toEqual([]);
    expect(store.problems).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
  });

  it('records entries and lists them newest first, with stats and the incomplete flag', async () => {
    const store = await HistoryStore.open(dir);
    const before = Date.now();
    await store.record(turn('first', 'What is this?', 'A dialog.', { stats }));
    await store.record(turn('second', 'And this?', 'A button', { incomplete: true }));
    const entries = await store.list();
    expect(entries.map((e) => e.id)).toEqual(['second', 'first']);
    expect(entries[1]).toEqual({
      id: 'first',
      askedAt: expect.any(String),
      model: 'SmolVLM-256M-Instruct',
      turns: [{ question: 'What is this?', answer: 'A dialog.', stats }],
      hasScreenshot: false,
    });
    expect(Date.parse(entries[1]!.askedAt)).toBeGreaterThanOrEqual(before - 1);
    expect(entries[0]!.turns).toEqual([{ question: 'And this?', answer: 'A button', incomplete: true }]);
    expect(await stored()).toMatchObject({ version: 1, entries: [{ id: 'first' }, { id: 'second' }] });
  });

  it('appends follow-up turns to their conversation instead of creating entries', async () => {
    const store = await HistoryStore.open(dir);
    await store.record(turn('conv', 'What does this error mean?', 'The file is missing.', { screenshot: png(1) }));
    await store.record(turn('other', 'Unrelated?'));
    await store.record(turn('conv', 'How do I fix it?', 'Create the file.', { screenshot: png(2) }));
    const entries = await store.list();
    expect(entries.map((e) => e.id)).toEqual(['other', 'conv']); // a follow-up does not move its entry
    expect(entries[1]!.turns.map((t) => t.question)).toEqual(['What does this error mean?', 'How do I fix it?']);
    // The first turn's screenshot is the one kept; later turns do not replace it.
    expect(new Uint8Array(await readFile(shotFile('conv')))).toEqual(png(1));
  });

  it('searches questions and answers case-insensitively, every word anywhere in the conversation', async () => {
    const store = await HistoryStore.open(dir);
    await store.record(turn('a', 'Why does NPM fail?', 'The registry is unreachable.'));
    await store.record(turn('b', 'What is this chart?', 'Monthly revenue.'));
    await store.record(turn('a', 'And the proxy?', 'Set HTTPS_PROXY.'));
    const ids = async (query: string) => (await store.list(query)).map((e) => e.id);
    expect(await ids('npm')).toEqual(['a']);
    expect(await ids('REVENUE')).toEqual(['b']); // found in an answer
    expect(await ids('  npm   proxy ')).toEqual(['a']); // words from two turns of one conversation
    expect(await ids('npm revenue')).toEqual([]); // every word must match the same entry
    expect(await ids('what')).toEqual(['b']);
    expect(await ids('')).toEqual(['b', 'a']);
    expect(await ids('   ')).toEqual(['b', 'a']);
  });

  it('keeps a screenshot only when given, and serves it as a PNG data URL', async () => {
    const store = await HistoryStore.open(dir);
    await store.record(turn('shot', 'q', 'a', { screenshot: png(7) }));
    await store.record(turn('plain', 'q'));
    const [plain, shot] = await store.list();
    expect(shot).toMatchObject({ id: 'shot', hasScreenshot: true });
    expect(plain).toMatchObject({ id: 'plain', hasScreenshot: false });
    expect(await store.screenshot('shot')).toBe(`data:image/png;base64,${Buffer.from(png(7)).toString('base64')}`);
    expect(await store.screenshot('plain')).toBeNull();
    expect(await store.screenshot('unknown')).toBeNull();
    expect(existsSync(shotFile('plain'))).toBe(false);
  });

  it('refuses bytes that are not a PNG, and records nothing', async () => {
    const store = await HistoryStore.open(dir);
    await expect(store.record(turn('jpeg', 'q', 'a', { screenshot: Uint8Array.from([0xff, 0xd8, 0xff, 0xe0]) }))).rejects.toThrow(
      /is not a PNG: pass the capture as PNG bytes/,
    );
    expect(await store.list()).toEqual([]);
  });

  it('delete removes the entry and its screenshot file; an unknown id is no error', async () => {
    const store = await HistoryStore.open(dir);
    await store.record(turn('keep', 'q1', 'a1', { screenshot: png(1) }));
    await store.record(turn('gone', 'q2', 'a2', { screenshot: png(2) }));
    await store.delete('gone');
    expect((await store.list()).map((e) => e.id)).toEqual(['keep']);
    expect(existsSync(shotFile('gone'))).toBe(false);
    expect(existsSync(shotFile('keep'))).toBe(true);
    expect(await store.screenshot('gone')).toBeNull();
    await expect(store.delete('never-there')).resolves.toBeUndefined();
    expect((await stored()).entries.map((e) => e.id)).toEqual(['keep']);
  });

  it('clear removes every entry and every screenshot', async () => {
    const store = await HistoryStore.open(dir);
    await store.record(turn('one', 'q', 'a', { screenshot: png(1) }));
    await store.record(turn('two', 'q', 'a', { screenshot: png(2) }));
    await store.clear();
    expect(await store.list()).toEqual([]);
    expect(existsSync(path.join(dir, SCREENSHOTS_DIR))).toBe(false);
    expect(await stored()).toEqual({ version: 1, entries: [] });
    expect(await (await HistoryStore.open(dir)).list()).toEqual([]);
  });

  it('dropScreenshots deletes every kept screenshot and keeps the questions and answers', async () => {
    const store = await HistoryStore.open(dir);
    await store.record(turn('one', 'q1', 'a1', { screenshot: png(1) }));
    await store.record(turn('two', 'q2', 'a2', { screenshot: png(2) }));
    await store.record(turn('three', 'q3'));
    await store.dropScreenshots();
    const entries = await store.list();
    expect(entries.map((e) => [e.id, e.hasScreenshot, e.turns[0]!.question])).toEqual([
      ['three', false, 'q3'],
      ['two', false, 'q2'],
      ['one', false, 'q1'],
    ]);
    expect(existsSync(path.join(dir, SCREENSHOTS_DIR))).toBe(false);
    expect(await store.screenshot('one')).toBeNull();
    const reopened = await HistoryStore.open(dir);
    expect((await reopened.list()).every((e) => !e.hasScreenshot)).toBe(true);
  });

  it('keeps at most maxEntries, dropping the oldest with their screenshots', async () => {
    const store = await HistoryStore.open(dir, { maxEntries: 3 });
    for (let i = 1; i <= 5; i++) await store.record(turn(`e${i}`, `q${i}`, `a${i}`, { screenshot: png(i) }));
    expect((await store.list()).map((e) => e.id)).toEqual(['e5', 'e4', 'e3']);
    expect((await readdir(path.join(dir, SCREENSHOTS_DIR))).sort()).toEqual(['e3.png', 'e4.png', 'e5.png']);
    // A follow-up to a kept entry does not count as a new one.
    await store.record(turn('e3', 'follow-up'));
    expect((await store.list()).map((e) => e.id)).toEqual(['e5', 'e4', 'e3']);
    await expect(HistoryStore.open(dir, { maxEntries: 0 })).rejects.toThrow(/keep at least one entry/);
  });

  it('persists across reopening, screenshots included', async () => {
    const store = await HistoryStore.open(dir);
    await store.record(turn('a', 'first question', 'first answer', { stats, screenshot: png(3) }));
    await store.record(turn('a', 'second question', 'second answer', { incomplete: true }));
    await store.record(turn('b', 'other'));
    const reopened = await HistoryStore.open(dir);
    expect(reopened.problems).toEqual([]);
    expect(await reopened.list()).toEqual(await store.list());
    expect(await reopened.screenshot('a')).toBe(await store.screenshot('a'));
  });

  it('sets a corrupt history.json aside (never deleted), reports it in one line and starts empty', async () => {
    await writeFile(path.join(dir, HISTORY_FILE), '{ "version": 1, "entries": [ broken');
    const store = await HistoryStore.open(dir);
    expect(await store.list()).toEqual([]);
    expect(store.problems).toHaveLength(1);
    expect(store.problems[0]).toMatch(/^history\.json is not valid JSON; it was set aside as history\.corrupt-[\dT-]+Z\.json and the history starts empty\.$/);
    const aside = (await readdir(dir)).filter((n) => n.startsWith('history.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(await readFile(path.join(dir, aside[0]!), 'utf8')).toBe('{ "version": 1, "entries": [ broken');
    expect(existsSync(path.join(dir, HISTORY_FILE))).toBe(false);

    // Recording afterwards works and leaves the set-aside copy alone.
    await store.record(turn('new', 'q'));
    expect((await store.list()).map((e) => e.id)).toEqual(['new']);
    expect((await readdir(dir)).filter((n) => n.startsWith('history.corrupt-'))).toEqual(aside);
  });

  it('sets aside files of the wrong shape or a newer version, naming why', async () => {
    const cases: [unknown, RegExp][] = [
      [{ version: 1, entries: [{ id: '../x', askedAt: 'yesterday', model: 'm', turns: [], hasScreenshot: false }] }, /is not a history file \(entries\.0\.id: /],
      [{ version: 2, entries: [] }, /was written by a newer ScreenAsk \(history version 2; this one reads 1\)/],
      [[1, 2, 3], /is not a history file/],
    ];
    for (const [content, why] of cases) {
      await writeFile(path.join(dir, HISTORY_FILE), JSON.stringify(content));
      const store = await HistoryStore.open(dir);
      expect(store.problems).toEqual([expect.stringMatching(why)]);
      expect(await store.list()).toEqual([]);
    }
    // Each file was set aside under a name of its own: none overwrote another.
    expect((await readdir(dir)).filter((n) => n.startsWith('history.corrupt-'))).toHaveLength(cases.length);
  });

  it('lists and serves screenshots after the writes already asked for (read your own writes)', async () => {
    const store = await HistoryStore.open(dir);
    const recorded = store.record(turn('pending', 'q', 'a', { screenshot: png(9) }));
    expect((await store.list()).map((e) => e.id)).toEqual(['pending']);
    expect(await store.screenshot('pending')).not.toBeNull();
    await recorded;
  });

  it('keeps every one of many concurrent records', async () => {
    const store = await HistoryStore.open(dir);
    const ids = Array.from({ length: 25 }, (_, i) => `c${i}`);
    await Promise.all([
      ...ids.map((id, i) => store.record(turn(id, `question ${i}`, `answer ${i}`, i % 5 === 0 ? { screenshot: png(i) } : {}))),
      ...ids.map((id) => store.record(turn(id, 'follow-up'))),
    ]);
    const reopened = await HistoryStore.open(dir);
    const entries = await reopened.list();
    expect(entries.map((e) => e.id).sort()).toEqual([...ids].sort());
    for (const entry of entries) expect(entry.turns.map((t) => t.question)).toEqual([expect.stringMatching(/^question /), 'follow-up']);
    expect(await readdir(path.join(dir, SCREENSHOTS_DIR))).toHaveLength(5);
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses ids that could become paths outside the screenshots folder', async () => {
    const store = await HistoryStore.open(dir);
    const bad = ['../../etc/passwd', '..', 'a/b', 'a\\b', '', 'x'.repeat(65), 'id.png', 'C:evil'];
    for (const id of bad) {
      await expect(store.record(turn(id, 'q', 'a', { screenshot: png(1) }))).rejects.toThrow(ScreenAskError);
      await expect(store.delete(id)).rejects.toThrow(/is not valid: ids are 1 to 64 letters, digits, "-" or "_"/);
      await expect(store.screenshot(id)).rejects.toThrow(ScreenAskError);
    }
    expect(await store.list()).toEqual([]);
    expect(await readdir(dir)).toEqual([]);
  });

  it('deletes screenshots nobody points at when it opens (a crash between two steps)', async () => {
    const store = await HistoryStore.open(dir);
    await store.record(turn('kept', 'q', 'a', { screenshot: png(1) }));
    await writeFile(shotFile('orphan'), png(2));
    await writeFile(path.join(dir, SCREENSHOTS_DIR, 'kept.png.1234.tmp'), 'half');
    await writeFile(path.join(dir, `${HISTORY_FILE}.5678.tmp`), 'half');
    const reopened = await HistoryStore.open(dir);
    expect(await readdir(path.join(dir, SCREENSHOTS_DIR))).toEqual(['kept.png']);
    expect(await readdir(dir)).not.toContain(`${HISTORY_FILE}.5678.tmp`);
    expect(await reopened.screenshot('kept')).not.toBeNull();
  });

  it('keeps old screenshots when the history was set aside (they belong to the set-aside copy)', async () => {
    await mkdir(path.join(dir, SCREENSHOTS_DIR), { recursive: true });
    await writeFile(shotFile('old'), png(1));
    await writeFile(path.join(dir, HISTORY_FILE), 'not json');
    const store = await HistoryStore.open(dir);
    expect(store.problems).toHaveLength(1);
    expect(existsSync(shotFile('old'))).toBe(true);
  });

  it('a failed write rejects with one line, changes nothing, and does not block later writes', async () => {
    const store = await HistoryStore.open(dir);
    await store.record(turn('before', 'q'));
    // A folder where the history file should be: the rename over it fails.
    await rm(path.join(dir, HISTORY_FILE));
    await mkdir(path.join(dir, HISTORY_FILE));
    const error = await store.record(turn('lost', 'q', 'a', { screenshot: png(1) })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScreenAskError);
    expect((error as Error).message).toMatch(/^Could not save the history to .*history\.json \(.+\): check that the folder is writable\.$/);
    expect((await store.list()).map((e) => e.id)).toEqual(['before']);
    expect(existsSync(shotFile('lost'))).toBe(false);

    await rm(path.join(dir, HISTORY_FILE), { recursive: true });
    await store.record(turn('after', 'q'));
    expect((await stored()).entries.map((e) => e.id)).toEqual(['before', 'after']);
  });
});
