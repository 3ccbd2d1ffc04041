// The built renderer served by the app scheme's own handler (electron/main/app-protocol.ts), as Electron serves it
// from `screenask://app/`: Chromium cannot register a custom scheme from here, so an https origin stands in for it and
// every request to it is answered by the handler (status, headers with the CSP, body). The bundle must load, render
// every view and break no CSP rule, with nothing requested that the handler does not serve, and the icon the page
// names must be served (headless Chromium never requests icons by itself, so the test fetches it from the page). The
// preload is stood in for by an init script giving the page a `window.screenask` with canned replies.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { APP_BASE_URL, createAppProtocolHandler } from '../../electron/main/app-protocol.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultSettings } from '../../electron/shared/settings.js';
import { buildRenderer } from '../../harness/build-renderer.js';
import { findChromium } from '../../scripts/ensure-chromium.mjs';

/** The https origin standing in for screenask://app in Chromium. */
const STAND_IN = 'https://app.screenask.test/';
let root: string;
let rendererDir: string;
let browser: Browser;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-app-scheme-'));
  rendererDir = await buildRenderer(path.join(root, 'renderer'));
  browser = await chromium.launch({ executablePath: findChromium(), args: ['--no-sandbox'] });
});

afterAll(async () => {
  await browser?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

/** What the preload would expose, answering with fixed data. */
function stubApi(settings: unknown): void {
  const status = {
    model: { name: 'SmolVLM-256M-Instruct', state: 'ready' },
    hotkey: { accelerator: 'CommandOrControl+Shift+Space', state: 'registered' },
    lastAnswers: {},
  };
  const models = { modelsDir: '/models', installed: [], catalogue: [], downloads: [] };
  const resolved = (value: unknown) => () => Promise.resolve(value);
  Object.defineProperty(window, 'screenask', {
    value: {
      getSettings: resolved(settings),
      setSettings: resolved({ ok: true, settings }),
      subscribeStatus: (listener: (s: unknown) => void) => (listener(status), Promise.resolve(() => undefined)),
      subscribeModels: (listener: (s: unknown) => void) => (listener(models), Promise.resolve(() => undefined)),
      onTrigger: () => () => undefined,
      onReadAhead: () => () => undefined,
      listHistory: resolved([]),
    },
  });
}

describe('the built renderer from the app scheme', () => {
  it('loads and renders every view under the CSP, requesting only what the handler serves', async () => {
    const context = await browser.newContext();
    const problems: string[] = [];
    const handler = createAppProtocolHandler(rendererDir);
    await context.route('**/*', async (route) => {
      const url = route.request().url();
      if (!url.startsWith(STAND_IN)) {
        problems.push(`request outside the app: ${url}`);
        return route.abort();
      }
      const response = await handler(new Request(APP_BASE_URL + url.slice(STAND_IN.length), { method: route.request().method() }));
      if (response.status !== 200) problems.push(`${response.status} for ${url}`);
      await route.fulfill({ status: response.status, headers: Object.fromEntries(response.headers), body: Buffer.from(await response.arrayBuffer()) });
    });
    const tab = await context.newPage();
    tab.on('pageerror', (error) => problems.push(error.message));
    tab.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
    await tab.addInitScript(stubApi, defaultSettings);
    const views: Record<string, string> = {
      ask: 'textbox[name="Question"]',
      settings: 'spinbutton[name="Max new tokens"]',
      models: 'heading[name="Models"]',
      history: 'searchbox[name="Search history"]',
    };
    for (const [view, selector] of Object.entries(views)) {
      await tab.goto(`${STAND_IN}index.html#${view}`);
      const [role, name] = /^(\w+)\[name="(.+)"\]$/.exec(selector)!.slice(1) as [Parameters<typeof tab.getByRole>[0], string];
      await tab.getByRole(role, { name, exact: true }).first().waitFor({ timeout: 10_000 });
    }
    // The page's icon (without one, a browser asks for /favicon.ico and logs the 404), fetched through the handler.
    const icon = await tab.evaluate(async () => {
      const href = document.querySelector<HTMLLinkElement>('link[rel="icon"]')?.href;
      if (!href) return 'the page names no icon';
      const response = await fetch(href);
      return `${response.status} ${response.headers.get('content-type')}`;
    });
    expect(icon).toBe('200 image/png');
    expect(problems).toEqual([]);
    await context.close();
  });
});
