/**
 * Privacy with a server backend: the app's main side (its own services composition) connects only to the server the
 * settings name, and the model process, which sizes the capture, opens nothing. The network sentinel runs in both
 * processes, letting exactly the server's host:port through (SCREENASK_NETWORK_ALLOW) in the main side and nothing in
 * the model process; a control with another address allowed shows the check fails when the app goes elsewhere.
 * (privacy.test.ts proves the local backend opens nothing at all, and that the sentinel sees every way in.)
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeScreenshotLike } from '../support/images.js';
import type { ProbeServers } from '../support/network-probes.js';
import { startStandIn, type StandIn } from '../support/openai-stand-in.js';
import { captureAskServer, type RemoteScenarioResult } from '../support/privacy-scenario-remote.js';
import { repoRoot } from '../support/run-script.js';

const sentinel = path.join(repoRoot, 'test/support/network-sentinel.mjs');
const probeOnSignal = path.join(repoRoot, 'test/support/network-probe-on-signal.ts');
const MODEL = 'Qwen/Qwen2.5-VL-7B-Instruct';
let root: string;
let screenshot: string;
let standIn: StandIn;
let servers: ProbeServers;
/** network-probes.js loads the sentinel: imported once the stand-in listens. */
let probes: typeof import('../support/network-probes.js');

interface Line {
  readonly pid?: number;
  readonly kind?: string;
  readonly target?: string;
  readonly allowed?: boolean;
  readonly probe?: string;
  readonly probesDone?: number;
}
const lines = async (file: string): Promise<Line[]> =>
  (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean).map((line) => JSON.parse(line) as Line);
/** What the process itself did: the records before the first probe marker, pipes aside. */
const network = (records: readonly Line[]) => records.slice(0, records.findIndex((r) => r.probe !== undefined) >>> 0).filter((r) => r.kind && r.kind !== 'local');

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-privacy-remote-'));
  screenshot = await writeScreenshotLike(path.join(root, 'screen.png'), 1280, 720);
  // Listening first: the sentinel refuses to listen on a network interface once loaded.
  standIn = await startStandIn({ mode: 'vllm', answer: 'It is a terminal.' });
  process.env.SCREENASK_NETWORK_LOG = path.join(root, 'unused-main.log');
  await import(sentinel);
  probes = await import('../support/network-probes.js');
  servers = await probes.openProbeServers(path.join(root, 'probe.sock'));
});

afterAll(async () => {
  delete process.env.SCREENASK_NETWORK_ALLOW;
  await servers?.close();
  await standIn?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

/** The scenario with the main side allowing `allow`; the model process allows nothing and probes itself at the end. */
async function run(name: string, allow: string): Promise<{ result: RemoteScenarioResult; main: Line[]; model: Line[] }> {
  const mainLog = path.join(root, `${name}-main.log`);
  const modelLog = path.join(root, `${name}-model.log`);
  process.env.SCREENASK_NETWORK_LOG = mainLog;
  process.env.SCREENASK_NETWORK_ALLOW = allow;
  const { SCREENASK_NETWORK_ALLOW: _none, ...modelEnv } = process.env;
  try {
    const result = await captureAskServer({
      dir: path.join(root, name),
      screenshot,
      server: { baseUrl: standIn.baseUrl, model: MODEL },
      modelArgv: ['--import', 'tsx', '--import', sentinel, '--import', probeOnSignal],
      modelEnv: { ...modelEnv, SCREENASK_NETWORK_LOG: modelLog, SCREENASK_PROBE_TARGETS: JSON.stringify(servers.targets) },
      whileRunning: async (pid) => {
        process.kill(pid, 'SIGUSR2');
        await vi.waitUntil(async () => (await lines(modelLog)).some((line) => line.probesDone !== undefined), { timeout: 60_000, interval: 50 });
      },
    });
    return { result, main: await lines(mainLog), model: await lines(modelLog) };
  } finally {
    delete process.env.SCREENASK_NETWORK_ALLOW;
  }
}

describe('a server backend, with the network sentinel in both processes', () => {
  let allowed: Awaited<ReturnType<typeof run>>;
  beforeAll(async () => {
    standIn.requests.length = 0;
    allowed = await run('allowed', standIn.address);
  });

  it('answers the capture and its follow-up from the server (the capture sized by the model process)', () => {
    expect(allowed.result.turns).toHaveLength(2);
    for (const turn of allowed.result.turns) expect(turn).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'done', stats: expect.objectContaining({ provider: 'remote' }) })]));
    expect(standIn.requests.filter((r) => r.path.endsWith('/chat/completions')).map((r) => r.images.length)).toEqual([1, 1]);
  });

  it('the main side connected only to the server’s host:port: fetches and TCP there, no name lookup, nothing else', () => {
    const records = network(allowed.main);
    expect(records.filter((r) => r.kind === 'fetch').map((r) => r.target)).toEqual(expect.arrayContaining([`${standIn.baseUrl}/models`, `${standIn.baseUrl}/chat/completions`]));
    expect(records.some((r) => r.kind === 'tcp')).toBe(true);
    for (const record of records) {
      expect(record).toMatchObject({ pid: process.pid, allowed: true });
      expect(record.kind === 'fetch' ? new URL(record.target!).host : record.target).toBe(standIn.address);
    }
  });

  it('the model process opened nothing, though its sentinel was there and caught every probe', () => {
    expect(allowed.result.modelPid).toEqual(expect.any(Number));
    expect(allowed.result.modelPid).not.toBe(process.pid);
    expect(network(allowed.model)).toEqual([]);
    const groups = probes.recordsByProbe(allowed.model.map((line) => JSON.stringify(line)));
    const uncaught = probes.allProbes().filter((probe) => !(groups.get(probe.name) ?? []).some((r) => r.kind === probe.kind && r.pid === allowed.result.modelPid));
    expect(uncaught.map((p) => p.name)).toEqual([]);
  });

  it('control (the check can fail): with another address allowed, the connection is refused and recorded as not allowed', async () => {
    standIn.requests.length = 0;
    const other = await run('other', '127.0.0.1:9');
    expect(other.result.turns).toEqual([expect.stringMatching(/^[^\n]*127\.0\.0\.1[^\n]*$/)]);
    const records = network(other.main);
    expect(records).toContainEqual(expect.objectContaining({ kind: 'fetch', target: `${standIn.baseUrl}/models` }));
    expect(records.some((r) => r.allowed)).toBe(false);
    expect(standIn.requests).toEqual([]);
    // Refused before the capture was needed: no model process was started for it.
    expect(other.result.modelPid).toBeUndefined();
  });
});
