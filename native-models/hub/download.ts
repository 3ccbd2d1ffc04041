/**
 * Downloads files of one pinned commit into a folder, the way a multi-GB model must be fetched over a home connection:
 * resumable (`<path>.part` + `<path>.part.json`, `Range` / `If-Range`), verified (size, and sha256 where the Hub gives
 * one), retried on dropped connections, cancellable, and refused up front when the disk cannot hold it. A file appears
 * under its real name only once complete and verified (rename), so a folder never holds a half file that looks whole.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, statfs, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { HubError, cancelledError, diskFullError, isDiskFull, type RequestContext } from './errors.js';
import { DEFAULT_RETRY, backoff, bodyChunks, hubGet, isTransient, toHubError, type HubResponse, type RetryPolicy } from './http.js';
import { fileUrl, hubEndpoint, hubToken, type HubOptions, type RemoteFile, type RepoRevision } from './hub-api.js';

export interface DownloadProgress {
  /** The file being fetched (its path in the repo). */
  file: string;
  fileBytes: number;
  fileTotal: number;
  /** All files of the call, those already present included. */
  bytes: number;
  total: number;
  /** Moving average over the last few seconds of bytes actually transferred. */
  bytesPerSecond: number;
  etaSeconds: number | undefined;
}

export interface DownloadOptions extends HubOptions {
  onProgress?: (progress: DownloadProgress) => void;
  /** Free bytes in `dir` (tests inject a quota); default fs.statfs. */
  freeBytes?: (dir: string) => Promise<number>;
  /** Retries of dropped connections and 5xx answers, per file; the count restarts whenever bytes arrive. */
  retry?: RetryPolicy;
  /** Minimum time between progress events; default 100 ms. */
  progressIntervalMs?: number;
}

/** What `.part.json` remembers so a later run knows the `.part` is the start of the same file. */
interface PartMeta {
  repo: string;
  commit: string;
  size: number;
  sha256?: string;
  /** The validator of the server that sent the bytes, for If-Range. */
  etag?: string;
}

interface Job {
  file: RemoteFile;
  target: string;
  part: string;
  meta: string;
  /** Hash of the first `hashed` bytes of the .part, kept across attempts so a resume needn't reread the disk. */
  hash?: Hash;
  hashed: number;
}

export async function downloadFiles(
  revision: RepoRevision,
  files: readonly RemoteFile[],
  destDir: string,
  options: DownloadOptions = {},
): Promise<void> {
  const { signal } = options;
  if (signal?.aborted) throw cancelledError(signal.reason);
  const endpoint = hubEndpoint(options);
  const token = hubToken(options);
  const root = path.resolve(destDir);

  const jobs: Job[] = [];
  let present = 0;
  let resumed = 0;
  for (const file of files) {
    const target = safeJoin(root, file.path, revision.repo);
    if (await isComplete(target, file)) {
      present += file.size;
      continue;
    }
    const job: Job = { file, target, part: `${target}.part`, meta: `${target}.part.json`, hashed: 0 };
    resumed += await usablePartBytes(job, revision);
    jobs.push(job);
  }

  const total = files.reduce((sum, f) => sum + f.size, 0);
  const remaining = jobs.reduce((sum, job) => sum + job.file.size, 0) - resumed;
  await checkFreeSpace(root, remaining, options.freeBytes);

  const progress = new ProgressTracker(total, present, options.onProgress, options.progressIntervalMs ?? 100);
  const context = { endpoint, token, signal, retry: options.retry ?? DEFAULT_RETRY, progress, remaining };
  for (const job of jobs) await fetchWithRetries(job, revision, context);
  progress.finish(files.at(-1));
}

interface Context {
  endpoint: string;
  token: string | undefined;
  signal: AbortSignal | undefined;
  retry: RetryPolicy;
  progress: ProgressTracker;
  /** Bytes still to fetch when the call started, for a disk-full message. */
  remaining: number;
}

/** Joins a repo path under the folder, refusing paths that would escape it (a listing is remote input). */
function safeJoin(root: string, file: string, repo: string): string {
  const segments = file.split('/');
  if (path.isAbsolute(file) || file.includes('\\') || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new HubError('server', `The model "${repo}" lists an unsafe file path "${file}": refusing to write it; report it to the model's owner.`);
  }
  return path.join(root, ...segments);
}

async function sizeOf(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).size;
  } catch {
    return undefined;
  }
}

/** Hashes the first `length` bytes of a file into `hash`. */
async function hashPrefix(file: string, length: number, hash: Hash): Promise<void> {
  if (length === 0) return;
  for await (const chunk of createReadStream(file, { start: 0, end: length - 1 })) hash.update(chunk as Buffer);
}

/** A file already in place counts as downloaded when its size matches and, where known, its sha256. */
async function isComplete(target: string, file: RemoteFile): Promise<boolean> {
  if ((await sizeOf(target)) !== file.size) return false;
  if (!file.sha256) return true;
  const hash = createHash('sha256');
  await hashPrefix(target, file.size, hash);
  return hash.digest('hex') === file.sha256;
}

