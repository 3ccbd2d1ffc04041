// Which server answers, and the user's consent to send it captures. The first question for a server (per base URL)
// asks the user, in the main process's own dialog (as links in answers are confirmed: a page cannot answer it), whether
// captures and questions may go there; a yes is kept in the settings (`confirmedServers`, which pages cannot write), a
// no sends nothing. Questions asked while the dialog is open wait for the same answer.
import { ScreenAskError } from '../../native-models/model/errors.js';
import type { Settings } from '../shared/settings.js';
import type { SettingsSource } from './app.js';
import type { ServerChoice } from './remote-engine.js';

/** What the dialog shows: the server's host (host:port) and its whole address. */
export interface ServerToConfirm {
  readonly baseUrl: string;
  readonly host: string;
}

/** host[:port] of a base URL, as the Ask view and the dialog name the server. */
export function hostOf(baseUrl: string): string {
  try {
    return new URL(baseUrl).host;
  } catch {
    return baseUrl;
  }
}

/** The server the settings name, when answers come from a server and both its address and model are set. */
export function serverChoice(settings: Settings): ServerChoice | undefined {
  if (settings.backend !== 'server' || settings.serverUrl === null || settings.serverModel === null) return undefined;
  return { baseUrl: settings.serverUrl, model: settings.serverModel };
}

/** The chosen server, only once the user agreed to send it captures: the remote engine sends to nothing else. */
export function confirmedServerChoice(settings: Settings): ServerChoice | undefined {
  const choice = serverChoice(settings);
  return choice && settings.confirmedServers.includes(choice.baseUrl) ? choice : undefined;
}

/** What the app shows for a server backend whose address or model is missing (undefined when both are set). */
export function serverSetupProblem(settings: Settings): string | undefined {
  if (settings.serverUrl === null) return 'No server address yet: enter it in Settings → Where answers come from.';
  if (settings.serverModel === null) return `No model chosen on ${hostOf(settings.serverUrl)}: pick one in Settings → Where answers come from.`;
  return undefined;
}

export class ServerConsent {
  readonly #pending = new Map<string, Promise<boolean>>();

  constructor(
    private readonly settings: Pick<SettingsSource, 'get' | 'set'>,
    private readonly confirm: (server: ServerToConfirm) => Promise<boolean>,
  ) {}

  /** Resolves once captures may go to `baseUrl` (asking the user the first time); rejects with one line if not. */
  async ensure(baseUrl: string): Promise<void> {
    if (this.settings.get().confirmedServers.includes(baseUrl)) return;
    let asking = this.#pending.get(baseUrl);
    if (!asking) {
      asking = this.#ask(baseUrl).finally(() => this.#pending.delete(baseUrl));
      this.#pending.set(baseUrl, asking);
    }
    if (!(await asking)) {
      throw new ScreenAskError(
        `Nothing was sent: you chose not to send captures to ${hostOf(baseUrl)}. Ask again to be asked again, or choose "This computer" in Settings → Where answers come from.`,
      );
    }
  }

  async #ask(baseUrl: string): Promise<boolean> {
    const agreed = await this.confirm({ baseUrl, host: hostOf(baseUrl) });
    if (!agreed) return false;
    const confirmed = this.settings.get().confirmedServers;
    if (!confirmed.includes(baseUrl)) {
      const saved = (await this.settings.set({ confirmedServers: [...confirmed, baseUrl].slice(-100) })) as { ok?: boolean } | undefined;
      if (saved && saved.ok === false) throw new ScreenAskError(`Could not remember that ${hostOf(baseUrl)} may receive captures: nothing was sent.`);
    }
    return true;
  }
}
