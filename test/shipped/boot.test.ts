// The built app starts and works: out/main/index.js boots under plain Node against the fake Electron (modelled on
// electron.d.ts), the built utility entry answers as a real child process, and the built preload carries the page's
// calls and the answer's stream. This is as close to a real start as a machine without Electron's binary allows: it
// catches wrong paths in out/, bundling mistakes, native imports in the main process and Electron rules broken.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_BASE_URL, appPageUrl } from '../../electron/main/app-protocol.js';
import { HISTORY_FILE } from '../../electron/main/history-store.js';
import { HISTORY_FOLDER } from '../../electron/main/services.js';
import { openSettingsStore } from '../../electron/main/settings-store.js';
import { CONTENT_SECURITY_POLICY } from '../../electron/main/security.js';
import { IpcChannel, IpcEvent, type AppStatus, type TriggerMessage } from '../../electron/shared/ipc.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { writeScreenshotLike } from '../support/images.js';
import { repoRoot } from '../support/run-script.js';
import { startStandIn } from '../support/openai-stand-in.js';
import { AppUnderTest } from './app-driver.js';
import { encodeRgbaFile, type FakeElectronConfig } from './fake-electron/control.js';

const HOTKEY = 'CommandOrControl+Shift+Space';
let root: string;
let config: Omit<FakeElectronConfig, 'parentPortShim'>;
let userData: string;
const env = () => ({ SCREENASK_MODELS_DIR: path.join(root, 'models'), ELECTRON_RUN_AS_NODE: undefined });
const running: AppUnderTest[] = [];

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-shipped-'));
  const model = path.join(root, 'model');
  await writeSmolVlmModel(model, { seed: 3, precisions: ['fp32'] });
  // The screen: a screenshot-like picture as the display's pixels (1280×720 DIPs at scale 1).
  const png = await writeScreenshotLike(path.join(root, 'screen.png'), 1280, 720);
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const rgbaFile = path.join(root, 'screen.rgba');
  await writeFile(rgbaFile, encodeRgbaFile(info.width, info.height, new Uint8Array(data)));
  config = {
    appData: path.join(root, 'appData'),
    displays: [{ id: 1, bounds: { x: 0, y: 0, width: 1280, height: 720 }, scaleFactor: 1, rgbaFile }],
    cursor: { x: 100, y: 100 },
  };
  // Electron's userData for this package.json (no productName: the package name), with the model chosen.
  userData = path.join(config.appData, JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')).name);
  const settings = await openSettingsStore(userData);
  expect(await settings.update({ model: model, precision: 'fp32', device: 'cpu', maxNewTokens: 5, imageDetail: 'low' })).toMatchObject({ ok: true });
});

afterAll(async () => {
  for (const app of running) app.kill();
  if (root) await rm(root, { recursive: true, force: true });
});

function launch(argv: readonly string[] = []): AppUnderTest {
  const app = AppUnderTest.launch({ config, argv, env: env() });
  running.push(app);
  return app;
}

