import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat, symlink, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { downloadFiles, type DownloadOptions, type DownloadProgress } from '../../native-models/hub/download.js';
import { HubError } from '../../native-models/hub/errors.js';
import { resolveRevision, type RepoRevision } from '../../native-models/hub/hub-api.js';
import { fakeBytes, fakeSha, startFakeHub, type FakeHub } from '../support/fake-hub.js';

const REPO = 'screenask/tiny';
const BIG = 'onnx/model.onnx';
const files = {
  'config.json': new TextEncoder().encode('{"model_type":"smolvlm"}'),
  'tokenizer.json': fakeBytes(20 * 1024, 3), // under the LFS threshold: no sha256, served directly
  [BIG]: fakeBytes(300 * 1024, 7), // LFS: redirected to the CDN, sha256 in the listing
};
const big = files[BIG];

let hub: FakeHub;
let revision: RepoRevision;
let dest: string;
const fast = { attempts: 3, baseDelayMs: 5 };

beforeAll(async () => {
  hub = await startFakeHub({
    repos: {
      [REPO]: { sha: fakeSha('tiny'), files },
      'screenask/needs-token': { sha: fakeSha('t'), gated: 'token', files: { 'config.json': files['config.json'] } },
    },
  });
  revision = await resolveRevision(REPO, 'main', { endpoint: hub.endpoint, token: '' });
});
afterAll(() => hub.close());
afterEach(async () => {
  hub.clearFaults();
  hub.requests.length = 0;
  if (dest) await rm(dest, { recursive: true, force: true });
});

async function freshDest(): Promise<string> {
  dest = await mkdtemp(path.join(os.tmpdir(), 'screenask-dl-'));
  return dest;
}

function options(extra: Partial<DownloadOptions> = {}): DownloadOptions {
  return { endpoint: hub.endpoint, token: '', retry: fast, ...extra };
}

function only(paths: string[]) {
  return revision.files.filter((f) => paths.includes(f.path));
}

async function expectSameFiles(dir: string, paths = Object.keys(files)): Promise<void> {
  for (const p of paths) {
    const got = await readFile(path.join(dir, p));
    expect(Buffer.compare(got, Buffer.from(files[p as keyof typeof files])), p).toBe(0);
  }
}

async function leftovers(dir: string): Promise<string[]> {
  const all = await readdir(dir, { recursive: true });
  return all.filter((f) => f.endsWith('.part') || f.endsWith('.part.json'));
}

async function failure(promise: Promise<unknown>): Promise<HubError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HubError);
  expect((error as HubError).message).not.toContain('\n');
  return error as HubError;
}

const cdnGets = () => hub.requests.filter((r) => r.server === 'cdn' && r.method === 'GET');

