/**
 * What is installed in the models folder, and how to forget it. Two kinds of entries:
 *   - downloaded models: `<modelsDir>/<owner>--<name>/` with `screenask-model.json` once complete (a folder with only
 *     `.screenask-pull.json` is a partial download waiting to be resumed);
 *   - imported folders: recorded in `<modelsDir>/imported.json` and used where they are (never copied, never deleted).
 */
import { randomUUID } from 'node:crypto';
import { readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ScreenAskError } from '../model/errors.js';
import { listPrecisions, precisions, type Precision } from '../model/layout.js';
import { isInside } from './models-dir.js';

export const manifestFile = 'screenask-model.json';
export const pendingFile = '.screenask-pull.json';
export const importedFile = 'imported.json';

const precisionSchema = z.enum(precisions as unknown as [Precision, ...Precision[]]);
const fileSchema = z.object({ path: z.string(), size: z.number().int().nonnegative(), sha256: z.string().optional() });

export const manifestSchema = z.object({
  schema: z.literal(1),
  repo: z.string(),
  /** The commit the files came from: pinned at the first pull and reused by resumes and further precisions. */
  sha: z.string(),
  precisions: z.array(precisionSchema),
  files: z.array(fileSchema),
  installedAt: z.string(),
});
export type ModelManifest = z.infer<typeof manifestSchema>;

/** Written before the first byte is fetched, so an interrupted pull resumes at the same commit. */
export const pendingSchema = z.object({ repo: z.string(), sha: z.string(), precision: precisionSchema, startedAt: z.string() });
export type PendingPull = z.infer<typeof pendingSchema>;

const importedSchema = z.array(
  z.object({ id: z.string(), dir: z.string(), family: z.string().optional(), importedAt: z.string() }),
);
export type ImportedRecord = z.infer<typeof importedSchema>[number];

async function readJsonFile<T extends z.ZodType>(file: string, schema: T): Promise<z.infer<T> | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = schema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new ScreenAskError(`${file} is malformed: delete it and pull or import the model again.`);
  return parsed.data;
}

/** Writes through a temporary file and a rename, so a crash never leaves half a manifest that claims completeness. */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const temporary = `${file}.${randomUUID()}.tmp`;
  await writeFile(temporary, `${JSON.stringify(value, null, 2)}\n`);
  await rename(temporary, file);
}

export const readManifest = (dir: string) => readJsonFile(path.join(dir, manifestFile), manifestSchema);
export const readPending = (dir: string) => readJsonFile(path.join(dir, pendingFile), pendingSchema);
export const readImported = async (modelsDir: string) => (await readJsonFile(path.join(modelsDir, importedFile), importedSchema)) ?? [];

export async function writeImported(modelsDir: string, records: readonly ImportedRecord[]): Promise<void> {
  await writeJsonAtomic(path.join(modelsDir, importedFile), records);
}

export interface InstalledModel {
  /** The short id (repo name, or the imported folder's name). */
  readonly id: string;
  readonly repo: string | undefined;
  readonly dir: string;
  readonly source: 'hub' | 'folder';
  /** Pinned commit, for downloads. */
  readonly sha: string | undefined;
  /** Precisions whose three graphs are on disk now (the engine's own check). */
  readonly precisions: readonly Precision[];
  /** False while a download is partial (resume it with the same pull command). */
  readonly complete: boolean;
  readonly installedAt: string | undefined;
}

/** Every model in the models folder, downloaded and imported; a missing folder is simply empty. */
export async function listInstalled(modelsDir: string): Promise<InstalledModel[]> {
  const entries = await readdir(modelsDir, { withFileTypes: true }).catch(() => []);
  const models: InstalledModel[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const dir = path.join(modelsDir, entry.name);
    const manifest = await readManifest(dir).catch(() => undefined);
    const pending = await readPending(dir).catch(() => undefined);
    const repo = manifest?.repo ?? pending?.repo;
    if (!repo) continue; // not ours
    models.push({
      id: repo.split('/')[1] ?? repo,
      repo,
      dir,
      source: 'hub',
      sha: manifest?.sha ?? pending?.sha,
      precisions: await listPrecisions(dir),
      complete: manifest !== undefined && pending === undefined,
      installedAt: manifest?.installedAt,
    });
  }
  for (const record of await readImported(modelsDir).catch(() => [])) {
    models.push({
      id: record.id,
      repo: undefined,
      dir: record.dir,
      source: 'folder',
      sha: undefined,
      precisions: await listPrecisions(record.dir),
      complete: true,
      installedAt: record.importedAt,
    });
  }
  return models;
}

/** Finds an installed model by short id, `owner/name` or folder path, case-insensitively. */
export async function findInstalled(modelsDir: string, id: string): Promise<InstalledModel | undefined> {
  const wanted = id.toLowerCase();
  return (await listInstalled(modelsDir)).find(
    (m) => m.id.toLowerCase() === wanted || m.repo?.toLowerCase() === wanted || path.resolve(m.dir) === path.resolve(id),
  );
}

/**
 * Removes a model. A download's folder is deleted, but only after checking it lies inside the models folder (a
 * hand-edited manifest must never make this delete something else). An imported folder is only forgotten: it is the
 * user's own export and stays on disk.
 */
export async function removeModel(modelsDir: string, id: string): Promise<InstalledModel> {
  const model = await findInstalled(modelsDir, id);
  if (!model) {
    const ids = (await listInstalled(modelsDir)).map((m) => m.id);
    throw new ScreenAskError(`No installed model "${id}" in ${modelsDir} (installed: ${ids.join(', ') || 'none'}).`);
  }
  if (model.source === 'folder') {
    const records = await readImported(modelsDir);
    await writeImported(modelsDir, records.filter((r) => path.resolve(r.dir) !== path.resolve(model.dir)));
    return model;
  }
  if (!isInside(modelsDir, model.dir)) {
    throw new ScreenAskError(`Refusing to delete ${model.dir}: it is not inside the models folder ${modelsDir}.`);
  }
  await rm(model.dir, { recursive: true, force: true });
  return model;
}
