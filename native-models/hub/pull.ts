/**
 * `pullModel`: download one precision of a catalogue model into the models folder, pinned to one commit.
 *
 * The order matters for resuming and for trust:
 *   1. the commit is pinned first (an existing install or partial download wins over `main`, so every file in the
 *      folder comes from the same commit even if the repo moved on in between);
 *   2. `.screenask-pull.json` records that pin before any byte is fetched, so an interrupted pull resumes at it;
 *   3. the files are downloaded (the downloader resumes partial files and checks sizes and hashes);
 *   4. the folder is validated with the engine's own `resolveModelFiles`;
 *   5. only then is `screenask-model.json` written (atomically) and the pending record removed: a manifest means a
 *      complete, loadable precision.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { ScreenAskError } from '../model/errors.js';
import { precisions, resolveModelFiles, type Precision } from '../model/layout.js';
import {
  availablePrecisions,
  catalogue as defaultCatalogue,
  describePrecisions,
  findModel,
  precisionFilesFrom,
  type CatalogueEntry,
} from './catalogue.js';
import { downloadFiles, type DownloadOptions } from './download.js';
import { resolveRevision, type HubOptions, type RepoRevision } from './hub-api.js';
import { manifestFile, pendingFile, readManifest, readPending, writeJsonAtomic, type ModelManifest } from './installed.js';
import { repoFolder } from './models-dir.js';

export interface PullOptions extends DownloadOptions {
  readonly modelsDir: string;
  /** Default: the catalogue entry's default precision (q8 for CPU models, q4f16 for GPU models). */
  readonly precision?: Precision;
  /** A branch, tag or commit; default `main`. Ignored in favour of the pinned commit once something is installed. */
  readonly revision?: string;
  /** Another catalogue (tests, or an app that offers more models). */
  readonly catalogue?: readonly CatalogueEntry[];
}

export interface PullResult {
  readonly entry: CatalogueEntry;
  readonly dir: string;
  readonly sha: string;
  readonly precision: Precision;
  readonly manifest: ModelManifest;
  /** True when the precision was already complete and nothing was downloaded. */
  readonly alreadyInstalled: boolean;
  /** Bytes of the files this precision needs (from the Hub listing). */
  readonly bytes: number;
}

/** Pins the commit: an existing install's sha, else the requested revision resolved now. */
async function pinRevision(entry: CatalogueEntry, dir: string, options: PullOptions): Promise<RepoRevision> {
  const manifest = await readManifest(dir);
  const pending = await readPending(dir);
  const pinned = manifest?.sha ?? pending?.sha;
  const hub = options; // HubOptions is a subset of PullOptions
  if (pinned === undefined) return resolveRevision(entry.repo, options.revision ?? 'main', hub);
  if (options.revision !== undefined && options.revision !== pinned) {
    // Mixing commits in one folder would pair graphs with configs they were not exported with.
    const wanted = await resolveRevision(entry.repo, options.revision, hub);
    if (wanted.sha !== pinned) {
      throw new ScreenAskError(
        `${entry.id} is installed at commit ${pinned.slice(0, 12)}, not ${options.revision} (${wanted.sha.slice(0, 12)}): ` +
          `remove it first (npm run models -- remove ${entry.id}) to switch revisions.`,
      );
    }
    return wanted;
  }
  return resolveRevision(entry.repo, pinned, hub);
}

export async function pullModel(id: string, options: PullOptions): Promise<PullResult> {
  const entry = findModel(id, options.catalogue ?? defaultCatalogue);
  const precision = options.precision ?? entry.defaultPrecision;
  if (!precisions.includes(precision)) {
    throw new ScreenAskError(`Unknown precision "${precision}": use one of ${precisions.join(', ')}.`);
  }
  const dir = repoFolder(options.modelsDir, entry.repo);
  const revision = await pinRevision(entry, dir, options);
  const selected = precisionFilesFrom(entry, revision.files, precision);
  if (!selected) {
    throw new ScreenAskError(
      `${entry.repo} (commit ${revision.sha.slice(0, 12)}) has no ${precision} files; available precisions: ` +
        `${describePrecisions(availablePrecisions(entry, revision.files))}. Pass one with --precision.`,
    );
  }

  const existing = await readManifest(dir);
  const pending = await readPending(dir);
  if (existing?.precisions.includes(precision) && !pending) {
    // Installed and intact: nothing to fetch. If files were deleted by hand, fall through and fetch them again.
    const intact = await resolveModelFiles(dir, precision).then(() => true, () => false);
    if (intact) return { entry, dir, sha: existing.sha, precision, manifest: existing, alreadyInstalled: true, bytes: selected.bytes };
  }

  await mkdir(dir, { recursive: true });
  await writeJsonAtomic(path.join(dir, pendingFile), {
    repo: entry.repo,
    sha: revision.sha,
    precision,
    startedAt: pending?.startedAt ?? new Date().toISOString(),
  });
  await downloadFiles(revision, selected.files, dir, options);
  await resolveModelFiles(dir, precision);

  // A second precision adds to the folder: the shared JSON files are the same commit's, so they are listed once.
  const files = new Map((existing?.files ?? []).map((f) => [f.path, f]));
  for (const f of selected.files) files.set(f.path, { path: f.path, size: f.size, ...(f.sha256 ? { sha256: f.sha256 } : {}) });
  const manifest: ModelManifest = {
    schema: 1,
    repo: entry.repo,
    sha: revision.sha,
    precisions: precisions.filter((p) => p === precision || existing?.precisions.includes(p)),
    files: [...files.values()].sort((a, b) => a.path.localeCompare(b.path)),
    installedAt: new Date().toISOString(),
  };
  await writeJsonAtomic(path.join(dir, manifestFile), manifest);
  await rm(path.join(dir, pendingFile), { force: true });
  return { entry, dir, sha: revision.sha, precision, manifest, alreadyInstalled: false, bytes: selected.bytes };
}

/** The precisions (with sizes) a repo offers at a revision: what `list --remote` shows. */
export async function remotePrecisions(
  id: string,
  options: HubOptions & { readonly revision?: string; readonly catalogue?: readonly CatalogueEntry[] } = {},
): Promise<{ entry: CatalogueEntry; sha: string; available: ReturnType<typeof availablePrecisions> }> {
  const entry = findModel(id, options.catalogue ?? defaultCatalogue);
  const { revision, catalogue: _catalogue, ...hub } = options;
  const resolved = await resolveRevision(entry.repo, revision ?? 'main', hub);
  return { entry, sha: resolved.sha, available: availablePrecisions(entry, resolved.files) };
}
