/**
 * A real HTTP server on loopback that answers the way the Hugging Face Hub does, so the downloader is tested against
 * actual sockets (redirects, ranges, dropped connections) rather than a mocked fetch. Two listeners share one handler:
 * the "hub" (API and `resolve` URLs) and the "cdn" (where large files are redirected, on another port, so it is
 * another origin, as the Hub's CDN is another host and must not receive the Authorization header).
 *
 * What it mimics:
 * - `GET /api/models/{repo}/revision/{rev}[?blobs=true]` → `{ id, sha, siblings: [{ rfilename, size?, blobId?, lfs? }] }`
 *   (sizes and lfs only with `blobs=true`, as on the Hub). `rev` is a branch name (`main`, or `branches`) or the sha.
 * - `GET|HEAD /{repo}/resolve/{rev}/{path}`: files of `lfsThreshold` bytes or more are "LFS": 302 to
 *   `{cdn}/cdn/{sha256}?repo=…&path=…` with `X-Repo-Commit`, `X-Linked-Size`, `X-Linked-Etag: "<sha256>"`, `ETag`;
 *   smaller files answer 200 directly with a git-blob `ETag` and `Content-Length`. Both support `Range: bytes=N-` /
 *   `bytes=N-M` (206 + `Content-Range`) and `If-Range` (a stale validator gets the whole body with 200).
 * - Errors with the Hub's `X-Error-Code` / `X-Error-Message` headers: 404 RepoNotFound / RevisionNotFound /
 *   EntryNotFound; gated repos answer 401 without the right `Authorization: Bearer <token>` (`gated: 'token'`), or
 *   403 GatedRepo whatever the token (`gated: 'licence'`: the licence was not accepted).
 *
 * Faults (see `FakeHubFault`) are set per file path in the repo (or `*` for every file, or `@api` for the revision
 * endpoint) and fire `times` times (default once; `Infinity` for persistent). Status faults fire on the first hop
 * (`resolve` or the API); body faults (drop, corrupt, slow, ignore-range) fire where the bytes are served (the CDN
 * for LFS files) and only on GET.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export interface FakeRepo {
  /** The commit the `main` branch points at: 40 hex characters. */
  sha: string;
  files: Record<string, Uint8Array>;
  gated?: 'token' | 'licence';
  /** Other branch names that resolve to this commit (`main` always does). */
  branches?: string[];
}

export type FakeHubFault =
  /** Send this many bytes of the response body, then destroy the socket. */
  | { kind: 'drop'; afterBytes: number }
  /** Flip the bits of the byte at this offset of the file (when the reply covers it). */
  | { kind: 'corrupt'; offset: number }
  /** Answer with this status (404, 500, 503 …) instead. */
  | { kind: 'status'; status: number }
  /** Throttle the body to about this many bytes per second. */
  | { kind: 'slow'; bytesPerSecond: number }
  /** Ignore `Range` and answer 200 with the whole body, as some mirrors and proxies do. */
  | { kind: 'ignore-range' };

export interface FakeHubRequest {
  server: 'hub' | 'cdn';
  method: string;
  /** Path and query, decoded. */
  url: string;
  status: number;
  /** False when the connection closed before the whole response was sent (a client that gave up mid-body). */
  complete: boolean;
  range?: string;
  ifRange?: string;
  authorization?: string;
}

export interface FakeHubOptions {
  repos: Record<string, FakeRepo>;
  faults?: { file: string; fault: FakeHubFault; times?: number }[];
  /** The token gated repos accept. */
  token?: string;
  /** Files of this size or more are served as LFS files (redirect to the CDN, sha256 in the listing). */
  lfsThreshold?: number;
}

export interface FakeHub {
  /** Give this as `endpoint` (like HF_ENDPOINT): `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** The CDN's origin, another port on loopback. */
  cdnEndpoint: string;
  token: string;
  requests: FakeHubRequest[];
  setFault(file: string, fault: FakeHubFault, times?: number): void;
  clearFaults(): void;
  close(): Promise<void>;
}

export const FAKE_HUB_TOKEN = 'hf_fake_hub_token';
const DEFAULT_LFS_THRESHOLD = 64 * 1024;

/** A random-looking but reproducible commit sha for tests. */
export function fakeSha(seed: string): string {
  return createHash('sha1').update(seed).digest('hex');
}

