/**
 * Every way a Node process can open a socket or resolve a name, each tried once against targets on loopback, to show
 * that the network sentinel (network-sentinel.mjs) is loaded where it should be and catches each one. The runner
 * writes `{ "probe": name }` to the log before each probe, so the sentinel's records that follow belong to it, and
 * `{ "probesDone": pid }` at the end. The test's servers count what reached them: a caught probe reaches nothing.
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import { appendFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { Worker } from 'node:worker_threads';
import { fetch as undiciFetch, request as undiciRequest } from 'undici';
import { bindUnwatched, DNS_CONFIGURATION, listenUnwatched } from './network-sentinel.mjs';

export type AttemptKind = 'tcp' | 'tls' | 'udp' | 'dns' | 'fetch' | 'listen' | 'local';

/** Where the probes aim: a TCP port and a UDP port (also the DNS server the resolvers are pointed at), and a pipe. */
export interface ProbeTargets {
  readonly tcpPort: number;
  readonly udpPort: number;
  readonly pipe: string;
}

export interface Probe {
  readonly name: string;
  /** What the sentinel must record for it. */
  readonly kind: AttemptKind;
  /** True when the attempt is made from a worker thread. */
  readonly inWorker?: boolean;
  /** Resolves once the attempt has failed (or, for a local pipe, connected); a listen probe with whether it listened. */
  run(targets: ProbeTargets): Promise<unknown>;
}

const host = '127.0.0.1';

/** Settles when the socket (or session, or request) errors, closes or connects, whichever comes first. */
function settled(emitter: NodeJS.EventEmitter & { destroy?(): void; close?(): void }): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      emitter.destroy?.();
      resolve();
    };
    emitter.once('error', done).once('close', done).once('connect', done);
  });
}

/** Tries to listen; settles with whether it did (then closes), or not once the server or socket errors. */
function listened(server: net.Server | dgram.Socket): Promise<{ listening: boolean }> {
  return new Promise((resolve) => {
    server.once('error', () => resolve({ listening: false }));
    server.once('listening', () => server.close(() => resolve({ listening: true })));
  });
}

function worker(code: string, asModule: boolean): Promise<void> {
  // An empty env and no execArgv: the sentinel must still get in, with its log path.
  const options = { execArgv: [], env: {} };
  const thread = asModule ? new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), options) : new Worker(code, { ...options, eval: true });
  return new Promise((resolve) => thread.once('exit', () => resolve()));
}

const connectInWorker = (port: number) => `const net = require('node:net'); net.connect(${port}, '${host}').on('error', () => {}).on('close', () => process.exit(0));`;
const connectInModuleWorker = (port: number) =>
  `import net from 'node:net'; net.connect(${port}, '${host}').on('error', () => {}).on('close', () => process.exit(0));`;

const dnsArguments = (name: string): unknown[] =>
  name === 'lookupService' ? [host, 9] : name === 'reverse' ? ['127.0.0.2'] : [`${name.toLowerCase()}.screenask-probe.invalid`];

/** Every node:dns function that can reach a resolver, found at run time so that a new Node API is probed too. */
const dnsFunctions = (object: object): string[] =>
  Object.keys(object).filter((name) => typeof (object as Record<string, unknown>)[name] === 'function' && !DNS_CONFIGURATION.includes(name));
const resolverMethods = (prototype: object): string[] => Object.getOwnPropertyNames(prototype).filter((name) => name !== 'constructor');

type Callback = (...args: unknown[]) => void;
const callWithCallback = (fn: Callback, args: unknown[]): Promise<void> => new Promise((resolve) => fn(...args, () => resolve()));

