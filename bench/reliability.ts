/**
 * `npm run bench -- --reliability`: figures that unit tests must not assert, because they depend on the machine and
 * on the garbage collector. The tests assert the behaviour behind them instead (each capture encoded once and no
 * state carried across conversations; a cancel that cuts the transfer off mid-file).
 *   - resident memory of a process that asks 100 questions on a tiny generated model (3 captures, low detail);
 *   - how long a download takes to stop once cancelled mid-file (fake Hub on loopback, throttled file).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { downloadFiles } from '../native-models/hub/download.js';
import { resolveRevision } from '../native-models/hub/hub-api.js';
import { loadModel } from '../native-models/index.js';
import { writeSmolVlmModel } from '../test/fixtures/smolvlm/generate.js';
import { collectAnswer } from '../test/support/answers.js';
import { fakeBytes, fakeSha, startFakeHub } from '../test/support/fake-hub.js';
import { writeGradient } from '../test/support/images.js';

export interface ReliabilityFigures {
  readonly questions: number;
  /** RSS after the warm-up questions and after all of them, in MiB. */
  readonly rssAfterWarmUpMiB: number;
  readonly rssAfterAllMiB: number;
  /** Milliseconds from the abort to the download's rejection, median of the runs. */
  readonly downloadCancelMs: number;
  readonly downloadCancelRuns: number;
}

const MiB = 2 ** 20;
const WARM_UP = 20;
const QUESTIONS = 100;
const CANCEL_RUNS = 5;

async function memoryOverQuestions(root: string): Promise<Pick<ReliabilityFigures, 'questions' | 'rssAfterWarmUpMiB' | 'rssAfterAllMiB'>> {
  const dir = path.join(root, 'model');
  await writeSmolVlmModel(dir, { seed: 1, precisions: ['fp32'] });
  const captures = await Promise.all([0, 1, 2].map((i) => writeGradient(path.join(root, `capture-${i}.png`), 300 + i, 200)));
  const model = await loadModel(dir, { precision: 'fp32' });
  let rssAfterWarmUpMiB = 0;
  try {
    for (let i = 0; i < QUESTIONS; i++) {
      if (i === WARM_UP) rssAfterWarmUpMiB = process.memoryUsage().rss / MiB;
      await collectAnswer(model.startConversation({ image: captures[i % 3]!, detail: 'low' }).ask(`Question ${i}?`, { maxNewTokens: 4 }));
    }
    return { questions: QUESTIONS, rssAfterWarmUpMiB, rssAfterAllMiB: process.memoryUsage().rss / MiB };
  } finally {
    await model.dispose();
  }
}

async function downloadCancelLatency(root: string): Promise<number> {
  const file = 'onnx/model.onnx';
  const hub = await startFakeHub({ repos: { 'bench/cancel': { sha: fakeSha('cancel'), files: { [file]: fakeBytes(300 * 1024, 7) } } } });
  try {
    const revision = await resolveRevision('bench/cancel', 'main', { endpoint: hub.endpoint, token: '' });
    const runs: number[] = [];
    for (let run = 0; run < CANCEL_RUNS; run++) {
      hub.setFault(`bench/cancel/${file}`, { kind: 'slow', bytesPerSecond: 50_000 });
      const controller = new AbortController();
      let abortedAt = 0;
      const onProgress = (p: { bytes: number }) => {
        if (p.bytes > 0 && !abortedAt) {
          abortedAt = performance.now();
          controller.abort();
        }
      };
      await downloadFiles(revision, revision.files, path.join(root, `download-${run}`), {
        endpoint: hub.endpoint,
        token: '',
        signal: controller.signal,
        onProgress,
        progressIntervalMs: 0,
      }).catch(() => undefined);
      runs.push(performance.now() - abortedAt);
    }
    return runs.sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
  } finally {
    await hub.close();
  }
}

export async function measureReliability(log: (line: string) => void): Promise<ReliabilityFigures> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'screenask-bench-reliability-'));
  try {
    log(`asking ${QUESTIONS} questions on a tiny generated model…`);
    const memory = await memoryOverQuestions(root);
    log(`cancelling ${CANCEL_RUNS} downloads mid-file…`);
    const downloadCancelMs = await downloadCancelLatency(root);
    return { ...memory, downloadCancelMs, downloadCancelRuns: CANCEL_RUNS };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

export function formatReliability(f: ReliabilityFigures): string {
  return [
    `memory: RSS ${f.rssAfterWarmUpMiB.toFixed(0)} MiB after ${WARM_UP} questions, ${f.rssAfterAllMiB.toFixed(0)} MiB after ${f.questions} ` +
      `(${(f.rssAfterAllMiB - f.rssAfterWarmUpMiB).toFixed(1)} MiB growth)`,
    `download cancel: stops ${f.downloadCancelMs.toFixed(0)} ms after the abort (median of ${f.downloadCancelRuns}, throttled file mid-body)`,
  ].join('\n');
}