async function readMeta(job: Job): Promise<PartMeta | undefined> {
  try {
    return JSON.parse(await readFile(job.meta, 'utf8')) as PartMeta;
  } catch {
    return undefined;
  }
}

/**
 * How many bytes of a `.part` left by an earlier run can be kept: all of them when its `.part.json` describes the
 * same file (same sha256, or for small files without one, the same commit, whose content cannot change), else none.
 */
async function usablePartBytes(job: Job, revision: RepoRevision): Promise<number> {
  const have = await sizeOf(job.part);
  if (!have) return 0;
  const meta = await readMeta(job);
  const same =
    meta !== undefined &&
    meta.size === job.file.size &&
    meta.repo === revision.repo &&
    (job.file.sha256 ? meta.sha256 === job.file.sha256 : meta.commit === revision.sha);
  return same && have <= job.file.size ? have : 0;
}

async function checkFreeSpace(root: string, needed: number, freeBytes?: (dir: string) => Promise<number>): Promise<void> {
  if (needed <= 0) return;
  let free: number;
  if (freeBytes) {
    free = await freeBytes(root);
  } else {
    // The folder may not exist yet: ask about the nearest ancestor that does (it is on the same disk).
    let dir = root;
    while ((await sizeOf(dir)) === undefined && path.dirname(dir) !== dir) dir = path.dirname(dir);
    try {
      const fs = await statfs(dir);
      free = fs.bavail * fs.bsize;
    } catch {
      return; // no statfs on this file system: the write itself will say ENOSPC if it comes to that
    }
  }
  if (needed > free) throw diskFullError(root, needed, free);
}

/** One file, retried on transient failures; the retry budget refills whenever an attempt made progress. */
async function fetchWithRetries(job: Job, revision: RepoRevision, context: Context): Promise<void> {
  let failures = 0;
  let corruptRetries = 1;
  for (;;) {
    const before = job.hashed;
    try {
      const outcome = await fetchOnce(job, revision, context);
      if (outcome === 'done') return;
      if (outcome === 'restart') continue;
      // 'corrupt': the .part is gone; fetch the whole file once more, then give up.
      if (corruptRetries-- > 0) continue;
      throw new HubError(
        'corrupt',
        `"${job.file.path}" of "${revision.repo}" arrived damaged twice (sha256 mismatch): check the connection, proxy or HF_ENDPOINT mirror, then run again.`,
      );
    } catch (error) {
      const hubError = toHubError(error, context.signal, context.endpoint);
      if (!isTransient(hubError)) throw hubError;
      if (job.hashed > before) failures = 0;
      if (++failures >= context.retry.attempts) throw hubError;
      await backoff(failures, context.retry, context.signal);
    }
  }
}

/** Where a 206 says its bytes start, from `Content-Range: bytes N-M/T`. */
function rangeStart(response: HubResponse): number | undefined {
  const match = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(response.headers['content-range'] ?? '');
  return match ? Number(match[1]) : undefined;
}

async function discardPart(job: Job): Promise<void> {
  job.hash = undefined;
  job.hashed = 0;
  await rm(job.part, { force: true });
  await rm(job.meta, { force: true });
}

