/**
 * The Models view's backend: the catalogue, what is installed, downloads in progress, imports and removals, over the
 * model manager in `native-models/hub`. It holds the only state the view needs that is not on disk (the downloads of
 * this session) and announces changes, so the renderer re-reads one snapshot instead of tracking events.
 *
 * Plain Node on purpose (no `electron` import): the web harness runs it outside Electron.
 */
import path from 'node:path';
import { ScreenAskError, firstLine } from '../../native-models/model/errors.js';
import { precisions, type Precision } from '../../native-models/model/precision.js';
import { catalogue as defaultCatalogue, recommendModel, type CatalogueEntry, type MachineProfile } from '../../native-models/hub/catalogue.js';
import type { DownloadProgress } from '../../native-models/hub/download.js';
import type { HubOptions } from '../../native-models/hub/hub-api.js';
import { importModelFolder, type ImportReport } from '../../native-models/hub/import.js';
import { listInstalled, removeModel, type InstalledModel } from '../../native-models/hub/installed.js';
import { pullModel, remotePrecisions } from '../../native-models/hub/pull.js';
import type {
  CatalogueModelView,
  DownloadView,
  ImportReportView,
  InstalledModelView,
  ModelsSnapshot,
  PullRequest,
  RemoteModelInfo,
} from '../shared/ipc.js';

export interface ModelsServiceOptions {
  readonly modelsDir: string;
  /** Endpoint and token of the Hub (tests point it at the fake Hub); a signal here is replaced per download. */
  readonly hub?: HubOptions;
  /** Default: the real catalogue. */
  readonly catalogue?: readonly CatalogueEntry[];
  /** For the `recommended` flag of the catalogue. */
  readonly machine: MachineProfile;
  /** The settings' `model` value: a catalogue or imported id, or an absolute folder; null when none is chosen. */
  readonly activeModel: () => string | null;
  /** How often progress changes are announced; default 250 ms. State changes are announced at once. */
  readonly progressIntervalMs?: number;
}

export type ResolvedModel = { readonly dir: string } | { readonly missing: string };

interface DownloadRecord {
  /** Replaced, never mutated: snapshots hand these objects out. */
  view: DownloadView;
  readonly repo: string;
  readonly controller: AbortController;
  /** Settles when the download has ended, whatever the outcome (never rejects). */
  settled: Promise<void>;
}

export class ModelsService {
  private readonly modelsDir: string;
  private readonly catalogue: readonly CatalogueEntry[];
  private readonly recommendedId: string | undefined;
  private readonly intervalMs: number;
  /** One record per catalogue id, running or finished this session; a new pull replaces the finished one. */
  private readonly downloads = new Map<string, DownloadRecord>();
  private readonly listeners = new Set<() => void>();
  private lastAnnounced = -Infinity;
  private pendingAnnounce: NodeJS.Timeout | undefined;
  private disposed = false;

  constructor(private readonly options: ModelsServiceOptions) {
    this.modelsDir = path.resolve(options.modelsDir);
    this.catalogue = options.catalogue ?? defaultCatalogue;
    this.recommendedId = recommendedId(options.machine, this.catalogue);
    this.intervalMs = options.progressIntervalMs ?? 250;
  }

  async snapshot(): Promise<ModelsSnapshot> {
    const active = this.options.activeModel();
    // Taken before the disk is read: a download shown 'done' has finished writing, so the list below includes it.
    const downloads = [...this.downloads.values()].map((record) => record.view);
    const installed = await listInstalled(this.modelsDir);
    return {
      modelsDir: this.modelsDir,
      installed: installed.map((model) => installedView(model, active)),
      catalogue: this.catalogue.map((entry) => catalogueView(entry, entry.id === this.recommendedId)),
      downloads,
    };
  }

