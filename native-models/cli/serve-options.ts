// `npm run serve`'s command line: parsed and checked, every mistake one line, before the model loads.
import { parseArgs } from 'node:util';
import { imageDetails, type ImageDetail } from '../families/family.js';
import { ScreenAskError } from '../model/errors.js';
import { precisions, type Precision } from '../model/layout.js';
import { devices, type Device } from '../runtime/session.js';
import { isLoopbackHost } from '../serve/index.js';
import { number, oneOf } from './options.js';

export interface ServeCommand {
  readonly model: string;
  readonly host: string;
  readonly port: number;
  readonly apiKey: string | undefined;
  readonly precision: Precision | 'auto';
  readonly device: Device;
  readonly threads: number | undefined;
  /** The detail of an image sent without one (or with `auto`). */
  readonly detail: ImageDetail;
  /** Requests that may wait while one is answered. */
  readonly queue: number;
}

export const serveUsage =
  'usage: npm run serve -- --model DIR [--host 127.0.0.1] [--port 8080] [--api-key KEY] [--precision P|auto] [--device D] ' +
  '[--threads N] [--detail low|high] [--queue N]   (the key may also come from SCREENASK_API_KEY)';

const options = {
  model: { type: 'string' },
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string', default: '8080' },
  'api-key': { type: 'string' },
  precision: { type: 'string', default: 'auto' },
  device: { type: 'string', default: 'cpu' },
  threads: { type: 'string' },
  detail: { type: 'string', default: 'high' },
  queue: { type: 'string', default: '8' },
} as const;

function wholeNumber(flag: string, value: string, min: number, max: number): number {
  const parsed = number(flag, value)!;
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
    throw new ScreenAskError(`Invalid value for --${flag}: a whole number from ${min} to ${max} (got "${value}").`);
  }
  return parsed;
}

/**
 * Parses `serve`'s argv. `env` supplies SCREENASK_API_KEY, which keeps the key out of the process list. A host other
 * computers can reach is refused without a key: the model would answer anyone on the network.
 */
export function parseServeArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): ServeCommand {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: false, options });
  } catch (error) {
    throw new ScreenAskError(`${(error as Error).message.split('\n')[0]} (${serveUsage})`);
  }
  const { values } = parsed;
  if (!values.model) throw new ScreenAskError(`Missing --model DIR. ${serveUsage}`);
  const apiKey = values['api-key'] ?? env.SCREENASK_API_KEY;
  if (apiKey !== undefined && !apiKey.trim()) throw new ScreenAskError('Empty --api-key: give the key clients must send (or leave it out on 127.0.0.1).');
  const host = values.host.trim();
  if (!host) throw new ScreenAskError('Empty --host: give an address to listen on, e.g. 127.0.0.1.');
  if (!isLoopbackHost(host) && apiKey === undefined) {
    throw new ScreenAskError(
      `--host ${host} lets other computers reach the model: add --api-key KEY (or SCREENASK_API_KEY) so that only clients with the key can use it, or keep the default --host 127.0.0.1.`,
    );
  }
  return {
    model: values.model,
    host,
    port: wholeNumber('port', values.port, 0, 65535),
    apiKey,
    precision: oneOf('precision', values.precision, ['auto', ...precisions] as const),
    device: oneOf('device', values.device, devices),
    threads: values.threads === undefined ? undefined : wholeNumber('threads', values.threads, 1, 256),
    detail: oneOf('detail', values.detail, imageDetails),
    queue: wholeNumber('queue', values.queue, 0, 1000),
  };
}
