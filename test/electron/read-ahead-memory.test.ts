/**
 * Dismissed captures leave nothing behind in the model process: twenty captures in a row, each read ahead at high
 * detail and dismissed after its first frame, against the real utility entry in a real child process. Each capture's
 * pixels alone are ~45 MB (13 frames of 3×512×512 float32 and their masks), so keeping them would grow the process by
 * ~800 MB; the bound below allows a fraction of that for the allocator's own slack.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineSupervisor } from '../../electron/main/engine-supervisor.js';
import { createNodeLauncher } from '../../electron/main/process-launcher.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import { writeScreenshotLike } from '../support/images.js';

let root: string;
let supervisor: EngineSupervisor;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-read-ahead-memory-'));
  await writeSmolVlmModel(path.join(root, 'model'), { seed: 10, precisions: ['fp32'] });
  supervisor = new EngineSupervisor({ launcher: createNodeLauncher() });
  await supervisor.load({ dir: path.join(root, 'model'), precision: 'fp32', threads: 1 });
});

afterAll(async () => {
  await supervisor?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

describe('dismissed read-aheads', () => {
  it('twenty captures dismissed mid-read leave the model process no bigger than after the second', async () => {
    let afterSecond = 0;
    for (let n = 0; n < 20; n++) {
      const png = new Uint8Array(await readFile(await writeScreenshotLike(path.join(root, `capture-${n}.png`), 1280 + n, 720)));
      let firstFrame!: () => void;
      const frameSeen = new Promise<void>((resolve) => (firstFrame = resolve));
      const handle = supervisor.readAhead({ image: { kind: 'png', bytes: png }, detail: 'high' }, (p) => p.stage === 'encoding' && firstFrame());
      await frameSeen;
      supervisor.cancel(handle.requestId);
      expect(await handle.result).toMatchObject({ stopped: true });
      if (n === 1) afterSecond = await rssMb(supervisor.pid!);
    }
    const afterTwentieth = await rssMb(supervisor.pid!);
    expect(afterTwentieth - afterSecond).toBeLessThan(250);
    // And the process still answers.
    const answer = await supervisor.ask({ conversationId: 'after', start: {}, question: 'Still there?', options: { maxNewTokens: 2 } }).result;
    expect(answer.tokenIds).toHaveLength(2);
  });
});