/** Reproducible pseudo-random bytes (xorshift), so files are incompressible and differ byte by byte. */
export function fakeBytes(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

interface FileEntry {
  repo: string;
  path: string;
  body: Uint8Array;
  lfs: boolean;
  sha256: string;
  /** The validator the server sends and compares If-Range with. */
  etag: string;
}

export async function startFakeHub(options: FakeHubOptions): Promise<FakeHub> {
  const token = options.token ?? FAKE_HUB_TOKEN;
  const threshold = options.lfsThreshold ?? DEFAULT_LFS_THRESHOLD;
  const requests: FakeHubRequest[] = [];
  let faults = (options.faults ?? []).map((f) => ({ ...f, times: f.times ?? 1 }));

  const files = new Map<string, FileEntry>(); // key: `${repo}\0${path}`
  for (const [repo, spec] of Object.entries(options.repos)) {
    for (const [path, body] of Object.entries(spec.files)) {
      const sha256 = createHash('sha256').update(body).digest('hex');
      const gitSha = createHash('sha1').update(`blob ${body.length}\0`).update(body).digest('hex');
      const lfs = body.length >= threshold;
      files.set(`${repo}\0${path}`, { repo, path, body, lfs, sha256, etag: `"${lfs ? sha256 : gitSha}"` });
    }
  }

  function takeFault(repo: string, path: string, kinds: FakeHubFault['kind'][]): FakeHubFault | undefined {
    const rule = faults.find(
      (f) => f.times > 0 && kinds.includes(f.fault.kind) && (f.file === path || f.file === `${repo}/${path}` || f.file === '*'),
    );
    if (!rule) return undefined;
    rule.times--;
    return rule.fault;
  }

  function findRepo(segments: string[]): { repo: string; spec: FakeRepo; rest: string[] } | undefined {
    // Repo ids are `owner/name`, or a bare `name` for the Hub's legacy models.
    for (const take of [2, 1]) {
      const repo = segments.slice(0, take).join('/');
      const spec = options.repos[repo];
      if (spec) return { repo, spec, rest: segments.slice(take) };
    }
    return undefined;
  }

  function resolvesTo(spec: FakeRepo, rev: string): boolean {
    return rev === spec.sha || rev === 'main' || (spec.branches ?? []).includes(rev);
  }

  function hubError(res: http.ServerResponse, status: number, code: string, message: string): void {
    res.writeHead(status, { 'Content-Type': 'application/json', 'X-Error-Code': code, 'X-Error-Message': message });
    res.end(JSON.stringify({ error: message }));
  }

  /** The Hub's access check: true when the request may go on, otherwise the error has been sent. */
  function checkAccess(req: http.IncomingMessage, res: http.ServerResponse, repo: string, spec: FakeRepo): boolean {
    if (!spec.gated) return true;
    const authorised = req.headers.authorization === `Bearer ${token}`;
    if (spec.gated === 'licence') {
      const message = authorised
        ? `Access to model ${repo} is restricted and you are not in the authorized list. Visit https://huggingface.co/${repo} to ask for access.`
        : `Access to model ${repo} is restricted. You must have access to it and be authenticated to access it. Please log in.`;
      hubError(res, 403, 'GatedRepo', message);
      return false;
    }
    if (authorised) return true;
    hubError(res, 401, 'GatedRepo', `Access to model ${repo} is restricted. You must be authenticated to access it.`);
    return false;
  }

  function serveRevision(req: http.IncomingMessage, res: http.ServerResponse, url: URL, segments: string[]): void {
    const found = findRepo(segments);
    const revAt = found ? found.rest.indexOf('revision') : -1;
    if (!found || revAt !== 0 || found.rest.length < 2) {
      hubError(res, 404, 'RepoNotFound', 'Repository not found');
      return;
    }
    const { repo, spec } = found;
    const rev = found.rest.slice(1).join('/');
    if (!checkAccess(req, res, repo, spec)) return;
    const fault = takeFault(repo, '@api', ['status']);
    if (fault?.kind === 'status') {
      hubError(res, fault.status, 'Fault', `injected ${fault.status}`);
      return;
    }
    if (!resolvesTo(spec, rev)) {
      hubError(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      return;
    }
    const blobs = url.searchParams.get('blobs') === 'true';
    const siblings = [...files.values()]
      .filter((f) => f.repo === repo)
      .map((f) => ({
        rfilename: f.path,
        ...(blobs
          ? {
              size: f.body.length,
              blobId: f.etag.slice(1, -1),
              ...(f.lfs ? { lfs: { sha256: f.sha256, size: f.body.length, pointerSize: 134 } } : {}),
            }
          : {}),
      }));
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ _id: fakeSha(repo).slice(0, 24), id: repo, modelId: repo, sha: spec.sha, private: false, gated: spec.gated ?? false, siblings }));
  }

  function serveResolve(req: http.IncomingMessage, res: http.ServerResponse, segments: string[]): void {
    const found = findRepo(segments);
    if (!found || found.rest[0] !== 'resolve' || found.rest.length < 3) {
      hubError(res, 404, 'RepoNotFound', 'Repository not found');
      return;
    }
    const { repo, spec } = found;
    if (!checkAccess(req, res, repo, spec)) return;
    const rev = found.rest[1] ?? '';
    const path = found.rest.slice(2).join('/');
    if (!resolvesTo(spec, rev)) {
      hubError(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      return;
    }
    const entry = files.get(`${repo}\0${path}`);
    const fault = takeFault(repo, path, ['status']);
    if (fault?.kind === 'status') {
      hubError(res, fault.status, fault.status === 404 ? 'EntryNotFound' : 'Fault', `injected ${fault.status}`);
      return;
    }
    if (!entry) {
      hubError(res, 404, 'EntryNotFound', `${path} does not exist on "${rev}"`);
      return;
    }
    const common = { 'X-Repo-Commit': spec.sha, ETag: entry.etag };
    if (entry.lfs) {
      const location = `${cdnEndpoint}/cdn/${entry.sha256}?repo=${encodeURIComponent(repo)}&path=${encodeURIComponent(path)}`;
      res.writeHead(302, { ...common, Location: location, 'X-Linked-Size': String(entry.body.length), 'X-Linked-Etag': `"${entry.sha256}"` });
      res.end();
      return;
    }
    serveBody(req, res, entry, common);
  }

  function serveCdn(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
    const entry = files.get(`${url.searchParams.get('repo') ?? ''}\0${url.searchParams.get('path') ?? ''}`);
    if (!entry || !url.pathname.endsWith(`/${entry.sha256}`)) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('NoSuchKey');
      return;
    }
    serveBody(req, res, entry, { ETag: entry.etag });
  }

  function serveBody(req: http.IncomingMessage, res: http.ServerResponse, entry: FileEntry, headers: Record<string, string>): void {
    const size = entry.body.length;
    const bodyFault = req.method === 'GET' ? takeFault(entry.repo, entry.path, ['drop', 'corrupt', 'slow', 'ignore-range']) : undefined;
    let start = 0;
    let end = size; // exclusive
    let status = 200;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    const rangeValid = ifRange === undefined || ifRange === entry.etag;
    if (range && rangeValid && bodyFault?.kind !== 'ignore-range') {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]) + 1, size) : size;
      if (start >= size) {
        res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}` });
        res.end();
        return;
      }
      status = 206;
    }
    let body = Buffer.from(entry.body.subarray(start, end));
    if (bodyFault?.kind === 'corrupt' && bodyFault.offset >= start && bodyFault.offset < end) {
      body = Buffer.from(body); // a copy: never touch the source bytes
      body[bodyFault.offset - start] = (body[bodyFault.offset - start] ?? 0) ^ 0xff;
    }
    res.writeHead(status, {
      ...headers,
      'Accept-Ranges': 'bytes',
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(body.length),
      ...(status === 206 ? { 'Content-Range': `bytes ${start}-${end - 1}/${size}` } : {}),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (bodyFault?.kind === 'drop') {
      const cut = Math.min(bodyFault.afterBytes, body.length);
      // Flush what was promised to go through, then kill the socket mid-body: the client sees a premature close.
      res.write(body.subarray(0, cut), () => res.socket?.destroy());
      return;
    }
    if (bodyFault?.kind === 'slow') {
      const tickMs = 50;
      const perTick = Math.max(1, Math.floor((bodyFault.bytesPerSecond * tickMs) / 1000));
      let offset = 0;
      const timer = setInterval(() => {
        if (res.destroyed || offset >= body.length) {
          clearInterval(timer);
          if (!res.destroyed) res.end();
          return;
        }
        res.write(body.subarray(offset, offset + perTick));
        offset += perTick;
      }, tickMs);
      res.on('close', () => clearInterval(timer));
      return;
    }
    res.end(body);
  }

  function handler(server: 'hub' | 'cdn') {
    return (req: http.IncomingMessage, res: http.ServerResponse): void => {
      const url = new URL(req.url ?? '/', 'http://fake-hub');
      res.on('finish', () => log(res.statusCode));
      res.on('close', () => {
        if (!res.writableFinished) log(res.statusCode);
      });
      let logged = false;
      function log(status: number): void {
        if (logged) return;
        logged = true;
        requests.push({
          server,
          method: req.method ?? 'GET',
          url: decodeURIComponent(url.pathname) + url.search,
          status,
          complete: res.writableFinished,
          ...(req.headers.range ? { range: req.headers.range } : {}),
          ...(req.headers['if-range'] ? { ifRange: String(req.headers['if-range']) } : {}),
          ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        });
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405).end();
        return;
      }
      const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      if (server === 'cdn') serveCdn(req, res, url);
      else if (segments[0] === 'api' && segments[1] === 'models') serveRevision(req, res, url, segments.slice(2));
      else serveResolve(req, res, segments);
    };
  }

  const hubServer = http.createServer(handler('hub'));
  const cdnServer = http.createServer(handler('cdn'));
  const listen = (server: http.Server) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
  const endpoint = `http://127.0.0.1:${await listen(hubServer)}`;
  const cdnEndpoint = `http://127.0.0.1:${await listen(cdnServer)}`;

  return {
    endpoint,
    cdnEndpoint,
    token,
    requests,
    setFault(file, fault, times = 1) {
      faults.push({ file, fault, times });
    },
    clearFaults() {
      faults = [];
    },
    async close() {
      await Promise.all(
        [hubServer, cdnServer].map(
          (server) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      );
    },
  };
}

/** Every file of a folder, keyed by its forward-slash path: the shape of a Hub repo. */
export async function folderFiles(dir: string): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    files[path.relative(dir, full).split(path.sep).join('/')] = new Uint8Array(await readFile(full));
  }
  return files;
}
