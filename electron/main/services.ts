/**
 * The main process's services, composed in one place without Electron: the settings store, the model process (its
 * supervisor behind the EngineLike adapter), the model manager and the history. index.ts adds the Electron-only parts
 * (tray, hotkey, windows, capture, IPC registration, dialogs); the web harness runs the same composition in plain
 * Node, with the Node launcher, behind its own stand-ins for them. This module must never import 'electron'.
 *
 * Contract of `createServices`:
 * - `userDataDir` holds settings.json, the history/ folder and decoder-cache/ (the model process's rewritten decoders,
 *   so that a load after the first skips the rewrite); `modelsDir` the installed models (the one the
 *   `npm run models` CLI uses, so models pulled there show up in the app).
 * - Damaged files do not make it fail: whatever the settings store or the history set aside or reset is listed in
 *   `problems`, one line each, for the caller to log or show. It rejects only when a folder cannot be used at all.
 * - Nothing runs yet: the model process starts, and the selected model loads, when ScreenAskApp.start() says so.
 *   Downloads start only on request. `launcher` picks Electron's utilityProcess or a Node child process; `entry` is the
 *   utility module it runs (default: the TypeScript source, which only the Node launcher can run).
 * - `engine`, `remote`, `serverKeys`, `serving`, `settings`, `models` and `history` are exactly the AppDeps of the same
 *   names. `serving` asks the model process to serve the model on 127.0.0.1 while the settings say so (off by default).
 * - Where answers come from: `engine` is the model process; `remote` answers from the server the settings name, and
 *   sends only to a server the user confirmed (confirmedServerChoice), with the key kept for that server alone
 *   (server-key-store.ts: safeStorage-encrypted in userData, or memory only). Switching between the two never stops
 *   the model process: it stays up, idle or with its model loaded, so switching back costs no process start.
 * - `dispose()` (after the app's quit) stops downloads and the model manager's timers, and waits for the model
 *   process to exit; it never rejects.
 */
import path from 'node:path';
import { firstLine } from '../../native-models/model/errors.js';
import type { MachineProfile } from '../../native-models/hub/catalogue.js';
import type { HubOptions } from '../../native-models/hub/hub-api.js';
import { pageSettingsPatchSchema } from '../shared/settings.js';
import type { EngineLike, RemoteEngineLike, ServingLike, SettingsSource } from './app.js';
import { adaptSupervisor } from './engine-adapter.js';
import { EngineSupervisor } from './engine-supervisor.js';
import { HistoryStore } from './history-store.js';
import { ModelServingControl } from './model-serving.js';
import { ModelsService } from './models-service.js';
import type { ProcessLauncher } from './process-launcher.js';
import { modelProcessImagePreparer, remoteClient } from './remote-client.js';
import { RemoteEngine, type RemoteClient } from './remote-engine.js';
import { confirmedServerChoice } from './server-consent.js';
import { openServerKeyStore, type SafeStorageLike, type ServerKeyStore } from './server-key-store.js';
import { openSettingsStore, type SettingsStore } from './settings-store.js';

export interface ServicesOptions {
  readonly userDataDir: string;
  readonly modelsDir: string;
  readonly launcher: ProcessLauncher;
  /** The utility process's entry module; default the TypeScript source (Node launcher with tsx). */
  readonly entry?: string;
  /** The Hub to download from; default HF_ENDPOINT / HF_TOKEN, else huggingface.co. */
  readonly hub?: HubOptions;
  /** What the recommendation rule reads (GPU, memory). */
  readonly machine: MachineProfile;
  readonly log: (message: string) => void;
  /** Electron's safeStorage for the server's API key; undefined (the web harness): the key is kept in memory only. */
  readonly safeStorage?: SafeStorageLike;
  /** Why there is no safeStorage, shown on the settings page (default: the browser harness's reason). */
  readonly noSafeStorageNote?: string;
  /** The remote client; default native-models/remote with captures sized by the model process (remote-client.ts). */
  readonly remoteClient?: RemoteClient;
}

export interface Services {
  readonly store: SettingsStore;
  readonly settings: SettingsSource;
  readonly engine: EngineLike;
  readonly remote: RemoteEngineLike;
  readonly serverKeys: ServerKeyStore;
  /** Settings → Serve this model to other apps: the model process serves on 127.0.0.1 while the switch is on. */
  readonly serving: ServingLike;
  readonly models: ModelsService;
  readonly history: HistoryStore;
  /** One line per problem found while opening (a settings file set aside, history entries dropped, …). */
  readonly problems: readonly string[];
  dispose(): Promise<void>;
}

/** Where the history lives inside the user data folder. */
export const HISTORY_FOLDER = 'history';
/** The model process's derived files (rewrite-cache.ts keeps the few most recently used); never inside a model folder. */
export const DECODER_CACHE_FOLDER = 'decoder-cache';

export async function createServices(options: ServicesOptions): Promise<Services> {
  const store = await openSettingsStore(options.userDataDir);
  const history = await HistoryStore.open(path.join(options.userDataDir, HISTORY_FOLDER));
  const serverKeys = await openServerKeyStore({
    dir: options.userDataDir,
    safeStorage: options.safeStorage,
    platform: process.platform,
    ...(options.noSafeStorageNote ? { noStorageNote: options.noSafeStorageNote } : {}),
  });
  const supervisor = new EngineSupervisor({
    launcher: options.launcher,
    ...(options.entry ? { entry: options.entry } : {}),
    cacheDir: path.join(options.userDataDir, DECODER_CACHE_FOLDER),
  });
  const remote = new RemoteEngine({
    // Sized where sharp may load: the model process, which stays up whichever backend answers.
    client: options.remoteClient ?? remoteClient(modelProcessImagePreparer(supervisor)),
    server: () => confirmedServerChoice(store.get()),
    apiKey: (baseUrl) => serverKeys.key(baseUrl),
  });
  const models = new ModelsService({
    modelsDir: options.modelsDir,
    ...(options.hub ? { hub: options.hub } : {}),
    machine: options.machine,
    activeModel: () => store.get().model,
  });
  return {
    store,
    settings: {
      // Pages send partial updates (never the confirmed servers); the store re-validates and answers per field.
      schema: pageSettingsPatchSchema,
      get: () => store.get(),
      set: (patch) => store.update(patch),
      onChange: (listener) => store.onChange(listener),
    },
    engine: adaptSupervisor(supervisor),
    remote,
    serverKeys,
    serving: new ModelServingControl(supervisor, store, options.log),
    models,
    history,
    problems: [
      ...store.problems.map((p) => `settings: ${p}`),
      ...history.problems.map((p) => `history: ${p}`),
      ...serverKeys.problems.map((p) => `server key: ${p}`),
    ],
    async dispose() {
      models.dispose();
      await remote.stop();
      await supervisor.stop().catch((error: unknown) => options.log(`could not stop the model process: ${firstLine(error)}`));
    },
  };
}
