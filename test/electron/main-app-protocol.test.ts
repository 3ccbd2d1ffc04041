// The app scheme's handler on real files: it serves the renderer folder's files with their type and the CSP, and
// nothing outside it however the path is spelled.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_BASE_URL, appPageUrl, createAppProtocolHandler, isAppSchemeUrl, rendererFile } from '../../electron/main/app-protocol.js';
import { CONTENT_SECURITY_POLICY } from '../../electron/main/security.js';

let root: string;
let rendererDir: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-protocol-'));
  rendererDir = path.join(root, 'renderer');
  await mkdir(path.join(rendererDir, 'assets'), { recursive: true });
  await writeFile(path.join(rendererDir, 'index.html'), '<!doctype html><title>ScreenAsk</title>');
  await writeFile(path.join(rendererDir, 'assets', 'index-1.js'), 'console.log(1)');
  await writeFile(path.join(rendererDir, 'assets', 'index-1.js.map'), '{}');
  await writeFile(path.join(root, 'secret.html'), 'outside');
  await writeFile(path.join(root, 'renderer-evil.html'), 'outside too');
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const get = (url: string, method = 'GET') => createAppProtocolHandler(rendererDir)(new Request(url, { method }));

describe('app protocol', () => {
  it('serves the page and its assets with their content type, the CSP and no sniffing', async () => {
    const page = await get(appPageUrl('ask'));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await page.text()).toBe('<!doctype html><title>ScreenAsk</title>');
    const script = await get(`${APP_BASE_URL}assets/index-1.js`);
    expect([script.status, script.headers.get('content-type'), await script.text()]).toEqual([200, 'text/javascript; charset=utf-8', 'console.log(1)']);
    expect((await get(APP_BASE_URL)).status).toBe(200);
    const head = await get(appPageUrl('ask'), 'HEAD');
    expect([head.status, await head.text()]).toEqual([200, '']);
  });

  it('serves nothing outside the renderer folder, nothing unshipped, and only GET', async () => {
    for (const url of [
      `${APP_BASE_URL}../secret.html`,
      `${APP_BASE_URL}%2e%2e/secret.html`,
      `${APP_BASE_URL}assets/%2e%2e%2f%2e%2e%2fsecret.html`,
      `${APP_BASE_URL}..%5csecret.html`,
      `${APP_BASE_URL}%00index.html`,
      `${APP_BASE_URL}%E0%A4%A`,
      `${APP_BASE_URL}assets/index-1.js.map`,
      `${APP_BASE_URL}missing.html`,
      'screenask://other/index.html',
      'https://app/index.html',
    ]) {
      expect([url, (await get(url)).status]).toEqual([url, 404]);
    }
    expect((await get(appPageUrl('ask'), 'POST')).status).toBe(405);
    // The path maths on its own: `..` that stays inside is still refused (it never occurs in our own URLs).
    expect(rendererFile(rendererDir, '/assets/../index.html')).toBeNull();
    expect(rendererFile(rendererDir, '/../renderer-evil.html')).toBeNull();
  });

  it('recognises only the app scheme and host as our pages', () => {
    expect(isAppSchemeUrl(appPageUrl('overlay'))).toBe(true);
    expect(isAppSchemeUrl(`${APP_BASE_URL}assets/x.js`)).toBe(true);
    for (const url of ['screenask://evil/index.html', 'screenask://user@app/index.html', 'file:///opt/ScreenAsk/out/renderer/index.html', 'https://app/', 'not a url', '']) {
      expect([url, isAppSchemeUrl(url)]).toEqual([url, false]);
    }
  });
});
