// The real entry of the Electron main process (bundled to out/main/index.js). It only assembles: every decision lives
// in the modules it wires, which are tested against fakes. Layout after `npm run build:electron`:
//   out/main/index.js · out/preload/index.cjs · out/renderer/{index.html,assets/} · out/utility/main.js · out/assets/
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  BrowserWindow,
  Menu,
  MessageChannelMain,
  Tray,
  app,
  desktopCapturer,
  dialog,
  globalShortcut,
  ipcMain,
  nativeImage,
  screen,
  session,
  shell,
  systemPreferences,
} from 'electron';
import { localMachine } from '../../native-models/hub/machine.js';
import { modelsDir } from '../../native-models/hub/models-dir.js';
import { IpcEvent } from '../shared/ipc.js';
import { ScreenAskApp } from './app.js';
import { captureDisplayUnderCursor } from './capture.js';
import { HotkeyManager } from './hotkey.js';
import { registerIpc } from './ipc.js';
import { createElectronLauncher } from './process-launcher.js';
import { createAppUrlMatcher, createSafeOpenExternal, hardenWebContents, installCsp, installPermissionHandlers } from './security.js';
import { createServices } from './services.js';
import { TrayController, type MenuTemplateItem } from './tray.js';
import { WindowManager } from './windows.js';

const outDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rendererDir = path.join(outDir, 'renderer');
const preloadPath = path.join(outDir, 'preload', 'index.cjs');
const log = (message: string) => console.error(`[screenask] ${message}`);

/** Hosts the app may open in the browser (model pages, the project). */
const EXTERNAL_HOSTS = ['huggingface.co', 'github.com'];

// Sandbox every renderer, including any created by accident; must run before `ready`.
app.enableSandbox();

async function main(): Promise<void> {
  const isAppUrl = createAppUrlMatcher({ rendererDir });
  const safeOpen = createSafeOpenExternal((url) => shell.openExternal(url), EXTERNAL_HOSTS);

  await app.whenReady();
  installCsp(session.defaultSession);
  installPermissionHandlers(session.defaultSession, isAppUrl);

  const services = await createServices({
    userDataDir: app.getPath('userData'),
    // The CLI's folder (SCREENASK_MODELS_DIR, else the per-user data folder): models pulled there show up here.
    modelsDir: modelsDir(),
    launcher: await createElectronLauncher(),
    entry: path.join(outDir, 'utility', 'main.js'),
    machine: localMachine(),
    log,
  });
  for (const problem of services.problems) log(problem);

  const windows = new WindowManager({
    // The flags again, literally: secureWebPreferences already sets them, and repeating them at the constructor lets a
    // static scanner that reads one file at a time (Electronegativity) verify them, and survives a careless spread.
    createWindow: (options) =>
      new BrowserWindow({
        ...options,
        webPreferences: {
          ...options.webPreferences,
          contextIsolation: true,
          sandbox: true,
          nodeIntegration: false,
          webSecurity: true,
          disableBlinkFeatures: 'Auxclick',
        },
      }),
    harden: (contents) => hardenWebContents(contents, safeOpen, log),
    preloadPath,
    pageUrl: (kind) => `${pathToFileURL(path.join(rendererDir, 'index.html')).href}#${kind}`,
  });

  const screenAsk = new ScreenAskApp({
    app,
    argv: process.argv,
    engine: services.engine,
    settings: services.settings,
    models: services.models,
    history: services.history,
    captureScreen: () => captureDisplayUnderCursor({ screen, desktopCapturer, systemPreferences, platform: process.platform }),
    createHotkey: (onTrigger, onStatus) =>
      new HotkeyManager({ globalShortcut, platform: process.platform, env: process.env, onTrigger, onStatus }),
    createTray: (onAction, status) =>
      new TrayController(
        {
          createTray: () => new Tray(nativeImage.createFromPath(path.join(outDir, 'assets', 'tray-32.png'))),
          buildMenu: (template: MenuTemplateItem[]) => Menu.buildFromTemplate(template),
          onAction,
          platform: process.platform,
        },
        status,
      ),
    windows,
    registerIpc: (handlers, schema) => registerIpc({ ipcMain, isAppUrl, settingsSchema: schema, handlers, log }),
    openStream: (sender, askId) => {
      const { port1, port2 } = new MessageChannelMain();
      sender.postMessage(IpcEvent.streamPort, { askId }, [port2]);
      return {
        post: (message) => port1.postMessage(message),
        // The renderer closes its end after 'done'/'error'; closing ours at once could drop the last message in flight.
        close: () => setTimeout(() => port1.close(), 5_000).unref(),
      };
    },
    notify: (message, fixUrl) => {
      void dialog
        .showMessageBox({ type: 'warning', title: 'ScreenAsk', message, buttons: fixUrl ? ['Open Settings', 'Close'] : ['Close'] })
        .then(({ response }) => (fixUrl && response === 0 ? safeOpen(fixUrl) : false));
    },
    pickFolder: async () => {
      const { canceled, filePaths } = await dialog.showOpenDialog({ title: 'Import a model folder', properties: ['openDirectory'] });
      return canceled ? null : (filePaths[0] ?? null);
    },
    // A link the model wrote is untrusted: show the whole address and let the user decide (the schema allows only
    // http and https, so nothing but the browser can be launched).
    openLink: async (url) => {
      const { response } = await dialog.showMessageBox({
        type: 'question',
        title: 'Open link',
        message: 'Open this address in your browser?',
        detail: url,
        buttons: ['Open', 'Cancel'],
        defaultId: 1,
        cancelId: 1,
      });
      if (response !== 0) return false;
      await shell.openExternal(url);
      return true;
    },
    newId: () => randomUUID(),
    log,
  });
  await screenAsk.start();
  // After the app's own will-quit listener (registered by start), which cancels the answers still running.
  app.on('will-quit', () => void services.dispose());
}

main().catch((error: unknown) => {
  log(`failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  app.exit(1);
});
