// The built renderer opened from disk, as Electron opens it (file://, the CSP meta tag, no server): the bundle must load
// as a classic script, render every view and break no CSP rule. The preload is stood in for by an init script giving
// the page a `window.screenask` with canned replies.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultSettings } from '../../electron/shared/settings.js';
import { buildRenderer } from '../../harness/build-renderer.js';
import { findChromium } from '../../scripts/ensure-chromium.mjs';

let root: string;
let page: string;
let browser: Browser;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-file-url-'));
  page = pathToFileURL(path.join(await buildRenderer(path.join(root, 'renderer')), 'index.html')).href;
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
      listHistory: resolved([]),
    },
  });
}

describe('the built renderer from file://', () => {
  it('loads and renders every view under the CSP', async () => {
    const context = await browser.newContext();
    const problems: string[] = [];
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
      await tab.goto(`${page}#${view}`);
      const [role, name] = /^(\w+)\[name="(.+)"\]$/.exec(selector)!.slice(1) as [Parameters<typeof tab.getByRole>[0], string];
      await tab.getByRole(role, { name, exact: true }).first().waitFor({ timeout: 10_000 });
    }
    expect(problems).toEqual([]);
    await context.close();
  });
});