describe('the built app, booted on the fake Electron', () => {
  let app: AppUnderTest;
  /** The first answer's text, as the page received it. */
  let answer = '';

  it('starts: tray with its icon, the hotkey, the model process, the model loaded', async () => {
    app = launch();
    // Before ready: every renderer sandboxed, and the app's scheme standard and secure.
    expect(await app.waitFor('ready')).toMatchObject({ sandboxed: true, privilegedSchemes: { screenask: { standard: true, secure: true } } });
    const trayEvent = await app.waitFor('tray', (e) => e.menu.length > 0);
    expect(trayEvent.icon).toEqual({ empty: false, path: path.join(repoRoot, 'out', 'assets', 'tray-32.png') });
    await app.waitFor('shortcuts', (e) => e.accelerators.includes(HOTKEY));
    const forked = await app.waitFor('utility-forked');
    expect(forked.modulePath).toBe(path.join(repoRoot, 'out', 'utility', 'main.js'));
    await app.waitFor('tray', (e) => e.menu.some((item) => item.label === 'Ask about the screen' && item.enabled), { timeoutMs: 90_000 });
    expect(app.stderr).not.toMatch(/failed to start|must never load/);
  });

  it('hotkey → capture → ask window (locked down, served by the app scheme) → streamed answer through the preload', async () => {
    const before = app.events.length;
    await app.request({ type: 'press-shortcut', accelerator: HOTKEY });
    const created = await app.waitFor('window-created', () => true, { after: before });
    expect(created.options).toMatchObject({
      webPreferences: { contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, preload: path.join(repoRoot, 'out', 'preload', 'index.cjs') },
    });
    const loaded = await app.waitFor('window-loaded', (e) => e.windowId === created.windowId);
    expect(loaded.url).toBe(appPageUrl('ask'));
    // The page, its script, its stylesheet (if any) and its icon: all found, all with the CSP header.
    expect(loaded.resources.length).toBeGreaterThanOrEqual(3);
    for (const resource of loaded.resources) {
      expect(resource).toMatchObject({ status: 200, csp: CONTENT_SECURITY_POLICY });
      expect(resource.url.startsWith(APP_BASE_URL)).toBe(true);
    }
    const page = app.page(created.windowId);
    const trigger = await waitUntil(() => page.received.find((m) => m.channel === IpcEvent.trigger)?.args[0] as TriggerMessage | undefined);
    expect(trigger).toMatchObject({ width: 1280, height: 720 });

    // The page's calls through the built preload's window.screenask.
    const statuses: AppStatus[] = [];
    await page.api.subscribeStatus((status) => statuses.push(status));
    expect(statuses.at(-1)?.model.state).toBe('ready');
    const preview = await page.api.capturePreview({ captureId: trigger!.captureId });
    expect(preview).toMatchObject({ width: 640, height: 360, dataUrl: expect.stringMatching(/^data:image\/png;base64,/) });
    const { askId } = await page.api.ask({ question: 'What does this error mean?', captureId: trigger!.captureId });
    const messages = await page.readStream(askId);
    answer = messages.filter((m) => m.type === 'token').map((m) => m.text).join('');
    expect(answer.length).toBeGreaterThan(0);
    expect(messages.at(-1)).toMatchObject({ type: 'done', stats: { generatedTokens: 5, cache: 'on', provider: 'cpu', precision: 'fp32' } });
    // A follow-up in the same conversation reuses its cache.
    const followUp = await page.api.followUp({ askId, question: 'And how do I fix it?' });
    const more = await page.readStream(followUp.askId);
    expect(more.at(-1)).toMatchObject({ type: 'done', stats: { reusedPromptTokens: expect.any(Number) } });
    expect((more.at(-1)!.stats as { reusedPromptTokens: number }).reusedPromptTokens).toBeGreaterThan(0);

    // Copy: the page may write to the clipboard; an error from the main process reaches the page as Electron words it.
    expect(await app.request({ type: 'permission', windowId: created.windowId, permission: 'clipboard-sanitized-write' })).toBe(true);
    await expect(page.api.capturePreview({ captureId: 'forgotten' })).rejects.toThrow(/Error invoking remote method 'screenask:capture-preview'.*capture the screen again/);
    expect(IpcChannel.capturePreview).toBe('screenask:capture-preview');
    // The system's folder picker (the fake's user cancels it).
    const picking = app.events.length;
    expect(await page.api.pickFolder()).toBeNull();
    expect(await app.waitFor('dialog', (e) => e.kind === 'open', { after: picking })).toMatchObject({ options: { properties: ['openDirectory'] } });
  });

  it('a second launch with --ask asks in the running instance and leaves before touching its files', async () => {
    // An in-flight temp file of the running instance's settings store: a second instance that opened the stores
    // would delete it in their stale-file cleanup.
    const inFlight = path.join(userData, 'settings.json.99999-0.tmp');
    await writeFile(inFlight, '{}');
    const before = app.events.length;
    const second = launch(['--ask']);
    expect(await second.exited).toEqual({ code: 0, signal: null });
    expect(second.events.map((e) => e.type)).not.toContain('utility-forked');
    expect(second.events.map((e) => e.type)).not.toContain('tray');
    expect((await stat(inFlight)).isFile()).toBe(true);
    // The running instance captured again and told its ask window.
    await app.waitFor('send', (e) => e.channel === IpcEvent.trigger, { after: before });
    await rm(inFlight);
  });

  it('Quit from the tray, mid-answer, ends the app and its model process, with every answer in the history', async () => {
    const forked = await app.waitFor('utility-forked');
    // An answer still streaming when the user quits: it is cancelled, and kept as an incomplete turn.
    const page = app.page((await app.waitFor('window-created')).windowId);
    const trigger = page.received.filter((m) => m.channel === IpcEvent.trigger).at(-1)!.args[0] as TriggerMessage;
    await page.api.ask({ question: 'One last question?', captureId: trigger.captureId });
    // The reply may not arrive: the app is gone by then.
    await app.request({ type: 'click-tray', label: 'Quit ScreenAsk' }).catch(() => undefined);
    expect(await app.exited).toEqual({ code: 0, signal: null });
    await waitUntil(() => (isAlive(forked.pid!) ? undefined : true), 10_000);
    const history = JSON.parse(await readFile(path.join(userData, HISTORY_FOLDER, HISTORY_FILE), 'utf8')) as { entries?: unknown[] };
    expect(JSON.stringify(history)).toContain('What does this error mean?');
    expect(JSON.stringify(history)).toContain(JSON.stringify(answer).slice(1, -1));
    expect(JSON.stringify(history)).toContain('And how do I fix it?');
    expect(JSON.stringify(history)).toContain('One last question?');
  });
});

