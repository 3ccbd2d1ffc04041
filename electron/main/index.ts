// The real entry of the Electron main process (bundled to out/main/index.js). It only assembles: every decision lives
// in the modules it wires, which are tested against fakes, and the built bundle itself boots in a test against a fake
// 'electron' modelled on electron.d.ts (test/shipped/). Layout after `npm run build:electron`:
//   out/main/index.js · out/preload/index.cjs · out/renderer/{index.html,assets/} · out/utility/main.js · out/assets/
// It must never import onnxruntime-node or sharp, even indirectly (a test reads the bundle): a native library that
// fails to load here would kill the app before it could say anything, and inference belongs to the utility process.
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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
  protocol,
  safeStorage,
  screen,
  session,
  shell,
  systemPreferences,
} from 'electron';
import { localMachine } from '../../native-models/hub/machine.js';
import { modelsDir } from '../../native-models/hub/models-dir.js';
import { IpcEvent } from '../shared/ipc.js';
import { ScreenAskApp } from './app.js';
import { APP_SCHEME, appSchemePrivileges, createAppProtocolHandler, isAppSchemeUrl } from './app-protocol.js';
import { captureDisplayUnderCursor } from './capture.js';
import { HotkeyManager } from './hotkey.js';
import { registerIpc } from './ipc.js';
import { createElectronLauncher } from './process-launcher.js';
import { createSafeOpenExternal, hardenWebContents, installCsp, installPermissionHandlers } from './security.js';
import { createServices } from './services.js';
import { claimSingleInstance } from './single-instance.js';
import { TrayController, type MenuTemplateItem } from './tray.js';
import { WindowManager } from './windows.js';

const outDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rendererDir = path.join(outDir, 'renderer');
const preloadPath = path.join(outDir, 'preload', 'index.cjs');
const log = (message: string) => console.error(`[screenask] ${message}`);

/** How long quitting waits for the history to be written and the model process to stop. */
const QUIT_GRACE_MS = 5_000;

/** Hosts the app may open in the browser (model pages, the project). */
const EXTERNAL_HOSTS = ['huggingface.co', 'github.com'];

// Both must run before `ready`: sandbox every renderer, including any created by accident, and make the app's scheme
// a standard, secure one (its pages get 'self', relative URLs and a secure context, as https pages would).
app.enableSandbox();
protocol.registerSchemesAsPrivileged([appSchemePrivileges]);

async function main(): Promise<void> {
  // First of all: a second instance hands its command line to the running one and leaves before touching userData.
  const secondInstances = claimSingleInstance(app);
  if (!secondInstances) {
    app.exit(0);
    return;
  }
  const safeOpen = createSafeOpenExternal((url) => shell.openExternal(url), EXTERNAL_HOSTS);

  await app.whenReady();
  protocol.handle(APP_SCHEME, createAppProtocolHandler(rendererDir));
  installCsp(session.defaultSession);
  installPermissionHandlers(session.defaultSession, isAppSchemeUrl);

  const services = await createServices({
    userDataDir: app.getPath('userData'),
    // The CLI's folder (SCREENASK_MODELS_DIR, else the per-user data folder): models pulled there show up here.
    modelsDir: modelsDir(),
    launcher: await createElectronLauncher(),
    entry: path.join(outDir, 'utility', 'main.js'),
    machine: localMachine(),
    log,
    // The server's API key: encrypted by the system (Keychain, DPAPI, the desktop's keyring), never in plain text.
    safeStorage,
    // The remote client is services' default: captures for a server are sized in the model process, not here.
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
  });

  const screenAsk = new ScreenAskApp({
    app,
    argv: process.argv,
    secondInstances,
    engine: services.engine,
    remote: services.remote,
    serverKeys: services.serverKeys,
    serving: services.serving,
    // The first question for a server: the main process asks, as for links (no page can answer in the user's place).
    confirmServer: async ({ baseUrl, host }) => {
      const { response } = await dialog.showMessageBox({
        type: 'question',
        title: 'Send captures to a server?',
        message: `Send your screen captures and questions to ${host}?`,
        detail: `Answers come from the server at ${baseUrl}. Each question sends the capture (or the region you chose) and the conversation there; whoever runs that server can read them. Nothing is sent if you cancel. ScreenAsk asks once per server.`,
        buttons: ['Send', 'Cancel'],
        defaultId: 1,
        cancelId: 1,
      });
      return response === 0;
    },
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
    registerIpc: (handlers, schema) => registerIpc({ ipcMain, isAppUrl: isAppSchemeUrl, settingsSchema: schema, handlers, log }),
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
  // After the app's own will-quit listener (registered by start), which cancels the answers still running. Electron
  // ends the process as soon as will-quit's listeners return, so hold it until the cancelled answers are recorded and
  // the model process has stopped (at most a few seconds), then quit for real.
  let released = false;
  app.on('will-quit', (event) => {
    if (released) return;
    event.preventDefault();
    const cleanUp = Promise.all([screenAsk.drain(), services.dispose()]);
    void Promise.race([cleanUp, delay(QUIT_GRACE_MS)]).finally(() => {
      released = true;
      app.quit();
    });
  });
}

main().catch((error: unknown) => {
  log(`failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  app.exit(1);
});
