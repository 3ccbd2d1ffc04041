/**
 * End to end in real Chromium: the built renderer, served by the web harness, over the app's main-process logic and
 * the real model process (a Node child running electron/utility/main.ts) with generated tiny models. One with a
 * scripted answer (planted Markdown and HTML), one with random weights (long answers, to stop). Screenshots of every
 * view land in artifacts/e2e/ (git-ignored) for a look by eye.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRenderer } from '../../harness/build-renderer.js';
import { startHarness, type Harness } from '../../harness/server.js';
import { findChromium } from '../../scripts/ensure-chromium.mjs';
import { writeQwen2VlModel } from '../fixtures/qwen2vl/generate.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { fakeSha, folderFiles, startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { repoRoot } from '../support/run-script.js';
import type { ScreenAskApi } from '../../electron/shared/ipc.js';

declare global {
  interface Window {
    readonly screenask: ScreenAskApi;
  }
}

const SCRIPT =
  'Planted: <img src=x onerror="window.__pwned=1"> then **bold** text.\n\n- first item\n- second item\n\n' +
  '<script>window.__pwned=2</script>[link](javascript:window.__pwned=3)\n\n```\nconst x = 1;\n```';
const CATALOGUE_REPO = 'HuggingFaceTB/SmolVLM-256M-Instruct';
const artifacts = path.join(repoRoot, 'artifacts', 'e2e');

let root: string;
let scriptedModel: string;
let randomModel: string;
let qwenModel: string;
let scriptedTokens: number;
let hub: FakeHub;
let harness: Harness;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-e2e-'));
  await mkdir(artifacts, { recursive: true });
  const rendererDir = await buildRenderer(path.join(root, 'renderer'));
  scriptedModel = path.join(root, 'scripted');
  const scripted = await writeSmolVlmModel(scriptedModel, { precisions: ['fp32'], scriptedAnswer: SCRIPT });
  scriptedTokens = scripted.scriptedAnswer!.tokenIds.length;
  randomModel = path.join(root, 'random');
  await writeSmolVlmModel(randomModel, { precisions: ['fp32'], seed: 5 });
  qwenModel = path.join(root, 'qwen2.5-vl');
  await writeQwen2VlModel(qwenModel, { family: 'qwen2_5_vl', precisions: ['fp32', 'q8'] });
  hub = await startFakeHub({ repos: { [CATALOGUE_REPO]: { sha: fakeSha('e2e'), files: await folderFiles(randomModel) } } });
  harness = await startHarness({
    rendererDir,
    userDataDir: path.join(root, 'user-data'),
    modelsDir: path.join(root, 'models'),
    settings: { model: scriptedModel, imageDetail: 'low' },
    hub: { endpoint: hub.endpoint },
    log: () => undefined,
  });
  const executablePath = findChromium();
  if (!executablePath) throw new Error('no Chromium: run `npm run browser` (installs Debian\'s chromium) or set SCREENASK_CHROMIUM');
  // --no-sandbox: CI runs as root, where Chromium's own sandbox cannot start.
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 560, height: 760 } });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('dialog', (dialog) => void dialog.accept());
  await page.goto(`${harness.url}#ask`);
  await waitForModel(scriptedModel);
});

afterAll(async () => {
  await browser?.close();
  await harness?.close();
  await hub?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

/** Resolves when the app reports `ready` for the model in this folder. */
async function waitForModel(dir: string): Promise<void> {
  await page.evaluate(
    (name) =>
      new Promise<void>((resolve) => {
        void window.screenask.subscribeStatus((status) => {
          if (status.model.state === 'ready' && status.model.name === name) resolve();
        });
      }),
    path.basename(dir),
  );
}

/** Polls with room for a busy machine (the default gives up after one second). */
const eventually = <T>(value: () => Promise<T> | T, timeout = 30_000) => expect.poll(value, { timeout, interval: 50 });

async function captureAndAsk(question: string): Promise<void> {
  await page.getByRole('button', { name: 'Capture screen' }).click();
  // The capture opens a new conversation: no answers yet, and its thumbnail shown.
  await eventually(async () => (await stats().count()) === 0 && (await page.locator('img[src^="data:image/png"]').count()) > 0).toBe(true);
  await page.getByRole('textbox', { name: 'Question' }).fill(question);
  await page.getByRole('textbox', { name: 'Question' }).press('Enter');
}

const answers = () => page.getByTestId('answer');
const stats = () => page.getByTestId('stats');

async function lastStats(count: number): Promise<string> {
  await eventually(() => stats().count(), 60_000).toBe(count);
  return (await stats().nth(count - 1).textContent()) ?? '';
}

