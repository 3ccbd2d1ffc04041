// The app's pages come from `screenask://app/`, a privileged scheme that serves the built renderer's files and nothing
// else, instead of file:// (Electron's security checklist: a file:// page can read any file the user can, and with the
// grantFileProtocolExtraPrivileges fuse off it loses the privileges the renderer would need anyway). The web harness
// serves the same files with the same headers over HTTP, through `rendererFile` and `rendererHeaders`.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CONTENT_SECURITY_POLICY } from './security.js';

export const APP_SCHEME = 'screenask';
export const APP_HOST = 'app';
/** The base of every page URL, e.g. `screenask://app/index.html#ask`. */
export const APP_BASE_URL = `${APP_SCHEME}://${APP_HOST}/`;

/**
 * What `protocol.registerSchemesAsPrivileged` gets, before the app is ready: a standard scheme (relative URLs and
 * `'self'` work as for https) that is secure (a secure context: the clipboard API needs one). No fetch, CORS or
 * streaming privileges: the pages load a script, a stylesheet and images, nothing else.
 */
export const appSchemePrivileges = {
  scheme: APP_SCHEME,
  privileges: { standard: true, secure: true, codeCache: true },
} as const satisfies Electron.CustomScheme;

/** The URL of the page for one window kind. */
export function appPageUrl(view: string): string {
  return `${APP_BASE_URL}index.html#${view}`;
}

/** Whether a URL is one of the app's pages (any view, any file of the renderer). */
export function isAppSchemeUrl(url: string): boolean {
  try {
    // Node's URL gives custom schemes an opaque origin ('null'), so compare scheme and host instead.
    const parsed = new URL(url);
    return parsed.protocol === `${APP_SCHEME}:` && parsed.host === APP_HOST && parsed.username === '' && parsed.password === '';
  } catch {
    return false;
  }
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

/**
 * The renderer file a URL path names, or null when it names none: outside the folder (`..`, encoded or not), a
 * backslash or NUL, a source map (not shipped), or a type the renderer never serves. `/` is the page.
 */
export function rendererFile(rendererDir: string, urlPath: string): string | null {
  let relative: string;
  try {
    relative = decodeURIComponent(urlPath === '/' || urlPath === '' ? '/index.html' : urlPath).slice(1);
  } catch {
    return null;
  }
  if (relative === '' || /[\\\0]/.test(relative) || relative.split('/').some((segment) => segment === '..')) return null;
  if (!(path.extname(relative) in CONTENT_TYPES)) return null;
  const root = path.resolve(rendererDir);
  const file = path.resolve(root, relative);
  return file.startsWith(root + path.sep) ? file : null;
}

/** The response headers of a renderer file: its type, the CSP, no sniffing, no caching (a new build is a new app). */
export function rendererHeaders(file: string): Record<string, string> {
  return {
    'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
  };
}

/** `protocol.handle`'s handler for the app scheme: GET of a renderer file, else 404 (or 405 for other methods). */
export function createAppProtocolHandler(
  rendererDir: string,
  read: (file: string) => Promise<Uint8Array> = readFile,
): (request: Request) => Promise<Response> {
  return async (request) => {
    if (!isAppSchemeUrl(request.url)) return new Response('not found', { status: 404 });
    if (request.method !== 'GET' && request.method !== 'HEAD') return new Response('method not allowed', { status: 405 });
    const file = rendererFile(rendererDir, new URL(request.url).pathname);
    const body = file === null ? null : await read(file).catch(() => null);
    if (file === null || body === null) return new Response('not found', { status: 404 });
    return new Response(request.method === 'HEAD' ? null : (body as Uint8Array<ArrayBuffer>), { status: 200, headers: rendererHeaders(file) });
  };
}
