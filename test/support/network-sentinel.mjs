/**
 * Loaded with `--import` into a process under test (and imported by a test process): records every attempt to reach
 * the network to the file named by SCREENASK_NETWORK_LOG, one JSON line per attempt ({ pid, thread, kind, target }),
 * and makes the attempt fail. An empty log means the process never tried. Kinds:
 *   tcp, tls  every TCP client socket: net.connect, tls.connect, http/https agents, http2.connect, undici and fetch;
 *   udp       dgram send and connect;
 *   dns       every resolver function of node:dns and dns.promises, and every method of both Resolver classes;
 *   fetch     the global fetch, refused before it picks a connection;
 *   listen    a server socket on a network interface (net/http/https/http2/tls servers, dgram bind): other machines
 *             could connect in, so it is refused like a connection out;
 *   local     a Unix socket or named pipe (connected to or listened on): local IPC, recorded but allowed.
 * Worker threads run this module first too (Node does not apply `--import` to them). Plain JavaScript on purpose:
 * a worker thread has no TypeScript loader.
 *
 * SCREENASK_NETWORK_ALLOW (comma-separated host:port) lets TCP connections and fetches to exactly those addresses
 * through, still recorded (with `allowed: true`): how the remote-backend test shows a server's address is the only
 * one reached. Unset, nothing gets through.
 *
 * What it cannot see: native code opening sockets itself (onnxruntime, sharp), and child processes that do not load
 * it (`fork` passes `--import` on; other programs do not). test/support/namespaces.ts covers both, from the kernel.
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import { appendFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import process from 'node:process';
import { setImmediate } from 'node:timers';
import tls from 'node:tls';
import { pathToFileURL, URL } from 'node:url';
import workerThreads from 'node:worker_threads';

/** node:dns functions that configure the resolver and never touch the network. */
export const DNS_CONFIGURATION = ['Resolver', 'getServers', 'setServers', 'getDefaultResultOrder', 'setDefaultResultOrder'];

/** Read at each attempt, so a test may import this module before it picks the file. Unset: stderr, never nowhere. */
function record(kind, target, allowed = false) {
  const line = `${JSON.stringify({ pid: process.pid, thread: workerThreads.threadId, kind, target: String(target), ...(allowed ? { allowed } : {}) })}\n`;
  const log = process.env.SCREENASK_NETWORK_LOG;
  if (log) appendFileSync(log, line);
  else process.stderr.write(`network sentinel: ${line}`);
}

function refusal(kind, target) {
  record(kind, target);
  const error = new Error(`network access blocked by the privacy test (${kind} ${String(target)})`);
  error.code = 'ERR_SCREENASK_NETWORK_BLOCKED';
  return error;
}

/**
 * Where Socket#connect goes, decided as Node decides it: a non-empty string `path` is a Unix socket or pipe, anything
 * else TCP. The arguments are [options, callback] normalised by net.connect, or whatever a direct caller wrote.
 * (HTTPS and undici pass `path: null` beside host and port: the old `'path' in options` test let all TLS through.)
 */
function connectTarget(args) {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (typeof first === 'object' && first !== null) {
    if (typeof first.path === 'string' && first.path !== '') return { local: first.path };
    return { remote: `${first.host ?? 'localhost'}:${first.port}` };
  }
  if (typeof first === 'string' && !/^\d+$/.test(first)) return { local: first };
  return { remote: `${typeof args[1] === 'string' ? args[1] : 'localhost'}:${first}` };
}

/** Read at each attempt, like the log path. */
const isAllowed = (hostPort) => (process.env.SCREENASK_NETWORK_ALLOW ?? '').split(',').includes(hostPort);

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const target = connectTarget(args);
  if (target.local !== undefined) {
    record('local', target.local);
    return connect.apply(this, args);
  }
  if (isAllowed(target.remote)) {
    record(this instanceof tls.TLSSocket ? 'tls' : 'tcp', target.remote, true);
    return connect.apply(this, args);
  }
  const error = refusal(this instanceof tls.TLSSocket ? 'tls' : 'tcp', target.remote);
  // Fail as a refused connection does: later, once the caller (an http agent, tls) has attached its listeners.
  setImmediate(() => this.destroy(error));
  return this;
};

/**
 * Callback APIs get the error asynchronously, as from a failed lookup; promise APIs reject. `lookup` of an IP
 * literal is let through: Node answers it without a resolver (and calls it itself for listen and bind on 127.0.0.1).
 */
function refuseWithCallback(kind, original, name) {
  return function (target, ...rest) {
    if (name === 'lookup' && net.isIP(target)) return original.call(this, target, ...rest);
    const error = refusal(kind, target);
    const callback = rest.findLast((arg) => typeof arg === 'function');
    if (callback) process.nextTick(() => callback(error));
    else throw error;
  };
}

function refuseWithPromise(kind, original, name) {
  return async function (target, ...rest) {
    if (name === 'lookup' && net.isIP(target)) return original.call(this, target, ...rest);
    throw refusal(kind, target);
  };
}