  /** Called after every change a snapshot would show; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async remote(id: string): Promise<RemoteModelInfo> {
    const entry = this.entry(id);
    const { sha, available } = await remotePrecisions(entry.id, { ...this.options.hub, catalogue: this.catalogue });
    return { id: entry.id, sha, precisions: available.map(({ precision, bytes }) => ({ precision, bytes })) };
  }

  /** Starts a download and resolves once it runs; how it goes is announced and shown in `snapshot().downloads`. */
  async pull(request: PullRequest): Promise<void> {
    const entry = this.entry(request.id);
    if (!precisions.includes(request.precision)) {
      throw new ScreenAskError(`Unknown precision "${request.precision}": choose one of ${precisions.join(', ')}.`);
    }
    if (this.downloads.get(entry.id)?.view.state === 'running') {
      throw new ScreenAskError(`${entry.id} is already downloading: wait for it to finish, or cancel it first.`);
    }
    const record: DownloadRecord = {
      view: { id: entry.id, precision: request.precision, state: 'running', bytes: 0, total: 0, bytesPerSecond: 0 },
      repo: entry.repo,
      controller: new AbortController(),
      settled: Promise.resolve(),
    };
    // Delete first so the map's order (the view's order) puts the newest download last.
    this.downloads.delete(entry.id);
    this.downloads.set(entry.id, record);
    record.settled = this.download(record, entry, request.precision);
    this.announce();
  }

  /** Stops a running download (its partial files stay, so pulling again resumes) and resolves once it has stopped. */
  async cancel(id: string): Promise<void> {
    const record = this.runningDownload(id);
    if (!record) return; // it ended meanwhile: nothing to stop
    record.controller.abort();
    await record.settled;
  }

  /** Checks a folder and, when usable, records it as an installed model (used in place, never copied). */
  async import(dir: string): Promise<ImportReportView> {
    const report = await importModelFolder(dir, { modelsDir: this.modelsDir });
    if (report.ok) this.announce();
    return importView(report);
  }

  async remove(id: string): Promise<void> {
    const running = this.runningDownload(id);
    if (running) {
      throw new ScreenAskError(`${running.view.id} is downloading: cancel its download first, then remove it.`);
    }
    const removed = await removeModel(this.modelsDir, id);
    // A finished download of a model that is gone would read as if it were still there.
    for (const [key, record] of this.downloads) if (record.repo === removed.repo) this.downloads.delete(key);
    this.announce();
  }

  /** The folder to load for the settings' `model` value, or a one-line reason it cannot be loaded. */
  async resolve(model: string): Promise<ResolvedModel> {
    if (path.isAbsolute(model)) return { dir: model };
    const installed = (await listInstalled(this.modelsDir)).find((m) => refersTo(m, model));
    if (installed?.complete && installed.precisions.length > 0) return { dir: installed.dir };
    if (this.runningDownload(model)) return { missing: `Model "${model}" is still downloading: wait for it to finish in Models.` };
    if (installed?.source === 'folder') {
      return { missing: `Model "${model}" has no model files in ${installed.dir} any more: import the folder again in Models.` };
    }
    if (installed) return { missing: `Model "${model}" is only partly downloaded: open Models and resume its download.` };
    return { missing: `Model "${model}" is not installed: open Models and download it.` };
  }

  /** Cancels running downloads (their partial files stay) and stops announcing. */
  dispose(): void {
    this.disposed = true;
    clearTimeout(this.pendingAnnounce);
    this.listeners.clear();
    for (const record of this.downloads.values()) if (record.view.state === 'running') record.controller.abort();
  }

  private async download(record: DownloadRecord, entry: CatalogueEntry, precision: Precision): Promise<void> {
    try {
      const result = await pullModel(entry.id, {
        ...this.options.hub,
        modelsDir: this.modelsDir,
        catalogue: this.catalogue,
        precision,
        signal: record.controller.signal,
        progressIntervalMs: this.intervalMs,
        onProgress: (progress) => this.progress(record, progress),
      });
      record.view = { ...baseView(record.view), state: 'done', bytes: result.bytes, total: result.bytes, etaSeconds: 0 };
    } catch (error) {
      // Judged by the signal, not the error: an abort during the revision lookup surfaces as other error types.
      if (record.controller.signal.aborted) {
        record.view = { ...baseView(record.view), state: 'cancelled' };
      } else {
        if (!(error instanceof ScreenAskError)) console.error(`download of ${entry.id} failed:`, error);
        record.view = { ...baseView(record.view), state: 'failed', message: firstLine(error) };
      }
    }
    this.announce();
  }

