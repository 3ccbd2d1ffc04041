// Electron's security checklist, as code: locked-down web preferences, a strict CSP, no navigation, no new windows,
// a permission handler that grants only what screen capture needs to our own pages, and openExternal only for
// allowlisted URLs. Everything here takes the Electron objects as narrow interfaces so tests can drive it with fakes.
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

/** Decides whether a URL is one of our own pages (app-protocol.ts's isAppSchemeUrl in the app). */
export type AppUrlMatcher = (url: string) => boolean;

/** Our pages when they are served from one web origin (the web harness, a dev server). */
export function originMatcher(origin: string): AppUrlMatcher {
  return (url) => {
    try {
      return new URL(url).origin === origin;
    } catch {
      return false;
    }
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

/** A permission by the name Electron gives it (the union in electron.d.ts). */
export type Permission = Parameters<NonNullable<Parameters<Electron.Session['setPermissionCheckHandler']>[0]>>[1];

/** The parts of Electron's Session this module uses, with Electron's own signatures. */
export type SessionLike = Pick<Electron.Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler'> & {
  readonly webRequest: Pick<Electron.WebRequest, 'onHeadersReceived'>;
};

/**
 * The CSP as a response header on every web response. The app's own pages come from app-protocol.ts, which sets the
 * same header itself, and the renderer's HTML carries the policy in a meta tag as well: three places, one policy.
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

/**
 * The one permission our pages use: writing text to the clipboard (Copy; `navigator.clipboard.writeText` asks for
 * 'clipboard-sanitized-write'). Screen capture happens in the main process, so pages get no media access.
 */
const GRANTED_TO_APP_PAGES: ReadonlySet<Permission> = new Set(['clipboard-sanitized-write']);

/** Grants our own pages what they use; denies every other permission, and everything to any other page. */
export function installPermissionHandlers(session: SessionLike, isAppUrl: AppUrlMatcher): void {
  session.setPermissionRequestHandler((webContents, permission, callback, details) => {
    callback(GRANTED_TO_APP_PAGES.has(permission) && isAppUrl(details.requestingUrl || webContents.getURL()));
  });
  session.setPermissionCheckHandler((webContents, permission, _origin, details) => {
    return GRANTED_TO_APP_PAGES.has(permission) && isAppUrl(details.requestingUrl ?? webContents?.getURL() ?? '');
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
