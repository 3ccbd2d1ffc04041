/**
 * Loaded with `--import` into a process under test: records every attempt to reach the network (DNS lookups, TCP/TLS
 * connections, UDP sends, fetch) to the file named by SCREENASK_NETWORK_LOG, one JSON line per attempt, and lets the
 * attempt fail. The privacy test reads the file: an empty log means the process never tried.
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import { appendFileSync } from 'node:fs';
import net from 'node:net';

const log = process.env.SCREENASK_NETWORK_LOG;

function record(kind: string, detail: unknown): void {
  if (log) appendFileSync(log, `${JSON.stringify({ pid: process.pid, kind, detail: String(detail) })}\n`);
}

function refuse(kind: string, detail: unknown): Error {
  record(kind, detail);
  return new Error(`network access blocked by the privacy test (${kind} ${String(detail)})`);
}

// Every TCP and TLS client (http, https, undici's fetch, tls.connect) ends in net.Socket#connect.
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
  const [first] = args;
  const target = typeof first === 'object' && first !== null ? JSON.stringify(first) : String(first);
  if (typeof first === 'object' && first !== null && 'path' in first) {
    // Unix sockets and pipes are local IPC, not network.
    return connect.apply(this, args as Parameters<typeof connect>);
  }
  this.destroy(refuse('tcp', target));
  return this;
} as typeof net.Socket.prototype.connect;

for (const name of ['lookup', 'resolve', 'resolve4', 'resolve6'] as const) {
  (dns as unknown as Record<string, unknown>)[name] = (host: string, ...rest: unknown[]) => {
    const callback = rest.at(-1);
    const error = refuse('dns', host);
    if (typeof callback === 'function') process.nextTick(() => (callback as (e: Error) => void)(error));
  };
  (dns.promises as unknown as Record<string, unknown>)[name] = async (host: string) => {
    throw refuse('dns', host);
  };
}

dgram.Socket.prototype.send = function (...args: unknown[]) {
  throw refuse('udp', args[2] ?? args[3] ?? '');
} as typeof dgram.Socket.prototype.send;

globalThis.fetch = async (input: unknown) => {
  throw refuse('fetch', input instanceof URL ? input.href : typeof input === 'string' ? input : '(request)');
};
