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

/**
 * Takes the single-instance lock. Returns false when another instance holds it: the caller must quit at once (its
 * argv has already been delivered to the other instance by Electron).
 */
export function setupSingleInstance(app: SingleInstanceApp, handlers: SingleInstanceHandlers): boolean {
  if (!app.requestSingleInstanceLock()) return false;
  app.on('second-instance', (_event, argv) => {
    const mode = askModeFromArgv(argv);
    if (mode) handlers.onAsk(mode);
    else handlers.onActivate();
  });
  return true;
}
