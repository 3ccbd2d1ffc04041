import { describe, expect, it, vi } from 'vitest';
import { appPageUrl, isAppSchemeUrl } from '../../electron/main/app-protocol.js';
import { SCREEN_RECORDING_SETTINGS_URL } from '../../electron/main/capture.js';
import {
  CONTENT_SECURITY_POLICY,
  createSafeOpenExternal,
  hardenWebContents,
  installCsp,
  installPermissionHandlers,
  originMatcher,
  secureWebPreferences,
} from '../../electron/main/security.js';
import { WindowManager, askWindowOptions, overlayWindowOptions, settingsWindowOptions, type WindowLike } from '../../electron/main/windows.js';
import { FakeSession, FakeWebContents } from './fakes.js';

const pageUrl = appPageUrl('ask');

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
    const details = { responseHeaders: { 'content-security-policy': ['default-src *'], 'x-other': ['1'] } } as unknown as Electron.OnHeadersReceivedListenerDetails;
    session.headersListener?.(details, (r) => (headers = r.responseHeaders));
    expect(headers).toEqual({ 'x-other': ['1'], 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] });
    for (const directive of ["default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "connect-src 'self'", "img-src 'self' data: blob:"]) {
      expect(CONTENT_SECURITY_POLICY).toContain(directive);
    }
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/script-src[^;]*unsafe/);
  });

  it('grants our own pages the clipboard write that Copy needs, and nothing else; other pages get nothing', async () => {
    const session = new FakeSession();
    // Electron's default without handlers: everything is granted. The point of installing them.
    expect(await session.request('geolocation', 'https://evil.example/')).toBe(true);
    installPermissionHandlers(session, isAppSchemeUrl);
    expect(await session.clipboardWriteText(pageUrl)).toBe(true);
    expect(await session.clipboardWriteText('https://evil.example/')).toBe(false);
    expect(await session.clipboardWriteText('file:///opt/ScreenAsk/resources/app.asar/out/renderer/index.html')).toBe(false);
    // Capture runs in the main process: no page gets media, not even ours.
    expect(await session.request('media', pageUrl, ['video'])).toBe(false);
    for (const permission of ['notifications', 'geolocation', 'clipboard-read', 'openExternal', 'display-capture', 'fullscreen'] as const) {
      expect([permission, await session.request(permission, pageUrl)]).toEqual([permission, false]);
      expect([permission, session.check(permission, pageUrl)]).toEqual([permission, false]);
    }
  });

  it('originMatcher accepts exactly one web origin (the web harness)', () => {
    const matches = originMatcher('http://127.0.0.1:5173');
    expect(matches('http://127.0.0.1:5173/index.html#ask')).toBe(true);
    for (const url of ['http://127.0.0.1:5174/', 'https://127.0.0.1:5173/', 'http://localhost:5173/', appPageUrl('ask'), 'not a url', '']) {
      expect([url, matches(url)]).toEqual([url, false]);
    }
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

  it('the window manager hardens each window before it loads the app page, reuses it, and lifts the overlay above all', async () => {
    const created: Array<{ options: unknown; win: WindowLike }> = [];
    const order: string[] = [];
    const manager = new WindowManager({
      preloadPath: '/p.cjs',
      harden: () => order.push('harden'),
      createWindow: (options) => {
        const contents = new FakeWebContents();
        const win: WindowLike = {
          webContents: contents,
          loadURL: async (url: string) => void order.push(`load ${url}`),
          once: () => undefined,
          show: () => order.push('show'),
          focus: () => order.push('focus'),
          close: () => {},
          isDestroyed: () => false,
          // macOS: the window sits below a 25-point menu bar, whatever it was asked for.
          getContentBounds: () => ({ x: options.x ?? 0, y: (options.y ?? 0) + 25, width: options.width ?? 0, height: (options.height ?? 0) - 25 }),
          setAlwaysOnTop: (flag, level) => void order.push(`on top ${flag} ${level}`),
        };
        created.push({ options, win });
        return win;
      },
    });
    const first = await manager.show('ask');
    const second = await manager.show('ask');
    expect(first).toBe(second);
    expect(created).toHaveLength(1);
    expect(order).toEqual(['harden', 'load screenask://app/index.html#ask', 'show', 'focus']);
    await manager.show('overlay', { x: 1920, y: 0, width: 1440, height: 900 });
    expect(created[1]!.options).toMatchObject({ x: 1920, width: 1440, frame: false, transparent: true, alwaysOnTop: true });
    expect(order.slice(4)).toEqual(['harden', 'on top true screen-saver', 'load screenask://app/index.html#overlay']);
    expect(manager.contentBounds('overlay')).toEqual({ x: 1920, y: 25, width: 1440, height: 875 });
    expect(manager.contentBounds('settings')).toBeUndefined();
  });
});