async function fetchOnce(job: Job, revision: RepoRevision, context: Context): Promise<'done' | 'restart' | 'corrupt'> {
  const { file } = job;
  const { signal, progress } = context;
  await mkdir(path.dirname(job.part), { recursive: true });

  let have = await usablePartBytes(job, revision);
  if (job.hash && job.hashed !== have) job.hash = undefined; // the .part changed under us: rehash it
  if (!job.hash) {
    job.hash = createHash('sha256');
    if (file.sha256) await hashPrefix(job.part, have, job.hash);
  }
  job.hashed = have;
  progress.update(file, have, 0);

  const requestContext: RequestContext = {
    endpoint: context.endpoint,
    repo: revision.repo,
    revision: revision.sha,
    file: file.path,
    hasToken: context.token !== undefined,
  };

  // A .part that is already whole (the last run stopped between the last byte and the rename) needs no request.
  if (have < file.size) {
    const meta = await readMeta(job);
    const headers: Record<string, string> = {};
    if (have > 0) {
      headers.range = `bytes=${have}-`;
      // Weak validators are not allowed in If-Range; without one the sha256 check still catches a changed file.
      if (meta?.etag && !meta.etag.startsWith('W/')) headers['if-range'] = meta.etag;
    }
    let response: HubResponse;
    try {
      response = await hubGet(fileUrl(context.endpoint, revision.repo, revision.sha, file.path), {
        headers,
        token: context.token,
        signal,
        context: requestContext,
      });
    } catch (error) {
      // 416: the server has fewer bytes than our .part claims; start over.
      if (error instanceof HubError && error.status === 416) {
        await discardPart(job);
        return 'restart';
      }
      throw error;
    }

    const chunks = bodyChunks(response.body);
    let append = false;
    if (response.status === 206) {
      if (rangeStart(response) !== have) {
        response.body.destroy();
        await discardPart(job);
        return 'restart';
      }
      append = true;
    } else if (have > 0) {
      // 200 to a range request: the server ignored Range or If-Range found the file changed. Start from zero.
      have = 0;
      job.hash = createHash('sha256');
      job.hashed = 0;
      progress.update(file, 0, 0);
    }

    const partMeta: PartMeta = {
      repo: revision.repo,
      commit: revision.sha,
      size: file.size,
      ...(file.sha256 ? { sha256: file.sha256 } : {}),
      ...(response.headers.etag ? { etag: response.headers.etag } : {}),
    };
    let out: FileHandle | undefined;
    try {
      await writeFile(job.meta, JSON.stringify(partMeta));
      out = await open(job.part, append ? 'a' : 'w');
    } catch (error) {
      response.body.destroy();
      throw isDiskFull(error) ? diskFullError(path.dirname(job.target), context.remaining, undefined, error) : error;
    }
    try {
      for await (const chunk of chunks) {
        if (have + chunk.length > file.size) {
          response.body.destroy();
          await out.close();
          out = undefined;
          await discardPart(job);
          return 'corrupt'; // longer than the listing says: not the file we asked for
        }
        try {
          await out.write(chunk);
        } catch (error) {
          response.body.destroy();
          throw isDiskFull(error) ? diskFullError(path.dirname(job.target), context.remaining, undefined, error) : error;
        }
        job.hash.update(chunk);
        have += chunk.length;
        job.hashed = have;
        progress.update(file, have, chunk.length);
      }
    } finally {
      await out?.close();
    }
    if (have < file.size) {
      // The body ended early without a socket error (a chunked reply cut short): retry like a dropped connection.
      throw new HubError('network', `The connection closed before "${file.path}" was complete: check the connection, then run again to resume.`);
    }
  }

  if (file.sha256 && job.hash.digest('hex') !== file.sha256) {
    await discardPart(job);
    progress.update(file, 0, 0);
    return 'corrupt';
  }
  await rename(job.part, job.target);
  await rm(job.meta, { force: true });
  job.hash = undefined;
  progress.update(file, file.size, 0, true);
  return 'done';
}

/**
 * Turns byte counts into throttled progress events. The rate is a moving average over the last few seconds of bytes
 * that actually crossed the network (bytes resumed from a .part are not speed), so the ETA settles quickly and does not
 * jump with every chunk.
 */
class ProgressTracker {
  private readonly samples: { at: number; transferred: number }[] = [];
  private transferred = 0;
  private doneBytes: number;
  private current: { file: RemoteFile; bytes: number } | undefined;
  private lastEmit = 0;
  private static readonly WINDOW_MS = 5_000;

  constructor(
    private readonly total: number,
    present: number,
    private readonly listener: ((progress: DownloadProgress) => void) | undefined,
    private readonly intervalMs: number,
  ) {
    this.doneBytes = present;
  }

  /** `fileBytes` of `file` are on disk; `fresh` of them just arrived. `done` moves the file to the finished sum. */
  update(file: RemoteFile, fileBytes: number, fresh: number, done = false): void {
    this.current = { file, bytes: fileBytes };
    this.transferred += fresh;
    const now = performance.now();
    if (fresh > 0) {
      this.samples.push({ at: now, transferred: this.transferred });
      while (this.samples.length > 2 && now - (this.samples[0]?.at ?? now) > ProgressTracker.WINDOW_MS) this.samples.shift();
    }
    if (done) {
      this.doneBytes += file.size;
      this.current = undefined;
      this.emit(file, file.size, now, true);
      return;
    }
    if (now - this.lastEmit >= this.intervalMs) this.emit(file, fileBytes, now, false);
  }

  /** The closing event: everything is there. */
  finish(last: RemoteFile | undefined): void {
    if (!this.listener) return;
    this.listener({
      file: last?.path ?? '',
      fileBytes: last?.size ?? 0,
      fileTotal: last?.size ?? 0,
      bytes: this.total,
      total: this.total,
      bytesPerSecond: this.rate(performance.now()),
      etaSeconds: 0,
    });
  }

  private rate(now: number): number {
    const first = this.samples[0];
    if (!first || this.samples.length < 2) return 0;
    const seconds = (now - first.at) / 1000;
    return seconds > 0 ? (this.transferred - first.transferred) / seconds : 0;
  }

  private emit(file: RemoteFile, fileBytes: number, now: number, done: boolean): void {
    this.lastEmit = now;
    if (!this.listener) return;
    const bytes = done ? this.doneBytes : this.doneBytes + fileBytes;
    const rate = this.rate(now);
    this.listener({
      file: file.path,
      fileBytes,
      fileTotal: file.size,
      bytes,
      total: this.total,
      bytesPerSecond: rate,
      etaSeconds: rate > 0 ? (this.total - bytes) / rate : undefined,
    });
  }
}