  private progress(record: DownloadRecord, progress: DownloadProgress): void {
    if (record.view.state !== 'running') return;
    record.view = {
      ...baseView(record.view),
      bytes: progress.bytes,
      total: progress.total,
      bytesPerSecond: progress.bytesPerSecond,
      file: progress.file,
      ...(progress.etaSeconds !== undefined ? { etaSeconds: progress.etaSeconds } : {}),
    };
    this.announceSoon();
  }

  /** A catalogue entry by short id or `owner/name`, case-insensitively; only catalogued models can be pulled here. */
  private entry(id: string): CatalogueEntry {
    const wanted = id.trim().toLowerCase();
    const entry = this.catalogue.find((e) => e.id.toLowerCase() === wanted || e.repo.toLowerCase() === wanted);
    if (entry) return entry;
    throw new ScreenAskError(`Unknown model "${id}": choose one of ${this.catalogue.map((e) => e.id).join(', ')} in Models.`);
  }

  private runningDownload(id: string): DownloadRecord | undefined {
    const wanted = id.trim().toLowerCase();
    return [...this.downloads.values()].find(
      (r) => r.view.state === 'running' && (r.view.id.toLowerCase() === wanted || r.repo.toLowerCase() === wanted),
    );
  }

  /** Progress is announced at most once per interval (the last change is never lost: a timer flushes it). */
  private announceSoon(): void {
    if (this.pendingAnnounce !== undefined || this.disposed) return;
    const wait = this.lastAnnounced + this.intervalMs - performance.now();
    if (wait <= 0) {
      this.announce();
      return;
    }
    this.pendingAnnounce = setTimeout(() => this.announce(), wait);
    this.pendingAnnounce.unref(); // a pending announcement must not keep a quitting process alive
  }

  private announce(): void {
    clearTimeout(this.pendingAnnounce);
    this.pendingAnnounce = undefined;
    this.lastAnnounced = performance.now();
    if (this.disposed) return;
    for (const listener of [...this.listeners]) {
      try {
        listener();
      } catch (error) {
        // One faulty subscriber (a closed window) must not starve the others.
        console.error('models listener failed:', error);
      }
    }
  }
}

/** The recommendation rule's pick; none when a custom catalogue lacks the models the rule names. */
function recommendedId(machine: MachineProfile, entries: readonly CatalogueEntry[]): string | undefined {
  try {
    return recommendModel(machine, entries).entry.id;
  } catch {
    return undefined;
  }
}

/** The fields every state shares: progress details and messages belong to one state and are dropped on change. */
function baseView(view: DownloadView): DownloadView {
  return { id: view.id, precision: view.precision, state: view.state, bytes: view.bytes, total: view.total, bytesPerSecond: 0 };
}

/** Whether the settings' `model` value names this installed model: its id, its repo or its folder. */
function refersTo(model: InstalledModel, ref: string): boolean {
  const wanted = ref.trim().toLowerCase();
  if (model.id.toLowerCase() === wanted || model.repo?.toLowerCase() === wanted) return true;
  return path.isAbsolute(ref) && path.resolve(ref) === path.resolve(model.dir);
}

function installedView(model: InstalledModel, active: string | null): InstalledModelView {
  return {
    id: model.id,
    ...(model.repo !== undefined ? { repo: model.repo } : {}),
    dir: model.dir,
    source: model.source,
    precisions: model.precisions,
    complete: model.complete,
    active: active !== null && refersTo(model, active),
  };
}

function catalogueView(entry: CatalogueEntry, recommended: boolean): CatalogueModelView {
  return {
    id: entry.id,
    repo: entry.repo,
    family: entry.family,
    class: entry.class,
    description: entry.description,
    defaultPrecision: entry.defaultPrecision,
    engineSupported: entry.engineSupported,
    recommended,
  };
}

function importView(report: ImportReport): ImportReportView {
  return {
    dir: report.dir,
    ok: report.ok,
    ...(report.family !== undefined ? { family: report.family } : {}),
    precisions: report.precisions,
    missing: report.missing,
    problems: report.problems,
    notes: report.notes,
    summary: report.summary,
  };
}