export function allProbes(): Probe[] {
  const dnsServer = (targets: ProbeTargets) => [`${host}:${targets.udpPort}`];
  return [
    { name: 'net.connect', kind: 'tcp', run: (t) => settled(net.connect(t.tcpPort, host)) },
    { name: 'net.createConnection(options)', kind: 'tcp', run: (t) => settled(net.createConnection({ port: t.tcpPort, host })) },
    { name: 'net.Socket#connect', kind: 'tcp', run: (t) => settled(new net.Socket().connect(t.tcpPort, host)) },
    { name: 'tls.connect', kind: 'tls', run: (t) => settled(tls.connect({ port: t.tcpPort, host, rejectUnauthorized: false })) },
    { name: 'http.get', kind: 'tcp', run: (t) => settled(http.get(`http://${host}:${t.tcpPort}/`)) },
    { name: 'https.get', kind: 'tls', run: (t) => settled(https.get(`https://${host}:${t.tcpPort}/`, { rejectUnauthorized: false })) },
    { name: 'http2.connect http', kind: 'tcp', run: (t) => settled(http2.connect(`http://${host}:${t.tcpPort}`)) },
    { name: 'http2.connect https', kind: 'tls', run: (t) => settled(http2.connect(`https://${host}:${t.tcpPort}`, { rejectUnauthorized: false })) },
    { name: 'undici.request http', kind: 'tcp', run: (t) => undiciRequest(`http://${host}:${t.tcpPort}/`) },
    { name: 'undici.request https', kind: 'tls', run: (t) => undiciRequest(`https://${host}:${t.tcpPort}/`) },
    { name: 'undici.fetch', kind: 'tcp', run: (t) => undiciFetch(`http://${host}:${t.tcpPort}/`) },
    { name: 'fetch', kind: 'fetch', run: (t) => fetch(`http://${host}:${t.tcpPort}/`) },
    {
      name: 'dgram send',
      kind: 'udp',
      run: (t) => {
        const socket = dgram.createSocket('udp4');
        return new Promise<void>((resolve) => socket.send('probe', t.udpPort, host, () => (socket.close(), resolve())));
      },
    },
    {
      name: 'dgram connect',
      kind: 'udp',
      run: (t) => {
        const socket = dgram.createSocket('udp4');
        return new Promise<void>((resolve) => socket.connect(t.udpPort, host, () => (socket.close(), resolve())));
      },
    },
    ...dnsFunctions(dns).map(
      (name): Probe => ({
        name: `dns.${name}`,
        kind: 'dns',
        run: (t) => {
          dns.setServers(dnsServer(t));
          return callWithCallback((dns as unknown as Record<string, Callback>)[name]!, dnsArguments(name));
        },
      }),
    ),
    ...dnsFunctions(dns.promises).map(
      (name): Probe => ({
        name: `dns.promises.${name}`,
        kind: 'dns',
        run: (t) => {
          dns.promises.setServers(dnsServer(t));
          return (dns.promises as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[name]!(...dnsArguments(name));
        },
      }),
    ),
    ...resolverMethods(dns.Resolver.prototype).map(
      (name): Probe => ({
        name: `dns.Resolver#${name}`,
        kind: 'dns',
        run: (t) => {
          const resolver = new dns.Resolver({ timeout: 500, tries: 1 });
          resolver.setServers(dnsServer(t));
          const method = (resolver as unknown as Record<string, Callback>)[name]!.bind(resolver);
          return callWithCallback(method, dnsArguments(name));
        },
      }),
    ),
    ...resolverMethods(dns.promises.Resolver.prototype).map(
      (name): Probe => ({
        name: `dns.promises.Resolver#${name}`,
        kind: 'dns',
        run: (t) => {
          const resolver = new dns.promises.Resolver({ timeout: 500, tries: 1 });
          resolver.setServers(dnsServer(t));
          return (resolver as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[name]!(...dnsArguments(name));
        },
      }),
    ),
    {
      // The ES module's own binding, which a patch of the CommonJS exports alone would miss.
      name: "import { resolveTxt } from 'node:dns'",
      kind: 'dns',
      run: async () => callWithCallback((await import('node:dns')).resolveTxt as Callback, ['esm.screenask-probe.invalid']),
    },
    {
      name: "import { resolve4 } from 'node:dns/promises'",
      kind: 'dns',
      run: async () => (await import('node:dns/promises')).resolve4('esm-promises.screenask-probe.invalid'),
    },
    { name: 'net.Server#listen', kind: 'listen', run: () => listened(net.createServer().listen(0, host)) },
    { name: 'http.Server#listen(options)', kind: 'listen', run: () => listened(http.createServer().listen({ port: 0, host })) },
    { name: 'net.Server#listen() on every interface', kind: 'listen', run: () => listened(net.createServer().listen()) },
    { name: 'dgram bind', kind: 'listen', run: () => listened(dgram.createSocket('udp4').bind(0, host)) },
    { name: 'worker thread (eval)', kind: 'tcp', inWorker: true, run: (t) => worker(connectInWorker(t.tcpPort), false) },
    { name: 'worker thread (module URL)', kind: 'tcp', inWorker: true, run: (t) => worker(connectInModuleWorker(t.tcpPort), true) },
    { name: 'net.connect(pipe)', kind: 'local', run: (t) => settled(net.connect(t.pipe)) },
    { name: 'http.get({ socketPath })', kind: 'local', run: (t) => settled(http.get({ socketPath: t.pipe, path: '/' })) },
  ];
}

/** A probe that neither fails nor connects (a hole the sentinel does not cover) is given up on, not waited for. */
const PROBE_TIMEOUT_MS = 3_000;

export async function runProbes(targets: ProbeTargets, log: string): Promise<void> {
  for (const probe of allProbes()) {
    appendFileSync(log, `${JSON.stringify({ probe: probe.name })}\n`);
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      probe.run(targets).catch(() => undefined),
      new Promise((resolve) => (timer = setTimeout(resolve, PROBE_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    // A listen probe has no target to count what reached it: it says itself whether it got a socket.
    if ((outcome as { listening?: boolean } | undefined)?.listening) appendFileSync(log, `${JSON.stringify({ listened: probe.name })}\n`);
  }
  appendFileSync(log, `${JSON.stringify({ probesDone: process.pid })}\n`);
}

export interface SentinelRecord {
  readonly pid: number;
  readonly thread: number;
  readonly kind: AttemptKind;
  readonly target: string;
}

/** The log's records grouped by the probe they followed; records before the first probe are under ''. */
export function recordsByProbe(lines: readonly string[]): Map<string, SentinelRecord[]> {
  const groups = new Map<string, SentinelRecord[]>([['', []]]);
  let current = '';
  for (const line of lines) {
    const entry = JSON.parse(line) as Partial<SentinelRecord> & { probe?: string; probesDone?: number };
    if (entry.probe !== undefined) groups.set((current = entry.probe), []);
    else if (entry.kind !== undefined) groups.get(current)!.push(entry as SentinelRecord);
  }
  return groups;
}

export interface ProbeServers {
  readonly targets: ProbeTargets;
  /** What reached the servers: connections (TCP, pipe) and datagrams (UDP, DNS queries included). */
  reached(): { tcp: number; udp: number; pipe: number };
  close(): Promise<void>;
}

/** The other end of the probes, in the test process: a TCP server, a UDP socket and a pipe, each counting. */
export async function openProbeServers(pipe: string): Promise<ProbeServers> {
  const counts = { tcp: 0, udp: 0, pipe: 0 };
  const tcp = net.createServer((socket) => (counts.tcp++, socket.destroy()));
  const local = net.createServer((socket) => (counts.pipe++, socket.destroy()));
  const udp = dgram.createSocket('udp4').on('message', () => counts.udp++);
  await Promise.all([
    // This module loads the sentinel, which refuses to listen on a network interface: the targets go around it.
    new Promise<void>((resolve) => listenUnwatched(tcp, 0, host, resolve)),
    new Promise<void>((resolve) => local.listen(pipe, resolve)),
    new Promise<void>((resolve) => bindUnwatched(udp, 0, host, resolve)),
  ]);
  return {
    targets: { tcpPort: (tcp.address() as net.AddressInfo).port, udpPort: udp.address().port, pipe },
    reached: () => ({ ...counts }),
    close: async () => {
      udp.close();
      await Promise.all([new Promise((resolve) => tcp.close(resolve)), new Promise((resolve) => local.close(resolve))]);
    },
  };
}
