/**
 * End to end in real Chromium, through the web harness (the app's main-process logic; the model process a Node
 * child): Settings → a server (the OpenAI-compatible stand-in, its address typed as a bare origin) → its models listed
 * and one chosen → capture → ask → the main process asks to confirm the server (the harness: confirm() in the page)
 * → the answer streams and its figures name the server. Screenshots land in artifacts/e2e/.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRenderer } from '../../harness/build-renderer.js';
import { startHarness, type Harness } from '../../harness/server.js';
import { findChromium } from '../../scripts/ensure-chromium.mjs';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { startStandIn, type StandIn } from '../support/openai-stand-in.js';
import { repoRoot } from '../support/run-script.js';

const artifacts = path.join(repoRoot, 'artifacts', 'e2e');
const ANSWER = 'The build failed: a missing semicolon on line 12.';
const MODELS = ['qwen2.5vl:7b', 'llava:13b'];

let root: string;
let standIn: StandIn;
let harness: Harness;
let browser: Browser;
let page: Page;
const dialogs: string[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-e2e-server-'));
  await mkdir(artifacts, { recursive: true });
  const rendererDir = await buildRenderer(path.join(root, 'renderer'));
  const model = path.join(root, 'local-model');
  await writeSmolVlmModel(model, { precisions: ['fp32'], seed: 4 });
  standIn = await startStandIn({ mode: 'ollama', answer: ANSWER });
  harness = await startHarness({
    rendererDir,
    userDataDir: path.join(root, 'user-data'),
    modelsDir: path.join(root, 'models'),
    settings: { model, imageDetail: 'low' },
    log: () => undefined,
  });
  const executablePath = findChromium();
  if (!executablePath) throw new Error('no Chromium: run `npm run browser` (installs Debian\'s chromium) or set SCREENASK_CHROMIUM');
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 560, height: 860 } });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.accept();
  });
});

afterAll(async () => {
  await browser?.close();
  await harness?.close();
  await standIn?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

const eventually = <T>(value: () => Promise<T> | T, timeout = 30_000) => expect.poll(value, { timeout, interval: 50 });

describe('answers from a server, in the browser', () => {
  it('Settings → server → confirm → ask: the answer streams and names the server', async () => {
    const origin = new URL(standIn.baseUrl).origin;
    await page.goto(`${harness.url}#settings`);
    await page.getByRole('combobox', { name: 'Answers come from' }).selectOption('server');
    const address = page.getByRole('textbox', { name: 'Server address' });
    await address.fill(origin);
    await address.press('Tab');
    // Stored as the client asks it: a bare origin gets /v1.
    await eventually(async () => (await page.evaluate(() => window.screenask.getSettings())).serverUrl).toBe(standIn.baseUrl);
    await page.getByRole('button', { name: 'List models' }).click();
    const serverModel = page.getByRole('combobox', { name: 'Server model' });
    await eventually(async () => (await serverModel.locator('option').allTextContents()).filter((o) => MODELS.includes(o))).toEqual(MODELS);
    await serverModel.selectOption('llava:13b');
    await eventually(async () => (await page.evaluate(() => window.screenask.getSettings())).serverModel).toBe('llava:13b');
    await page.screenshot({ path: path.join(artifacts, 'settings-server.png'), fullPage: true });
    expect(standIn.requests.filter((r) => r.path.endsWith('/chat/completions'))).toEqual([]);

    await page.evaluate(() => (location.hash = '#ask'));
    await page.getByRole('button', { name: 'Capture screen' }).click();
    await eventually(async () => (await page.locator('img[src^="data:image/png"]').count()) > 0).toBe(true);
    await page.getByRole('textbox', { name: 'Question' }).fill('What does this error mean?');
    await page.getByRole('textbox', { name: 'Question' }).press('Enter');

    await eventually(() => page.getByTestId('stats').count(), 60_000).toBe(1);
    // The first question for this server was confirmed in the page (the main process asked; nothing was sent before).
    expect(dialogs).toEqual([expect.stringContaining(`Send your screen captures and questions to ${new URL(origin).host}?`)]);
    await eventually(async () => (await page.getByTestId('answer').last().textContent())?.trim()).toBe(ANSWER);
    expect(await page.getByTestId('stats').last().textContent()).toContain(`answered by llava:13b on ${new URL(origin).host}`);
    await page.screenshot({ path: path.join(artifacts, 'ask-server-answer.png'), fullPage: true });

    // What the server received: the question with one capture, for the model chosen.
    const chats = standIn.requests.filter((r) => r.path.endsWith('/chat/completions'));
    expect(chats).toHaveLength(1);
    expect(chats[0]!.body).toMatchObject({ model: 'llava:13b' });
    expect(chats[0]!.images).toHaveLength(1);
    expect(pageErrors).toEqual([]);
  });
});
