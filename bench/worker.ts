/**
 * A child process that runs one engine at one precision for the parent (bench/run.ts). One process per (engine,
 * precision) keeps each peak RSS attributable, keeps one engine's heap and native arenas from skewing the other's
 * timings, and still lets the parent interleave the two engines run by run.
 */
import { openOurs } from './ours.js';
import { openTransformersJs } from './transformers-js.js';
import type { EngineRunner, WorkerReply, WorkerRequest, WorkerSummary } from './types.js';

let runner: EngineRunner | undefined;
let identity: Pick<WorkerSummary, 'engine' | 'precision'> | undefined;

async function handle(request: WorkerRequest): Promise<unknown> {
  switch (request.type) {
    case 'init': {
      runner =
        request.engine === 'transformers.js'
          ? await openTransformersJs(request)
          : await openOurs({ ...request, rewriteDecoder: request.engine === 'ours' });
      identity = { engine: request.engine, precision: request.precision };
      await runner.warmUp();
      return { loadMs: runner.loadMs };
    }
    case 'run':
      if (!runner) throw new Error('worker not initialised');
      return runner.run(request.scenario);
    case 'summary': {
      if (!runner || !identity) throw new Error('worker not initialised');
      // maxRSS is the process's high-water mark in KiB (getrusage), taken before the sessions are released.
      const summary: WorkerSummary = { ...identity, loadMs: runner.loadMs, peakRssBytes: process.resourceUsage().maxRSS * 1024 };
      await runner.dispose();
      runner = undefined;
      return summary;
    }
  }
}

process.on('message', (message: WorkerRequest) => {
  handle(message).then(
    (value) => process.send?.({ ok: true, value } satisfies WorkerReply),
    (error: unknown) =>
      process.send?.({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies WorkerReply),
  );
});
process.on('disconnect', () => process.exit(0));
