/**
 * Privacy: from a capture to an answer, ScreenAsk never reaches the network. The model process (the real utility
 * entry, a real child process) and this process (the main side: supervisor and capture bytes) both run under a
 * sentinel that records any DNS lookup, TCP/TLS connection, UDP send or fetch. Only the model manager may use the
 * network, and only for downloads; nothing here involves it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineSupervisor } from '../../electron/main/engine-supervisor.js';
import { createNodeLauncher } from '../../electron/main/process-launcher.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { writeScreenshotLike } from '../support/images.js';
import { repoRoot } from '../support/run-script.js';

const sentinel = path.join(repoRoot, 'test/support/network-sentinel.ts');
let root: string;
let networkLog: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-privacy-'));
  networkLog = path.join(root, 'network.log');
  await writeSmolVlmModel(path.join(root, 'model'), { seed: 2, precisions: ['fp32'] });
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

async function attempts(): Promise<string[]> {
  const exists = await stat(networkLog).catch(() => undefined);
  return exists ? (await readFile(networkLog, 'utf8')).trim().split('\n').filter(Boolean) : [];
}

describe('privacy', () => {
  it('the sentinel sees a network attempt when there is one (so silence means something)', async () => {
    const probe = path.join(root, 'probe.log');
    const script = "await fetch('http://127.0.0.1:9/').catch(() => {}); await import('node:net').then((net) => net.connect(9, '127.0.0.1').on('error', () => {}));";
    await promisify(execFile)(process.execPath, ['--import', 'tsx', '--import', sentinel, '--input-type=module', '-e', script], {
      env: { ...process.env, SCREENASK_NETWORK_LOG: probe },
    });
    const lines = (await readFile(probe, 'utf8')).trim().split('\n');
    expect(lines.map((line) => JSON.parse(line).kind).sort()).toEqual(['fetch', 'tcp']);
  });

  it('capture → answer → follow-up opens no network connection in either process', async () => {
    // This process plays the main process: watch it too.
    process.env.SCREENASK_NETWORK_LOG = networkLog;
    await import(sentinel);
    const launcher = createNodeLauncher({
      execArgv: ['--import', 'tsx', '--import', sentinel],
      env: { ...process.env, SCREENASK_NETWORK_LOG: networkLog },
    });
    const supervisor = new EngineSupervisor({ launcher });
    try {
      // The capture, as the main process hands it over: PNG bytes of the screen.
      const png = new Uint8Array(await readFile(await writeScreenshotLike(path.join(root, 'screen.png'), 1280, 720)));
      await supervisor.load({ dir: path.join(root, 'model'), precision: 'fp32' });
      const first = await supervisor.ask({
        conversationId: 'capture-1',
        start: { image: { kind: 'png', bytes: png }, detail: 'high' },
        question: 'What does this error mean?',
        options: { maxNewTokens: 6 },
      }).result;
      const followUp = await supervisor.ask({ conversationId: 'capture-1', question: 'And then?', options: { maxNewTokens: 4 } })
        .result;
      expect(first.tokenIds).toHaveLength(6);
      expect(followUp.tokenIds).toHaveLength(4);
    } finally {
      await supervisor.stop();
    }
    expect(await attempts()).toEqual([]);
  });
});
