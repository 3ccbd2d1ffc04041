/**
 * The settings file loader with whatever a disk can hold: random bytes, random JSON, and valid settings files with a
 * field dropped, replaced or added. Opening never throws, the settings in use are always valid, each problem is one
 * line, and whenever something was wrong the user's original file is still there, byte for byte, set aside.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSettingsStore, SETTINGS_FILE } from '../../electron/main/settings-store.js';
import { defaultSettings, SETTINGS_VERSION, settingsSchema } from '../../electron/shared/settings.js';
import { isOneLine, mutated } from './arbitraries.js';

let root: string;
let count = 0;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-settings-fuzz-'));
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const validFile = fc.constant({ version: SETTINGS_VERSION, ...defaultSettings, temperature: 0.7 });
/** What a settings.json may hold: noise, any JSON, or a damaged version of a real file. */
const fileContents = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.json().map((text) => new TextEncoder().encode(text)),
  // BigInts (which JSON cannot hold) become numbers; fast-check's values have no cycles.
  mutated(validFile).map((settings) => new TextEncoder().encode(JSON.stringify(settings, (_key, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)))),
  fc.tuple(validFile, fc.nat({ max: 200 })).map(([settings, cut]) => new TextEncoder().encode(JSON.stringify(settings).slice(0, cut))),
);

describe('the settings file loader (fuzzed)', () => {
  it('opens whatever the file holds, with valid settings, one-line problems and the original kept', async () => {
    await fc.assert(
      fc.asyncProperty(fileContents, async (bytes) => {
        const dir = path.join(root, `case-${++count}`);
        await mkdir(dir);
        await writeFile(path.join(dir, SETTINGS_FILE), bytes);
        const store = await openSettingsStore(dir, { now: () => new Date('2026-01-02T03:04:05Z') });
        expect(settingsSchema.safeParse(store.get()).success).toBe(true);
        expect(store.problems.every(isOneLine)).toBe(true);
        if (store.problems.length > 0) {
          const aside = (await readdir(dir)).filter((name) => name.startsWith('settings.corrupt-'));
          expect(aside).toHaveLength(1);
          expect(Buffer.compare(await readFile(path.join(dir, aside[0]!)), Buffer.from(bytes))).toBe(0);
        }
        // And it keeps working: a change is saved and read back.
        expect((await store.update({ temperature: 1.5 })).ok).toBe(true);
        expect((await openSettingsStore(dir)).get().temperature).toBe(1.5);
      }),
      { numRuns: 60 },
    );
  });
});