const networkFunctions = (object) =>
  Object.keys(object).filter((name) => typeof object[name] === 'function' && !DNS_CONFIGURATION.includes(name));
const resolverMethods = (prototype) => Object.getOwnPropertyNames(prototype).filter((name) => name !== 'constructor');
const patch = (object, names, refuse) => {
  for (const name of names) object[name] = refuse('dns', object[name], name);
};

patch(dns, networkFunctions(dns), refuseWithCallback);
patch(dns.promises, networkFunctions(dns.promises), refuseWithPromise);
patch(dns.Resolver.prototype, resolverMethods(dns.Resolver.prototype), refuseWithCallback);
patch(dns.promises.Resolver.prototype, resolverMethods(dns.promises.Resolver.prototype), refuseWithPromise);

dgram.Socket.prototype.send = function (...args) {
  // send(msg[, offset, length][, port][, address][, callback]): the port is the last number, the address the string.
  const callback = args.findLast((arg) => typeof arg === 'function');
  const port = args.slice(1).filter((arg) => typeof arg === 'number').at(-1);
  const address = args.slice(1).find((arg) => typeof arg === 'string') ?? 'connected peer';
  const error = refusal('udp', `${address}:${port ?? ''}`);
  process.nextTick(() => (callback ? callback(error) : this.emit('error', error)));
};

dgram.Socket.prototype.connect = function (port, ...rest) {
  const address = rest.find((arg) => typeof arg === 'string') ?? 'localhost';
  const callback = rest.findLast((arg) => typeof arg === 'function');
  const error = refusal('udp', `${address}:${port}`);
  process.nextTick(() => (callback ? callback(error) : this.emit('error', error)));
};

/**
 * Where Server#listen would listen, as Node reads its arguments: a pipe path (a non-empty string `path`, or a string
 * that is not a port number) is local; a port, options with a port or host, nothing at all (port 0 on every
 * interface) or an inherited handle or descriptor is a network socket.
 */
function listenTarget(args) {
  const [first, second] = args;
  if (typeof first === 'object' && first !== null) {
    if (typeof first.path === 'string' && first.path !== '') return { local: first.path };
    if ('port' in first || 'host' in first) return { remote: `${first.host ?? '::'}:${first.port ?? 0}` };
    return { remote: '(an inherited handle or descriptor)' };
  }
  if (typeof first === 'string' && !/^\d+$/.test(first)) return { local: first };
  return { remote: `${typeof second === 'string' ? second : '::'}:${typeof first === 'function' ? 0 : (first ?? 0)}` };
}

// Every TCP server (http, https, http2, tls) listens through net.Server#listen.
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const target = listenTarget(args);
  if (target.local !== undefined) {
    record('local', target.local);
    return listen.apply(this, args);
  }
  const error = refusal('listen', `tcp ${target.remote}`);
  process.nextTick(() => this.emit('error', error));
  return this;
};

const bind = dgram.Socket.prototype.bind;
dgram.Socket.prototype.bind = function (...args) {
  const [first, second] = args;
  const options = typeof first === 'object' && first !== null ? first : { port: typeof first === 'number' ? first : 0, address: typeof second === 'string' ? second : undefined };
  const error = refusal('listen', `udp ${options.address ?? '0.0.0.0'}:${options.port ?? 0}`);
  process.nextTick(() => this.emit('error', error));
  return this;
};

/**
 * Listening without the sentinel, for a test's own probe targets in a process that loads it (the privacy test plays
 * the main side in the same process as the servers its probes aim at). Nothing under test may use these.
 */
export const listenUnwatched = (server, ...args) => listen.apply(server, args);
export const bindUnwatched = (socket, ...args) => bind.apply(socket, args);

const originalFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const href = input instanceof URL ? input.href : typeof input === 'string' ? input : (input?.url ?? '(request)');
  let hostPort;
  try {
    const url = new URL(href);
    hostPort = `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
  } catch {
    hostPort = undefined;
  }
  if (hostPort !== undefined && isAllowed(hostPort)) {
    record('fetch', href, true);
    return originalFetch(input, init);
  }
  throw refusal('fetch', href);
};

// Every worker thread loads this module before its own code, with the log path even when given an env of its own.
const self = import.meta.url;
const OriginalWorker = workerThreads.Worker;
workerThreads.Worker = class WatchedWorker extends OriginalWorker {
  constructor(filename, options = {}) {
    const run = options.eval
      ? `eval(${JSON.stringify(String(filename))})`
      : `import(${JSON.stringify(filename instanceof URL ? filename.href : /^(file|data):/.test(filename) ? filename : pathToFileURL(path.resolve(filename)).href)})`;
    const log = process.env.SCREENASK_NETWORK_LOG;
    const env = options.env && options.env !== workerThreads.SHARE_ENV && log ? { ...options.env, SCREENASK_NETWORK_LOG: log } : options.env;
    super(`import(${JSON.stringify(self)}).then(() => ${run})`, { ...options, eval: true, ...(env ? { env } : {}) });
  }
};

// `import { lookup } from 'node:dns'` reads the ES module's own bindings: make them the patched functions too.
syncBuiltinESMExports();
