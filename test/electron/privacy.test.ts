/**
 * Privacy: from a capture to an answer, ScreenAsk never reaches the network. Two independent proofs:
 *
 * 1. The network sentinel (test/support/network-sentinel.mjs) runs in both processes: the model process (the real
 *    utility entry, forked by the real launcher) and this one, which plays the main side (supervisor, capture bytes).
 *    Capture → answer → follow-up leaves its log empty. Then, in the same two processes, a probe of every way Node
 *    opens a socket or resolves a name (net, tls, http, https, http2, undici, fetch, dgram, every dns API, worker
 *    threads, and listening: TCP servers and dgram bind) shows each is caught there, and the probes' targets (and the
 *    listen probes themselves) show nothing got through.
 * 2. On Linux, the same scenario in a network namespace whose only interface is loopback: whatever tried to send
 *    (native code and child processes included, which no monkey-patching sees) would move the kernel's counters.
 *
 * Only the model manager may use the network, and only for downloads; nothing here involves it.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { writeScreenshotLike } from '../support/images.js';
import { attempts, runIsolated } from '../support/namespaces.js';
import { allProbes, openProbeServers, recordsByProbe, runProbes, type ProbeServers, type SentinelRecord } from '../support/network-probes.js';
import { captureAnswerFollowUp, type ScenarioResult } from '../support/privacy-scenario.js';
import { repoRoot } from '../support/run-script.js';

const sentinel = path.join(repoRoot, 'test/support/network-sentinel.mjs');
const probeOnSignal = path.join(repoRoot, 'test/support/network-probe-on-signal.ts');
const scenarioCli = path.join(repoRoot, 'test/support/privacy-scenario-cli.ts');
let root: string;
let modelDir: string;
let screenshot: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-privacy-'));
  modelDir = path.join(root, 'model');
  await writeSmolVlmModel(modelDir, { seed: 2, precisions: ['fp32'] });
  screenshot = await writeScreenshotLike(path.join(root, 'screen.png'), 1280, 720);
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

async function logLines(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean);
}

const notLocal = (records: readonly SentinelRecord[] = []) => records.filter((r) => r.kind !== 'local');

/** Every probe that the log does not show caught, as `name: what was recorded`, so a failure names the hole. */
async function uncaughtProbes(log: string, pid: number): Promise<string[]> {
  const groups = recordsByProbe(await logLines(log));
  return allProbes().flatMap((probe) => {
    const records = groups.get(probe.name) ?? [];
    const caught = records.some((r) => r.kind === probe.kind && r.pid === pid && (probe.inWorker ? r.thread !== 0 : r.thread === 0));
    return caught ? [] : [`${probe.name} (want ${probe.kind}): ${JSON.stringify(records)}`];
  });
}

describe('the network sentinel in both processes', () => {
  let mainLog: string;
  let modelLog: string;
  let servers: ProbeServers;
  let result: ScenarioResult;

  beforeAll(async () => {
    mainLog = path.join(root, 'main.log');
    modelLog = path.join(root, 'model.log');
    servers = await openProbeServers(path.join(root, 'probe.sock'));
    process.env.SCREENASK_NETWORK_LOG = mainLog;
    await import(sentinel);
    result = await captureAnswerFollowUp({
      modelDir,
      screenshot,
      modelArgv: ['--import', 'tsx', '--import', sentinel, '--import', probeOnSignal],
      modelEnv: { ...process.env, SCREENASK_NETWORK_LOG: modelLog, SCREENASK_PROBE_TARGETS: JSON.stringify(servers.targets) },
      // After the answers, the model process probes itself: what it records from then on follows the probe markers.
      whileRunning: async (pid) => {
        process.kill(pid, 'SIGUSR2');
        await vi.waitUntil(async () => (await logLines(modelLog)).some((line) => line.startsWith('{"probesDone"')), { timeout: 60_000, interval: 50 });
      },
    });
    await runProbes(servers.targets, mainLog);
  });

  afterAll(async () => {
    await servers?.close();
  });

  it('capture → answer → follow-up opens no network connection and resolves no name in either process', async () => {
    expect(result.first).toHaveLength(6);
    expect(result.followUp).toHaveLength(4);
    // Records before the first probe marker are what the scenario itself did.
    expect(notLocal(recordsByProbe(await logLines(modelLog)).get(''))).toEqual([]);
    expect(notLocal(recordsByProbe(await logLines(mainLog)).get(''))).toEqual([]);
  });

  it('is loaded in that model process and catches every way Node reaches the network there', async () => {
    expect(result.modelPid).not.toBe(process.pid);
    expect(await uncaughtProbes(modelLog, result.modelPid)).toEqual([]);
  });

  it('catches every way in the main-side process too', async () => {
    expect(await uncaughtProbes(mainLog, process.pid)).toEqual([]);
  });

  it('lets nothing through: the probe targets saw no TCP connection and no datagram, only the local pipes', () => {
    const pipeProbes = allProbes().filter((p) => p.kind === 'local').length;
    expect(servers.reached()).toEqual({ tcp: 0, udp: 0, pipe: 2 * pipeProbes });
  });

  it('lets nothing listen on a network interface, in either process', async () => {
    expect(allProbes().filter((p) => p.kind === 'listen').length).toBeGreaterThan(0);
    for (const log of [modelLog, mainLog]) expect((await logLines(log)).filter((line) => line.startsWith('{"listened"'))).toEqual([]);
  });
});

describe.runIf(process.platform === 'linux')('in a network namespace with only loopback (Linux)', () => {
  it.each([
    ['TCP to another machine', "require('net').connect(80, '192.0.2.1').on('error', () => {})"],
    ['TCP to loopback', "require('net').connect(9, '127.0.0.1').on('error', () => {})"],
    ['TCP over IPv6', "require('net').connect(9, '2001:db8::1').on('error', () => {})"],
    ['a UDP datagram', "const s = require('dgram').createSocket('udp4'); s.send('x', 53, '192.0.2.1', () => s.close())"],
    ['a name lookup by the system resolver', "require('dns').lookup('example.com', () => {})"],
  ])('the kernel counts an attempt of %s (so zeros mean something)', async (_what, code) => {
    const run = await runIsolated([process.execPath, '-e', code], { network: true });
    expect(run.code).toBe(0);
    expect(Object.keys(attempts(run.counters)).length).toBeGreaterThan(0);
  });

  it('capture → answer → follow-up: neither process, nor native code, nor a child sends a single packet', async () => {
    const log = path.join(root, 'namespace.log');
    const run = await runIsolated([process.execPath, '--import', 'tsx', '--import', sentinel, scenarioCli, modelDir, screenshot], {
      network: true,
      cwd: repoRoot,
      env: { ...process.env, SCREENASK_NETWORK_LOG: log },
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as ScenarioResult;
    expect(result.first).toHaveLength(6);
    expect(result.followUp).toHaveLength(4);
    expect(attempts(run.counters)).toEqual({});
    expect(notLocal(recordsByProbe(await logLines(log)).get(''))).toEqual([]);
  });
});