async function openSettings(): Promise<void> {
  await page.evaluate(() => (location.hash = '#settings'));
  await page.getByRole('spinbutton', { name: 'Max new tokens' }).waitFor();
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}

/**
 * Runs in the page: the luminance of the page background, and every visible, enabled text whose colour has less than
 * 4.5:1 contrast with the first opaque background behind it (WCAG's relative luminance and contrast ratio).
 */
function themeReport(): { pageLuminance: number; texts: number; unreadable: string[] } {
  const rgb = (css: string): [number, number, number, number] => {
    const [r = 0, g = 0, b = 0, a = 1] = (css.match(/[\d.]+/g) ?? []).map(Number);
    return [r, g, b, css.startsWith('rgba') ? a : 1];
  };
  const luminance = ([r, g, b]: number[]): number => {
    const lin = (c: number) => (c / 255 <= 0.04045 ? c / 255 / 12.92 : ((c / 255 + 0.055) / 1.055) ** 2.4);
    return 0.2126 * lin(r!) + 0.7152 * lin(g!) + 0.0722 * lin(b!);
  };
  const backdrop = (element: Element | null): number[] => {
    for (let e = element; e; e = e.parentElement) {
      const color = rgb(getComputedStyle(e).backgroundColor);
      if (color[3] > 0.5) return color;
    }
    return rgb(getComputedStyle(document.documentElement).backgroundColor);
  };
  const unreadable: string[] = [];
  let texts = 0;
  for (const element of document.body.querySelectorAll('*')) {
    const text = [...element.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent ?? '').join('').trim();
    if (!text || element.getClientRects().length === 0 || element.closest(':disabled, [aria-disabled="true"]')) continue;
    texts++;
    const fg = luminance(rgb(getComputedStyle(element).color));
    const bg = luminance(backdrop(element));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < 4.5) unreadable.push(`${element.tagName.toLowerCase()} "${text.slice(0, 40)}": ${ratio.toFixed(2)}:1`);
  }
  return { pageLuminance: luminance(backdrop(document.body)), texts, unreadable };
}

