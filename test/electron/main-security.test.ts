import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { SCREEN_RECORDING_SETTINGS_URL } from '../../electron/main/capture.js';
import {
  CONTENT_SECURITY_POLICY,
  createAppUrlMatcher,
  createSafeOpenExternal,
  hardenWebContents,
  installCsp,
  installPermissionHandlers,
  secureWebPreferences,
} from '../../electron/main/security.js';
import { WindowManager, askWindowOptions, overlayWindowOptions, settingsWindowOptions, type WindowLike } from '../../electron/main/windows.js';
import { FakeSession, FakeWebContents } from './fakes.js';

const rendererDir = path.resolve('/opt/ScreenAsk/resources/app.asar/out/renderer');
const pageUrl = pathToFileURL(path.join(rendererDir, 'index.html')).href;
const isAppUrl = createAppUrlMatcher({ rendererDir });

describe('window security', () => {
  it('every window gets contextIsolation, sandbox, no node integration and web security', () => {
    for (const options of [askWindowOptions('/p.cjs'), settingsWindowOptions('/p.cjs'), overlayWindowOptions('/p.cjs', { x: 0, y: 0, width: 10, height: 10 })]) {
      expect(options.webPreferences).toMatchObject({
        preload: '/p.cjs',
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        nodeIntegrationInWorker: false,
        nodeIntegrationInSubFrames: false,
        webSecurity: true,
        allowRunningInsecureContent: false,
        webviewTag: false,
      });
    }
    expect(secureWebPreferences('/x').sandbox).toBe(true);
  });

  it('the CSP header replaces any other on every response', () => {
    const session = new FakeSession();
    installCsp(session);
    let headers: Record<string, string[] | string> | undefined;
    session.headersListener?.({ responseHeaders: { 'content-security-policy': ['default-src *'], 'x-other': ['1'] } }, (r) => (headers = r.responseHeaders));
    expect(headers).toEqual({ 'x-other': ['1'], 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] });
    for (const directive of ["default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "connect-src 'self'", "img-src 'self' data: blob:"]) {
      expect(CONTENT_SECURITY_POLICY).toContain(directive);
    }
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/script-src[^;]*unsafe/);
  });

  it('recognises only our own pages as the app', () => {
    expect(isAppUrl(pageUrl)).toBe(true);
    expect(isAppUrl(`${pageUrl}#overlay`)).toBe(true);
    expect(isAppUrl(pathToFileURL('/etc/passwd').href)).toBe(false);
    expect(isAppUrl(pathToFileURL(path.join(rendererDir, '..', 'renderer-evil', 'index.html')).href)).toBe(false);
    expect(isAppUrl('https://example.com/index.html')).toBe(false);
    expect(isAppUrl('not a url')).toBe(false);
    expect(isAppUrl('')).toBe(false);
    expect(createAppUrlMatcher({ rendererDir, devServerOrigin: 'http://localhost:5173' })('http://localhost:5173/x')).toBe(true);
  });

  it('grants only video media to our own pages', async () => {
    const session = new FakeSession();
    installPermissionHandlers(session, isAppUrl);
    expect(await session.request('media', pageUrl, ['video'])).toBe(true);
    expect(await session.request('media', pageUrl, ['video', 'audio'])).toBe(false);
    expect(await session.request('media', 'https://evil.example/', ['video'])).toBe(false);
    for (const permission of ['notifications', 'geolocation', 'clipboard-read', 'openExternal', 'display-capture']) {
      expect(await session.request(permission, pageUrl)).toBe(false);
    }
    expect(session.checkHandler?.(null, 'media', 'file://', { requestingUrl: pageUrl })).toBe(true);
    expect(session.checkHandler?.(null, 'media', 'https://evil.example', { requestingUrl: 'https://evil.example/' })).toBe(false);
    expect(session.checkHandler?.(null, 'geolocation', 'file://', { requestingUrl: pageUrl })).toBe(false);
  });

  it('blocks navigation, redirects, webviews and new windows; window.open goes to the browser only when allowlisted', async () => {
    const contents = new FakeWebContents();
    const openExternal = vi.fn(async () => {});
    const safeOpen = createSafeOpenExternal(openExternal, ['huggingface.co']);
    const log = vi.fn();
    hardenWebContents(contents, safeOpen, log);
    expect(contents.attempt('will-navigate', 'https://evil.example/')).toBe(true);
    expect(contents.attempt('will-navigate', pageUrl)).toBe(true);
    expect(contents.attempt('will-redirect', 'https://evil.example/')).toBe(true);
    expect(contents.attempt('will-attach-webview')).toBe(true);
    expect(contents.openHandler?.({ url: 'https://huggingface.co/HuggingFaceTB' })).toEqual({ action: 'deny' });
    expect(contents.openHandler?.({ url: 'https://evil.example/' })).toEqual({ action: 'deny' });
    await new Promise((r) => setTimeout(r, 0));
    expect(openExternal.mock.calls).toEqual([['https://huggingface.co/HuggingFaceTB']]);
    expect(log.mock.calls.map((c) => c[0])).toContain('blocked window.open of https://evil.example/');
  });

  it('openExternal allows https on the allowlist and the System Settings deep link only', async () => {
    const openExternal = vi.fn(async () => {});
    const safeOpen = createSafeOpenExternal(openExternal, ['huggingface.co', 'github.com']);
    expect(await safeOpen('https://github.com/x')).toBe(true);
    expect(await safeOpen(SCREEN_RECORDING_SETTINGS_URL)).toBe(true);
    for (const bad of ['http://github.com/x', 'https://github.com.evil.example/', 'https://user@github.com/', 'https://github.com:8443/', 'file:///etc/passwd', 'javascript:alert(1)', 'smb://host/share', 'x-apple.systempreferences:com.apple.preference.other', 'nonsense']) {
      expect(await safeOpen(bad)).toBe(false);
    }
    expect(openExternal).toHaveBeenCalledTimes(2);
  });

  it('the window manager hardens each window before it loads, and reuses it', async () => {
    const created: Array<{ options: unknown; win: WindowLike }> = [];
    const order: string[] = [];
    const manager = new WindowManager({
      preloadPath: '/p.cjs',
      pageUrl: (kind) => `${pageUrl}#${kind}`,
      harden: () => order.push('harden'),
      createWindow: (options) => {
        const contents = new FakeWebContents();
        const win: WindowLike = {
          webContents: contents,
          loadURL: async (url: string) => void order.push(`load ${url.split('#')[1]}`),
          once: () => undefined,
          show: () => order.push('show'),
          focus: () => order.push('focus'),
          close: () => {},
          isDestroyed: () => false,
        };
        created.push({ options, win });
        return win;
      },
    });
    const first = await manager.show('ask');
    const second = await manager.show('ask');
    expect(first).toBe(second);
    expect(created).toHaveLength(1);
    expect(order).toEqual(['harden', 'load ask', 'show', 'focus']);
    await manager.show('overlay', { x: 1920, y: 0, width: 1440, height: 900 });
    expect(created[1]!.options).toMatchObject({ x: 1920, width: 1440, frame: false, transparent: true, alwaysOnTop: true });
  });
});