describe('downloadFiles', () => {
  it('downloads every file byte for byte from the pinned commit, with progress up to 100%', async () => {
    const dir = await freshDest();
    const events: DownloadProgress[] = [];
    await downloadFiles(revision, revision.files, dir, options({ onProgress: (p) => events.push(p), progressIntervalMs: 0 }));
    await expectSameFiles(dir);
    expect(await leftovers(dir)).toEqual([]);
    // Always the commit sha, never the branch: a push during the download cannot mix versions.
    const resolves = hub.requests.filter((r) => r.url.includes('/resolve/'));
    expect(resolves.length).toBe(3);
    for (const r of resolves) expect(r.url).toContain(`/resolve/${revision.sha}/`);

    const total = revision.files.reduce((s, f) => s + f.size, 0);
    expect(events.length).toBeGreaterThan(2);
    for (let i = 1; i < events.length; i++) expect(events[i]!.bytes).toBeGreaterThanOrEqual(events[i - 1]!.bytes);
    const last = events.at(-1)!;
    expect(last).toMatchObject({ bytes: total, total, etaSeconds: 0 });
    expect(events.every((e) => e.total === total && e.fileBytes <= e.fileTotal)).toBe(true);
  });

  it('skips files already there and verified', async () => {
    const dir = await freshDest();
    await downloadFiles(revision, revision.files, dir, options());
    hub.requests.length = 0;
    await downloadFiles(revision, revision.files, dir, options());
    expect(hub.requests).toEqual([]);
  });

  it('resumes a dropped connection with Range and If-Range, and keeps the token off the CDN', async () => {
    const gated = await resolveRevision('screenask/needs-token', 'main', { endpoint: hub.endpoint, token: hub.token });
    expect(gated.files.length).toBe(1);
    const dir = await freshDest();
    hub.setFault(BIG, { kind: 'drop', afterBytes: 100_000 });
    await downloadFiles(revision, only([BIG]), dir, options({ token: hub.token }));
    await expectSameFiles(dir, [BIG]);
    const gets = cdnGets();
    expect(gets.length).toBe(2);
    expect(gets[1]).toMatchObject({ range: 'bytes=100000-', status: 206, ifRange: `"${revision.files.find((f) => f.path === BIG)?.sha256}"` });
    expect(gets.every((r) => r.authorization === undefined)).toBe(true);
    expect(hub.requests.filter((r) => r.server === 'hub').every((r) => r.authorization === `Bearer ${hub.token}`)).toBe(true);
  });

  it('resumes a .part left by an earlier run', async () => {
    const dir = await freshDest();
    hub.setFault(BIG, { kind: 'drop', afterBytes: 150_000 }, Infinity);
    const dropped = await failure(downloadFiles(revision, only([BIG]), dir, options({ retry: { attempts: 1, baseDelayMs: 1 } })));
    expect(dropped.kind).toBe('network');
    expect((await stat(path.join(dir, `${BIG}.part`))).size).toBe(150_000);
    hub.clearFaults();
    hub.requests.length = 0;
    const events: DownloadProgress[] = [];
    await downloadFiles(revision, only([BIG]), dir, options({ onProgress: (p) => events.push(p), progressIntervalMs: 0 }));
    await expectSameFiles(dir, [BIG]);
    expect(cdnGets().map((r) => r.range)).toEqual(['bytes=150000-']);
    expect(events[0]!.bytes).toBeGreaterThanOrEqual(150_000);
    expect(await leftovers(dir)).toEqual([]);
  });

  it('detects corrupted bytes and fetches the file again', async () => {
    const dir = await freshDest();
    hub.setFault(BIG, { kind: 'corrupt', offset: 123_456 });
    await downloadFiles(revision, only([BIG]), dir, options());
    await expectSameFiles(dir, [BIG]);
    expect(cdnGets().length).toBe(2);
  });

  it("fails with 'corrupt' when the bytes stay wrong, leaving nothing behind", async () => {
    const dir = await freshDest();
    hub.setFault(BIG, { kind: 'corrupt', offset: 5 }, Infinity);
    const error = await failure(downloadFiles(revision, only([BIG]), dir, options()));
    expect(error.kind).toBe('corrupt');
    expect(error.message).toMatch(/onnx\/model\.onnx.*sha256 mismatch/);
    expect(existsSync(path.join(dir, BIG))).toBe(false);
    expect(await leftovers(dir)).toEqual([]);
  });

  it('restarts cleanly when the server ignores Range', async () => {
    const dir = await freshDest();
    hub.setFault(BIG, { kind: 'drop', afterBytes: 70_000 });
    hub.setFault(BIG, { kind: 'ignore-range' });
    await downloadFiles(revision, only([BIG]), dir, options());
    await expectSameFiles(dir, [BIG]);
    expect(cdnGets().map((r) => [r.range, r.status])).toEqual([
      [undefined, 200],
      ['bytes=70000-', 200],
    ]);
  });

  it('names a missing file, a missing token and a persistent server error', async () => {
    const dir = await freshDest();
    const missing = await failure(downloadFiles(revision, [{ path: 'onnx/nope.onnx', size: 10 }], dir, options()));
    expect(missing.kind).toBe('not-found');
    expect(missing.message).toMatch(/file "onnx\/nope\.onnx" of model "screenask\/tiny" was not found.*check the file name/);

    const gated = await resolveRevision('screenask/needs-token', 'main', { endpoint: hub.endpoint, token: hub.token });
    const unauthorized = await failure(downloadFiles(gated, gated.files, dir, options()));
    expect(unauthorized.kind).toBe('unauthorized');
    expect(unauthorized.message).toContain('HF_TOKEN');

    hub.setFault('config.json', { kind: 'status', status: 500 }, Infinity);
    const server = await failure(downloadFiles(revision, only(['config.json']), dir, options()));
    expect(server.kind).toBe('server');
    expect(server.message).toMatch(/failed with 500.*try again later/);
    expect(hub.requests.filter((r) => r.status === 500).length).toBe(fast.attempts);
  });

  it("stops mid-file when cancelled, with 'cancelled', closing the transfer and keeping the .part to resume", async () => {
    const dir = await freshDest();
    hub.setFault(BIG, { kind: 'slow', bytesPerSecond: 50_000 });
    const controller = new AbortController();
    // Cancel once bytes of the file have arrived: mid-body, whatever the machine's speed.
    const onProgress = (p: { bytes: number }) => p.bytes > 0 && controller.abort();
    const error = await failure(downloadFiles(revision, only([BIG]), dir, options({ signal: controller.signal, onProgress, progressIntervalMs: 0 })));
    expect(error.kind).toBe('cancelled');
    // The cancel reached the transfer: the server's response for the file was cut off, not sent to the end.
    const transfer = () => hub.requests.filter((r) => r.server === 'cdn' && r.status === 200); // the file's body (LFS)
    await vi.waitUntil(() => transfer().length === 1, { timeout: 10_000 });
    expect(transfer()[0]!.complete).toBe(false);
    const part = await stat(path.join(dir, `${BIG}.part`));
    expect(part.size).toBeGreaterThan(0);
    expect(part.size).toBeLessThan(big.length);
    expect(existsSync(path.join(dir, `${BIG}.part.json`))).toBe(true);
  });

  it('refuses to start when the disk cannot hold what remains, naming the folder and sizes', async () => {
    const dir = await freshDest();
    const error = await failure(downloadFiles(revision, revision.files, dir, options({ freeBytes: async () => 100_000 })));
    expect(error.kind).toBe('disk-full');
    expect(error.message).toContain(dir);
    expect(error.message).toMatch(/needs 3\d\d kB more but only 100 kB is free/);
    expect(hub.requests).toEqual([]);
  });

  it("maps ENOSPC while writing to 'disk-full'", async () => {
    const dir = await freshDest();
    await mkdir(path.join(dir, 'onnx'));
    // Writes into /dev/full fail with ENOSPC, like a disk that fills up halfway through.
    await symlink('/dev/full', path.join(dir, `${BIG}.part`));
    const error = await failure(downloadFiles(revision, only([BIG]), dir, options()));
    expect(error.kind).toBe('disk-full');
    expect(error.message).toMatch(/Not enough disk space/);
  });

  it('refuses a listing path that would escape the folder', async () => {
    const dir = await freshDest();
    const error = await failure(downloadFiles(revision, [{ path: '../evil.txt', size: 1 }], dir, options()));
    expect(error.message).toContain('unsafe file path');
    expect(existsSync(path.join(dir, '..', 'evil.txt'))).toBe(false);
  });

  it('gives the sha256 of what it wrote (sanity of the fixture)', () => {
    expect(revision.files.find((f) => f.path === BIG)?.sha256).toBe(createHash('sha256').update(big).digest('hex'));
  });
});
