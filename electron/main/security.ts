// Electron's security checklist, as code: locked-down web preferences, a strict CSP, no navigation, no new windows,
// a permission handler that grants only what screen capture needs to our own pages, and openExternal only for
// allowlisted URLs. Everything here takes the Electron objects as narrow interfaces so tests can drive it with fakes.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCREEN_RECORDING_SETTINGS_URL } from './capture.js';

/**
 * The Content-Security-Policy of every page. 'unsafe-inline' styles only: the UI sets element styles from script;
 * scripts stay 'self'. Model output is rendered as text, never as HTML, so no script can come from an answer.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The web preferences of every window. */
export function secureWebPreferences(preloadPath: string) {
  return {
    preload: preloadPath,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    webviewTag: false,
    navigateOnDragDrop: false,
    spellcheck: false,
    // Middle-click (auxclick) can open links in new windows behind the window-open handler's back in some versions.
    disableBlinkFeatures: 'Auxclick',
  } as const;
}

/** Decides whether a URL is one of our own pages: a file inside the renderer folder (or the dev server's origin). */
export type AppUrlMatcher = (url: string) => boolean;

export function createAppUrlMatcher(options: { rendererDir: string; devServerOrigin?: string }): AppUrlMatcher {
  const root = path.resolve(options.rendererDir) + path.sep;
  return (url: string): boolean => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return false;
    }
    if (options.devServerOrigin && parsed.origin === options.devServerOrigin) return true;
    if (parsed.protocol !== 'file:' || (parsed.host !== '' && parsed.host !== 'localhost')) return false;
    let file: string;
    try {
      file = path.resolve(fileURLToPath(parsed));
    } catch {
      return false;
    }
    return file.startsWith(root);
  };
}

/** openExternal for https URLs whose host is on the allowlist, plus the exact System Settings deep link. */
export function createSafeOpenExternal(
  openExternal: (url: string) => Promise<void>,
  allowedHosts: readonly string[],
): (url: string) => Promise<boolean> {
  const hosts = new Set(allowedHosts.map((h) => h.toLowerCase()));
  return async (url: string): Promise<boolean> => {
    if (!isAllowedExternalUrl(url, hosts)) return false;
    await openExternal(url);
    return true;
  };
}

export function isAllowedExternalUrl(url: string, hosts: ReadonlySet<string>): boolean {
  if (url === SCREEN_RECORDING_SETTINGS_URL) return true;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  return (
    parsed.protocol === 'https:' &&
    parsed.username === '' &&
    parsed.password === '' &&
    parsed.port === '' &&
    hosts.has(parsed.hostname.toLowerCase())
  );
}

/** The parts of Electron's Session this module uses. */
export interface HeadersDetails {
  responseHeaders?: Record<string, string[] | string>;
}
export interface PermissionRequestDetails {
  requestingUrl?: string;
  mediaTypes?: Array<'video' | 'audio'>;
}
export interface SessionLike {
  webRequest: {
    onHeadersReceived(
      listener: (
        details: HeadersDetails,
        callback: (response: { responseHeaders?: Record<string, string[] | string> }) => void,
      ) => void,
    ): void;
  };
  setPermissionRequestHandler(
    handler: (
      webContents: { getURL(): string } | null,
      permission: string,
      callback: (granted: boolean) => void,
      details: PermissionRequestDetails,
    ) => void,
  ): void;
  setPermissionCheckHandler(
    handler: (
      webContents: { getURL(): string } | null,
      permission: string,
      requestingOrigin: string,
      details: { requestingUrl?: string },
    ) => boolean,
  ): void;
}

/**
 * The CSP as a response header on every response. Pages loaded from file:// get no response headers to rewrite on
 * every platform, so the renderer's HTML carries the same policy in a meta tag as well.
 */
export function installCsp(session: SessionLike): void {
  session.webRequest.onHeadersReceived((details, callback) => {
    const headers = { ...(details.responseHeaders ?? {}) };
    for (const key of Object.keys(headers)) {
      if (key.toLowerCase() === 'content-security-policy') delete headers[key];
    }
    callback({ responseHeaders: { ...headers, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } });
  });
}

/** Grants 'media' (video only: screen capture) to our own pages; denies every other permission to everyone. */
export function installPermissionHandlers(session: SessionLike, isAppUrl: AppUrlMatcher): void {
  session.setPermissionRequestHandler((webContents, permission, callback, details) => {
    const url = details.requestingUrl ?? webContents?.getURL() ?? '';
    const videoOnly = (details.mediaTypes ?? []).every((type) => type === 'video');
    callback(permission === 'media' && videoOnly && isAppUrl(url));
  });
  session.setPermissionCheckHandler((webContents, permission, _origin, details) => {
    const url = details.requestingUrl ?? webContents?.getURL() ?? '';
    return permission === 'media' && isAppUrl(url);
  });
}

/** The parts of Electron's WebContents this module uses. */
export interface PreventableEvent {
  preventDefault(): void;
}
export interface WebContentsLike {
  on(event: 'will-navigate' | 'will-redirect', listener: (event: PreventableEvent, url: string) => void): unknown;
  on(event: 'will-attach-webview', listener: (event: PreventableEvent) => void): unknown;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' } | { action: 'allow' }): void;
}

/**
 * No navigation away from the loaded page, no <webview>, no new windows. A link the user clicks (a window.open or a
 * target=_blank) opens in the browser when `openExternal` allows it.
 */
export function hardenWebContents(
  contents: WebContentsLike,
  openExternal: (url: string) => Promise<boolean>,
  log: (message: string) => void = () => {},
): void {
  contents.on('will-navigate', (event, url) => {
    event.preventDefault();
    log(`blocked navigation to ${url}`);
  });
  contents.on('will-redirect', (event, url) => {
    event.preventDefault();
    log(`blocked redirect to ${url}`);
  });
  contents.on('will-attach-webview', (event) => {
    event.preventDefault();
    log('blocked a <webview>');
  });
  contents.setWindowOpenHandler(({ url }) => {
    void openExternal(url).then(
      (opened) => {
        if (!opened) log(`blocked window.open of ${url}`);
      },
      () => log(`openExternal failed for ${url}`),
    );
    return { action: 'deny' };
  });
}