describe('the built app, answering from a server', () => {
  it('sends the capture to the configured server (sized by the model process: the main bundle loads no sharp) and names it', async () => {
    const standIn = await startStandIn({ mode: 'vllm', answer: 'A terminal with an error.' });
    try {
      // Confirmed beforehand (the fake's message box always cancels): the consent itself is tested in main-app-server.
      const settings = await openSettingsStore(userData);
      const server = { backend: 'server', serverUrl: standIn.baseUrl, serverModel: 'Qwen/Qwen2.5-VL-7B-Instruct', confirmedServers: [standIn.baseUrl] };
      expect(await settings.update(server)).toMatchObject({ ok: true });
      const app = launch();
      await app.waitFor('shortcuts', (e) => e.accelerators.includes(HOTKEY));
      const before = app.events.length;
      await app.request({ type: 'press-shortcut', accelerator: HOTKEY });
      const created = await app.waitFor('window-created', () => true, { after: before });
      await app.waitFor('window-loaded', (e) => e.windowId === created.windowId);
      const page = app.page(created.windowId);
      const trigger = await waitUntil(() => page.received.find((m) => m.channel === IpcEvent.trigger)?.args[0] as TriggerMessage | undefined);
      const { askId } = await page.api.ask({ question: 'What does this error mean?', captureId: trigger.captureId });
      const messages = await page.readStream(askId);
      expect(messages.filter((m) => m.type === 'token').map((m) => m.text).join('')).toBe('A terminal with an error.');
      expect(messages.at(-1)).toMatchObject({ type: 'done', stats: { provider: 'remote', server: { baseUrl: standIn.baseUrl, model: 'Qwen/Qwen2.5-VL-7B-Instruct' } } });
      // The capture went along, sized for low detail (1280×720 → within its budget, sides multiples of 28).
      const chat = standIn.requests.filter((r) => r.path.endsWith('/chat/completions'));
      expect(chat).toHaveLength(1);
      const [image] = chat[0]!.images;
      expect(image!.width % 28).toBe(0);
      expect(image!.height % 28).toBe(0);
      expect(image!.width).toBeLessThan(1280);
      expect(app.stderr).not.toMatch(/failed to start|must never load/);
      await app.request({ type: 'click-tray', label: 'Quit ScreenAsk' }).catch(() => undefined);
      expect(await app.exited).toEqual({ code: 0, signal: null });
    } finally {
      await standIn.close();
    }
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil<T>(probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

