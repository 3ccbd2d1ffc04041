// One ScreenAsk per session: a second launch hands its command line to the running instance and exits. That is also
// the command-line trigger: `screenask --ask` (bind it to a desktop-environment shortcut where the global shortcut
// cannot work, e.g. Wayland) asks about the screen in the instance that already has the model loaded.

/** The part of Electron's `app` this module uses. */
export interface SingleInstanceApp {
  requestSingleInstanceLock(): boolean;
  on(event: 'second-instance', listener: (event: unknown, argv: string[], workingDirectory: string) => void): unknown;
}

export type AskMode = 'screen' | 'region';

/** `--ask` or `--ask=screen` → screen, `--ask=region` → region; anything else (or no flag) → null. */
export function askModeFromArgv(argv: readonly string[]): AskMode | null {
  for (const arg of argv) {
    if (arg === '--ask' || arg === '--ask=screen') return 'screen';
    if (arg === '--ask=region') return 'region';
  }
  return null;
}

export interface SingleInstanceHandlers {
  /** A second launch asked a question (`--ask`). */
  onAsk(mode: AskMode): void;
  /** A second launch without `--ask`: bring the running instance forward. */
  onActivate(): void;
}

/** Routes later launches to the running app; launches before `route` wait for it and are not lost. */
export interface SecondInstances {
  route(handlers: SingleInstanceHandlers): void;
}

/**
 * Takes the single-instance lock. Returns null when another instance holds it: the caller must exit at once (Electron
 * has already handed this command line to the other instance). It must be the first thing the app does, before
 * anything opens the user data folder: a second instance that got as far as opening the stores would run their
 * stale-file cleanup under the running instance's feet.
 */
export function claimSingleInstance(app: SingleInstanceApp): SecondInstances | null {
  if (!app.requestSingleInstanceLock()) return null;
  let handlers: SingleInstanceHandlers | undefined;
  const waiting: string[][] = [];
  const dispatch = (argv: readonly string[]) => {
    const mode = askModeFromArgv(argv);
    if (mode) handlers!.onAsk(mode);
    else handlers!.onActivate();
  };
  app.on('second-instance', (_event, argv) => (handlers ? dispatch(argv) : waiting.push(argv)));
  return {
    route(next) {
      handlers = next;
      for (const argv of waiting.splice(0)) dispatch(argv);
    },
  };
}
