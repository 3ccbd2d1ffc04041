/**
 * The Hub's model API, the little of it a downloader needs: which commit a branch points at, and the files (with sizes
 * and LFS sha256) at that commit. Everything after this is pinned to the commit sha, so a push to the branch during a
 * download cannot mix files of two versions.
 */
import { z } from 'zod';
import { HubError } from './errors.js';
import { DEFAULT_RETRY, hubGet, readJson, withRetries } from './http.js';

export interface HubOptions {
  /** Default: HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** Default: HF_TOKEN, else HUGGING_FACE_HUB_TOKEN. An empty string means "no token" even when those are set. */
  token?: string;
  signal?: AbortSignal;
}

export interface RemoteFile {
  /** Path inside the repo, `/`-separated. */
  path: string;
  size: number;
  /** Given by the Hub for LFS files (the large ones); small git files have none. */
  sha256?: string;
}

export interface RepoRevision {
  repo: string;
  /** The commit, 40 hex characters. */
  sha: string;
  files: RemoteFile[];
}

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export function hubEndpoint(options: HubOptions = {}): string {
  const endpoint = options.endpoint ?? (process.env.HF_ENDPOINT || DEFAULT_ENDPOINT);
  return endpoint.replace(/\/+$/, '');
}

export function hubToken(options: HubOptions = {}): string | undefined {
  const token = options.token ?? (process.env.HF_TOKEN || process.env.HUGGING_FACE_HUB_TOKEN);
  return token?.trim() || undefined;
}

const REPO_ID = /^(?:[A-Za-z0-9][\w.-]*\/)?[A-Za-z0-9][\w.-]*$/;
const SHA = /^[0-9a-f]{40}$/;

/** Throws a one-line error for ids that cannot be a Hub repo (and could otherwise make odd URLs). */
export function checkRepoId(repo: string): void {
  if (!REPO_ID.test(repo) || repo.includes('..') || repo.endsWith('.git')) {
    throw new HubError('not-found', `"${repo}" is not a Hugging Face model id: use owner/name, e.g. HuggingFaceTB/SmolVLM-256M-Instruct.`);
  }
}

/** `{endpoint}/{repo}/resolve/{sha}/{path}`, each path segment escaped (file names may hold spaces or `#`). */
export function fileUrl(endpoint: string, repo: string, sha: string, path: string): string {
  const escaped = path.split('/').map(encodeURIComponent).join('/');
  return `${endpoint}/${repo}/resolve/${encodeURIComponent(sha)}/${escaped}`;
}

const Listing = z.object({
  sha: z.string().regex(SHA),
  siblings: z.array(
    z.object({
      rfilename: z.string().min(1),
      size: z.number().int().nonnegative().optional(),
      lfs: z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), size: z.number().int().nonnegative() }).optional(),
    }),
  ),
});

/**
 * Resolves `revision` (a branch such as `main`, a tag, or a commit sha) of `repo` to its commit and file list.
 * `?blobs=true` asks the Hub for sizes and LFS hashes; a mirror that ignores it gets one HEAD per file instead.
 */
export async function resolveRevision(repo: string, revision: string, options: HubOptions = {}): Promise<RepoRevision> {
  checkRepoId(repo);
  const endpoint = hubEndpoint(options);
  const token = hubToken(options);
  const context = { endpoint, repo, revision, hasToken: token !== undefined };
  const url = `${endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}?blobs=true`;
  const json = await withRetries(
    async () => readJson(await hubGet(url, { token, signal: options.signal, context, headers: { accept: 'application/json' } })),
    { ...DEFAULT_RETRY, attempts: 3 },
    options.signal,
  );
  const parsed = Listing.safeParse(json);
  if (!parsed.success) {
    throw new HubError('server', `${new URL(endpoint).host} sent a model listing for "${repo}" that is not the Hub's format: check HF_ENDPOINT.`);
  }
  const { sha, siblings } = parsed.data;
  if (SHA.test(revision) && sha !== revision) {
    throw new HubError('server', `${new URL(endpoint).host} answered commit ${sha} when asked for ${revision}: check HF_ENDPOINT.`);
  }
  const files: RemoteFile[] = [];
  for (const sibling of siblings) {
    const size = sibling.lfs?.size ?? sibling.size ?? (await headSize(endpoint, repo, sha, sibling.rfilename, token, options.signal));
    files.push({ path: sibling.rfilename, size, ...(sibling.lfs ? { sha256: sibling.lfs.sha256 } : {}) });
  }
  return { repo, sha, files };
}

async function headSize(endpoint: string, repo: string, sha: string, path: string, token: string | undefined, signal?: AbortSignal): Promise<number> {
  const context = { endpoint, repo, revision: sha, file: path, hasToken: token !== undefined };
  const response = await hubGet(fileUrl(endpoint, repo, sha, path), { method: 'HEAD', token, signal, context });
  await response.body.dump().catch(() => undefined);
  const size = Number(response.headers['x-linked-size'] ?? response.headers['content-length']);
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new HubError('server', `${new URL(endpoint).host} did not say the size of "${path}" in "${repo}": check HF_ENDPOINT.`);
  }
  return size;
}