describe('the renderer in Chromium, against the real model process', () => {
  it('streams the answer about a capture as sanitized Markdown', async () => {
    // Record every length the answer's text passes through: a streamed answer grows in steps.
    await page.evaluate(() => {
      const w = window as unknown as { __lengths: number[] };
      w.__lengths = [];
      new MutationObserver(() => {
        const answer = document.querySelector('[data-testid="answer"]');
        if (answer) w.__lengths.push(answer.textContent?.length ?? 0);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await captureAndAsk('What does this error mean?');
    expect(await lastStats(1)).toMatch(/cache on/i);
    const answer = answers().first();
    await eventually(() => answer.locator('strong').textContent()).toBe('bold');
    expect(await answer.locator('li').allTextContents()).toEqual(['first item', 'second item']);
    expect(await answer.locator('pre code').textContent()).toContain('const x = 1;');
    const lengths = await page.evaluate(() => new Set((window as unknown as { __lengths: number[] }).__lengths).size);
    expect(lengths).toBeGreaterThan(3);
    await shot('ask');
  });

  it('reads the screen while the question is typed: the window says so, and the answer’s figures say how much', async () => {
    await page.getByRole('button', { name: 'Capture screen' }).click();
    await eventually(() => page.getByTestId('read-ahead').textContent(), 60_000).toMatch(/^Screen read/);
    await page.getByRole('textbox', { name: 'Question' }).fill('What is on the screen?');
    await page.getByRole('textbox', { name: 'Question' }).press('Enter');
    await eventually(() => page.getByTestId('read-ahead').count()).toBe(0);
    expect(await lastStats(1)).toMatch(/screen read ahead \(\d+ tokens, /);
  });

  it('strips the <img onerror>, <script> and javascript: link planted in the model output', async () => {
    const answer = answers().first();
    expect(await answer.locator('img, script, iframe, [onerror], [onclick]').count()).toBe(0);
    expect(await answer.textContent()).toContain('Planted:');
    for (const href of await answer.locator('a').evaluateAll((links) => links.map((a) => a.getAttribute('href')))) {
      expect(href ?? '').not.toMatch(/^javascript:/i);
    }
    await page.waitForTimeout(200);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(pageErrors).toEqual([]);
  });

  it('asks a follow-up in the same conversation', async () => {
    await page.getByRole('textbox', { name: 'Question' }).fill('And how do I fix it?');
    await page.getByRole('button', { name: 'Ask' }).click();
    expect(await lastStats(2)).toMatch(/cache on/i);
    expect(await answers().count()).toBe(2);
    expect(await answers().nth(1).locator('strong').textContent()).toBe('bold');
  });

  it('asks about a region dragged on the overlay', async () => {
    await page.getByRole('button', { name: 'Capture region' }).click();
    await page.waitForFunction(() => location.hash === '#overlay');
    await page.mouse.move(20, 60);
    await page.mouse.down();
    await page.mouse.move(220, 100, { steps: 5 });
    await page.mouse.move(420, 160, { steps: 5 });
    await page.mouse.up();
    // The main process crops the frame captured when the flow started, then shows the ask view on the crop.
    await page.waitForFunction(() => location.hash === '#ask');
    await eventually(() => page.getByText(/Asking about this capture \(400×100\)/).count()).toBe(1);
    await page.getByRole('textbox', { name: 'Question' }).fill('What is in this part?');
    await page.getByRole('textbox', { name: 'Question' }).press('Enter');
    expect(await lastStats(1)).toMatch(/cache on/i);
  });

  it('refuses an invalid setting inline and never saves it', async () => {
    await openSettings();
    // The loaded model's decoder fast path, in words, under "Loaded:" (the generated fp32 decoder takes the rewrites).
    const fastPath = page.getByTestId('fast-path');
    await eventually(() => fastPath.textContent()).toContain('Each step returns only the new keys and values');
    expect(await fastPath.textContent()).toContain('Only the last position’s next-word scores are computed');
    expect(await fastPath.textContent()).not.toContain('Runs as shipped');
    const before = await page.evaluate(() => window.screenask.getSettings());
    const field = page.getByRole('spinbutton', { name: 'Max new tokens' });
    await field.fill('0');
    await field.blur();
    await eventually(() => field.getAttribute('aria-invalid')).toBe('true');
    const describedBy = (await field.getAttribute('aria-describedby')) ?? '';
    expect(await page.locator(`[id="${describedBy.split(' ')[0]}"]`).textContent()).toMatch(/at least 1/);
    await page.waitForTimeout(300);
    expect(await page.evaluate(() => window.screenask.getSettings())).toEqual(before);
    await shot('settings-invalid');
  });

  it('respects a new max new tokens on the next answer', async () => {
    const field = page.getByRole('spinbutton', { name: 'Max new tokens' });
    await field.fill('3');
    await field.blur();
    await eventually(() => page.evaluate(() => window.screenask.getSettings().then((s) => s.maxNewTokens))).toBe(3);
    await page.evaluate(() => (location.hash = '#ask'));
    await captureAndAsk('Short, please.');
    const line = await lastStats(1);
    expect(line).toMatch(/\b3 tokens\b/);
    expect(scriptedTokens).toBeGreaterThan(3);
    expect(await answers().first().textContent()).not.toContain('second item');
  });

  it('says so in the stats when the KV cache is off, and shows its measured effect', async () => {
    await openSettings();
    await page.getByRole('spinbutton', { name: 'Max new tokens' }).fill('');
    await page.getByRole('spinbutton', { name: 'Max new tokens' }).blur();
    const cache = page.getByRole('checkbox', { name: 'KV cache' }).or(page.getByRole('switch', { name: 'KV cache' }));
    await cache.uncheck();
    await eventually(() => page.evaluate(() => window.screenask.getSettings().then((s) => s.useCache))).toBe(false);
    await page.evaluate(() => (location.hash = '#ask'));
    await captureAndAsk('Without the cache?');
    expect(await lastStats(1)).toMatch(/cache off/i);
    await openSettings();
    // Both an answer with the cache and one without exist now: the page shows the measured speed-up.
    await eventually(() => page.getByTestId('cache-effect').textContent()).toMatch(/×/);
    await cache.check();
    await shot('settings');
  });

  it('stops a long answer mid-way', async () => {
    await page.evaluate((model) => window.screenask.setSettings({ model, maxNewTokens: 8000 }), randomModel);
    await waitForModel(randomModel);
    await page.evaluate(() => (location.hash = '#ask'));
    await captureAndAsk('Tell me everything.');
    await eventually(() => answers().first().textContent().then((t) => t?.length ?? 0), 60_000).toBeGreaterThan(20);
    await page.getByRole('button', { name: 'Stop' }).click();
    const line = await lastStats(1);
    const generated = Number(/(\d+) tokens/.exec(line)?.[1]);
    expect(generated).toBeGreaterThan(0);
    expect(generated).toBeLessThan(8000);
    await page.evaluate((model) => window.screenask.setSettings({ model, maxNewTokens: null }), scriptedModel);
    await waitForModel(scriptedModel);
  });

  it('runs a Qwen2.5-VL model: its precisions and image-token costs in Settings, an answer about a capture', async () => {
    await page.evaluate((model) => window.screenask.setSettings({ model }), qwenModel);
    await waitForModel(qwenModel);
    await openSettings();
    const precision = page.getByRole('combobox', { name: 'Precision' });
    expect(await precision.locator('option').allTextContents()).toHaveLength(3); // auto, fp32, q8
    const detail = page.getByRole('combobox', { name: 'Image detail' });
    expect(await detail.locator('option').allTextContents()).toEqual(['Low — 480 image tokens', 'High — 1980 image tokens']);
    await page.evaluate(() => (location.hash = '#ask'));
    await captureAndAsk('What does this error mean?');
    // The sample screen is 1280×720: 840×448 at low detail, 480 image tokens (the default detail is low).
    expect(await lastStats(1)).toMatch(/\d+ tokens .*cache on/);
    expect(await page.evaluate(() => new Promise<number | undefined>((resolve) => {
      void window.screenask.subscribeStatus((status) => resolve(status.lastAnswers.cacheOn?.imageTokens));
    }))).toBe(480);
    await page.evaluate((model) => window.screenask.setSettings({ model }), scriptedModel);
    await waitForModel(scriptedModel);
  });

  it('shows download progress from a local Hub, and the model is then installed', async () => {
    hub.setFault('onnx/decoder_model_merged.onnx', { kind: 'slow', bytesPerSecond: 400_000 });
    await page.evaluate(() => (location.hash = '#models'));
    const row = page.getByRole('listitem').filter({ hasText: 'SmolVLM-256M-Instruct' }).first();
    await row.getByRole('combobox').selectOption('fp32');
    await row.getByRole('button', { name: 'Download' }).click();
    const bar = page.getByRole('progressbar').first();
    await bar.waitFor({ timeout: 30_000 });
    const seen = new Set<number>();
    await expect
      .poll(
        async () => {
          const now = Number(await bar.getAttribute('aria-valuenow').catch(() => null));
          if (Number.isFinite(now)) seen.add(now);
          return seen.size;
        },
        { timeout: 30_000, interval: 100 },
      )
      .toBeGreaterThan(2);
    await shot('models-downloading');
    // Finished: the model is listed as installed and complete (the view offers to use it).
    const installed = () =>
      page.evaluate(
        () =>
          new Promise<{ id: string; complete: boolean }[]>((resolve) => {
            let stop: (() => void) | undefined;
            void window.screenask.subscribeModels((s) => {
              resolve([...s.installed]);
              stop?.();
            }).then((unsubscribe) => (stop = unsubscribe));
          }),
      );
    await eventually(installed, 60_000).toContainEqual(expect.objectContaining({ id: 'SmolVLM-256M-Instruct', complete: true }));
    await page.getByRole('article', { name: 'SmolVLM-256M-Instruct' }).getByRole('button', { name: 'Use' }).first().waitFor();
    await shot('models');
  });

  it('lists past questions in History and finds them by search', async () => {
    await page.evaluate(() => (location.hash = '#history'));
    const search = page.getByRole('searchbox', { name: 'Search history' }).or(page.getByRole('textbox', { name: 'Search history' }));
    await search.waitFor();
    await eventually(() => page.locator('body').textContent()).toContain('What does this error mean?');
    await search.fill('without the cache');
    await eventually(() => page.locator('body').textContent()).not.toContain('What does this error mean?');
    expect(await page.locator('body').textContent()).toContain('Without the cache?');
    await shot('history');
  });

  it('renders every view in the dark theme: a dark page, and every text readable against what is behind it', async () => {
    const light = await page.evaluate(themeReport);
    await page.emulateMedia({ colorScheme: 'dark' });
    try {
      const titles = { ask: 'ScreenAsk', settings: 'ScreenAsk — Settings', models: 'ScreenAsk — Models', history: 'ScreenAsk — History' };
      for (const [view, title] of Object.entries(titles)) {
        await page.evaluate((v) => (location.hash = `#${v}`), view);
        await eventually(() => page.title()).toBe(title);
        const dark = await page.evaluate(themeReport);
        // The theme switched: the page itself went from near white to near black.
        expect(light.pageLuminance, view).toBeGreaterThan(0.8);
        expect(dark.pageLuminance, view).toBeLessThan(0.05);
        // WCAG AA for body text (4.5:1) for every visible, enabled piece of text, against its own backdrop.
        expect(dark.unreadable, view).toEqual([]);
        expect(dark.texts, view).toBeGreaterThan(3);
        await shot(`${view}-dark`);
      }
    } finally {
      await page.emulateMedia({ colorScheme: 'light' });
    }
    expect(pageErrors).toEqual([]);
  });

});
