/**
 * npm run bench [-- --quick | --reliability] [--json] [--out FILE] [--threads N] [--model-dir DIR] [--family smolvlm|qwen2.5-vl]
 *   [--layers N] [--device cpu|webgpu|cuda] [--typing-ms N]
 *
 * Decode speed, time to first token and memory of our engine against transformers.js on a random-weight model with
 * the real SmolVLM-256M shapes (default) or Qwen2.5-VL-3B's text shapes at reduced depth (--family qwen2.5-vl,
 * --layers, default 4), with the machine's memory bandwidth as the yardstick. Progress goes to stderr; the table
 * (or, with --json, one JSON object) goes to stdout: use `npm run -s bench -- --json` to keep npm's banner out of it,
 * or --out FILE. Missed goals are reported, never turned into a failure. The models (SmolVLM ~1.5 GB, Qwen at 4
 * layers ~6.7 GB) and the bandwidth probe (~1 GB) are cached under .cache/bench/; delete a file there to rebuild it.
 * --device passes a GPU provider to both engines (for a GPU machine; the roofline is then not measured).
 * --profile measures only where one decode step's time goes (bench/profile.ts; every run also ends with it).
 * --reliability measures only what unit tests must not assert (bench/reliability.ts): memory over 100 questions and
 * how fast a cancelled download stops; it takes seconds and needs no bench model.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { physicalCores } from '../native-models/runtime/threads.js';
import { parseBenchArgs, USAGE, type Args } from './args.js';
import { lastLevelCacheBytes, measureBandwidth, type BandwidthResult } from './bandwidth.js';
import { benchImages } from './images.js';
import { BENCH_PRECISIONS, decoderWeightBytes, ensureBenchModel, modelSource, type BenchPrecision } from './model.js';
import { benchPlan, keyScenarios, QUESTION, type Phase, repeatsOf } from './plan.js';
import { formatReliability, measureReliability } from './reliability.js';
import { profileDecodeStep, type StepProfile } from './profile.js';
import { buildReport, formatProfile, formatReport, kvBytesPerContextToken, reportJson, type MachineInfo, type ModelInfo } from './report.js';
import type { DetailImages, Engine, RunResult, Scenario, WorkerReply, WorkerRequest, WorkerSummary } from './types.js';

const log = (line: string): void => void process.stderr.write(`${line}\n`);

function machineInfo(loadAverageStart: number[]): MachineInfo {
  const require = createRequire(import.meta.url);
  // Some packages do not export ./package.json: walk up from the resolved entry point to the package's own manifest.
  const version = (pkg: string): string => {
    try {
      for (let dir = path.dirname(require.resolve(pkg)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
        const file = path.join(dir, 'package.json');
        if (!existsSync(file)) continue;
        const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (manifest.name === pkg) return manifest.version ?? 'unknown';
      }
    } catch {
      // fall through
    }
    return 'unknown';
  };
  return {
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    physicalCores: physicalCores(),
    logicalCores: os.availableParallelism(),
    totalMemoryBytes: os.totalmem(),
    lastLevelCacheBytes: lastLevelCacheBytes(),
    platform: process.platform,
    arch: process.arch,
    node: process.version,
    onnxruntimeNode: version('onnxruntime-node'),
    transformersJs: version('@huggingface/transformers'),
    loadAverageStart,
    loadAverageEnd: os.loadavg(),
  };
}

/** One engine at one precision in its own process (see worker.ts), answering one request at a time. */
class EngineWorker {
  private readonly child: ChildProcess;
  private pending: { resolve: (v: unknown) => void; reject: (e: Error) => void } | undefined;
  private exited: string | undefined;

  constructor(readonly engine: Engine, readonly precision: BenchPrecision) {
    // The workers are TypeScript too: reuse the tsx loader this process runs under. Their stdout goes to our stderr
    // so that library chatter never mixes into the --json output.
    this.child = fork(fileURLToPath(new URL('./worker.ts', import.meta.url)), [], {
      execArgv: process.execArgv.length ? process.execArgv : ['--import', 'tsx'],
      stdio: ['ignore', 2, 2, 'ipc'],
    });
    this.child.on('message', (reply: WorkerReply) => {
      const pending = this.pending;
      this.pending = undefined;
      if (reply.ok) pending?.resolve(reply.value);
      else pending?.reject(new Error(reply.error));
    });
    this.child.on('exit', (code, signal) => {
      this.exited = `the ${engine} ${precision} worker exited (${signal ?? `code ${code}`})`;
      this.pending?.reject(new Error(this.exited));
      this.pending = undefined;
    });
  }

  /** utime + stime of the worker process in clock ticks (Linux), to see whether an idle worker disturbs a run. */
  cpuTicks(): number | undefined {
    try {
      const fields = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8').split(') ')[1]?.split(' ');
      return fields ? Number(fields[11]) + Number(fields[12]) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Waits (at most `maxMs`) until the process has used no CPU for 200 ms. */
  async settle(maxMs = 5000): Promise<void> {
    const deadline = performance.now() + maxMs;
    let last = this.cpuTicks();
    if (last === undefined) return;
    while (performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const now = this.cpuTicks();
      if (now === undefined || now - last <= 0) return;
      last = now;
    }
  }

  get alive(): boolean {
    return this.exited === undefined;
  }

  request<T>(message: WorkerRequest): Promise<T> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    if (this.pending) return Promise.reject(new Error('worker busy'));
    return new Promise<T>((resolve, reject) => {
      this.pending = { resolve: resolve as (v: unknown) => void, reject };
      this.child.send(message);
    });
  }

  /** Disconnects (the worker exits on that) and waits for the exit, so the next probe or phase has the machine. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    if (this.child.connected) this.child.disconnect();
    const timer = setTimeout(() => this.child.kill(), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

const label = (s: Scenario) => `${s.precision} ${s.detail} ${s.maxNewTokens} new, cache ${s.cache}`;

async function runPhase(
  phase: Phase,
  args: Args,
  images: DetailImages,
  sink: { runs: RunResult[]; workers: WorkerSummary[]; errors: string[] },
): Promise<void> {
  const engines: Engine[] = ['ours', 'ours-stock', 'transformers.js'];
  const workers = new Map<Engine, EngineWorker>();
  for (const engine of engines) {
    const needed = phase.scenarios.some((s) => repeatsOf(engine, s) > 0);
    if (!needed) continue;
    // Loaded one after the other: two loads at once on two cores would slow both and prove nothing.
    const worker = new EngineWorker(engine, phase.precision);
    try {
      log(`loading ${engine} ${phase.precision} (+ one short warm-up answer)…`);
      await worker.request({
        type: 'init',
        engine,
        modelDir: args.modelDir,
        precision: phase.precision,
        device: args.device,
        threads: args.threads,
        images,
        question: QUESTION,
      });
      workers.set(engine, worker);
    } catch (error) {
      sink.errors.push(`${engine} ${phase.precision}: could not load: ${(error as Error).message.split('\n')[0]}`);
      await worker.close();
    }
  }

  for (const scenario of phase.scenarios) {
    // Interleaved, ours then theirs per repeat, so a burst of load on the machine hits both engines alike.
    const rounds = Math.max(...engines.map((engine) => repeatsOf(engine, scenario)));
    for (let round = 0; round < rounds; round++) {
      for (const engine of engines) {
        if (round >= repeatsOf(engine, scenario)) continue;
        const worker = workers.get(engine);
        if (!worker?.alive) continue;
        const { oursRepeats: _o, theirsRepeats: _t, stockRepeats: _s, ...plain } = scenario;
        const request: Scenario = engine === 'ours' ? plain : { ...plain, followUp: undefined };
        // The other engine's process keeps working for a moment after it answers (garbage collection, freeing
        // tensors: ~0.3 CPU-s after a transformers.js warm-up), which would land in this run's timings.
        for (const other of workers.values()) if (other !== worker) await other.settle();
        try {
          const result = await worker.request<RunResult>({ type: 'run', scenario: request });
          sink.runs.push(result);
          log(
            `  ${engine.padEnd(15)} ${label(scenario)} #${round + 1}: TTFT ${result.ttftMs.toFixed(0)} ms, ` +
              `${result.decodeTokensPerSecond.toFixed(1)} tok/s, ${result.generatedTokens} tokens` +
              (result.followUp ? `; follow-up TTFT ${result.followUp.ttftMs.toFixed(0)} ms` : '') +
              ` (load ${result.loadAverage.toFixed(2)}` +
              (result.noise ? `, others ${(result.noise.otherCpuFraction * 100).toFixed(0)}% CPU)` : ')'),
          );
        } catch (error) {
          sink.errors.push(`${engine} ${label(scenario)}: ${(error as Error).message.split('\n')[0]}`);
        }
      }
    }
  }

  for (const worker of workers.values()) {
    try {
      if (worker.alive) sink.workers.push(await worker.request<WorkerSummary>({ type: 'summary' }));
    } catch (error) {
      sink.errors.push(`${worker.engine} ${worker.precision}: no summary: ${(error as Error).message.split('\n')[0]}`);
    }
    await worker.close();
  }
}

async function probe(args: Args, cacheDir: string, sink: { bandwidth: BandwidthResult[]; errors: string[] }): Promise<void> {
  try {
    const result = await measureBandwidth({ cacheDir, threads: args.threads, repeats: args.quick ? 15 : 30 });
    sink.bandwidth.push(result);
    log(`memory bandwidth: ${result.gbPerSecond.toFixed(1)} GB/s (median of ${result.repeats}, ${(result.bytes / 2 ** 20).toFixed(0)} MiB)`);
  } catch (error) {
    sink.errors.push(`bandwidth probe: ${(error as Error).message.split('\n')[0]}`);
  }
}

async function main(): Promise<void> {
  let args: Args | undefined;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (!args) {
    console.log(USAGE);
    return;
  }
  if (args.profile) {
    const model = await ensureBenchModel(args.modelDir, modelSource(args.family, args.layers), log);
    const images = await benchImages(args.family, model.dir, path.dirname(args.modelDir));
    const profile = await profileDecodeStep({ modelDir: model.dir, image: images.perDetail.low.file, threads: args.threads, question: QUESTION });
    if (args.out) writeFileSync(args.out, `${JSON.stringify(profile, null, 2)}\n`);
    console.log(args.json ? JSON.stringify(profile, null, 2) : formatProfile(profile));
    return;
  }
  if (args.reliability) {
    const figures = await measureReliability(log);
    const text = args.json ? JSON.stringify(figures, null, 2) : formatReliability(figures);
    if (args.out) writeFileSync(args.out, `${JSON.stringify(figures, null, 2)}\n`);
    console.log(text);
    return;
  }
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const loadAverageStart = os.loadavg();
  log(
    `bench (${args.quick ? 'quick' : 'full'}, ${args.family}${args.layers ? `, ${args.layers} layers` : ''}` +
      `${args.graphStyle === 'primitive' ? '' : `, ${args.graphStyle} graphs`}` +
      `${args.device === 'cpu' ? '' : `, ${args.device}`}), ${args.threads} threads per engine, ` +
      `load average ${loadAverageStart.map((v) => v.toFixed(2)).join(' ')}`,
  );

  const model = await ensureBenchModel(args.modelDir, modelSource(args.family, args.layers, args.graphStyle), log);
  const cacheDir = path.dirname(args.modelDir);
  mkdirSync(cacheDir, { recursive: true });
  const images = await benchImages(args.family, model.dir, cacheDir);
  const files: DetailImages = { low: images.perDetail.low.file, high: images.perDetail.high.file };

  const sink = { runs: [] as RunResult[], workers: [] as WorkerSummary[], errors: [] as string[], bandwidth: [] as BandwidthResult[] };
  // Bandwidth before each phase and at the end (a couple of seconds each): the roofline takes the quietest probe,
  // and a spread between probes says the machine's load changed during the run. The probe measures host memory, so
  // a run on a GPU skips it.
  const cpu = args.device === 'cpu';
  for (const phase of benchPlan(args.quick, args.family, args.typingMs, args.graphStyle)) {
    if (cpu) await probe(args, cacheDir, sink);
    await runPhase(phase, args, files, sink);
  }
  if (cpu) await probe(args, cacheDir, sink);
  let profile: StepProfile | undefined;
  try {
    log(`profiling a ${keyScenarios(args.family, args.graphStyle).q8Low.precision} low-detail decode step…`);
    profile = await profileDecodeStep({
      modelDir: model.dir,
      image: files.low,
      threads: args.threads,
      question: QUESTION,
      precision: keyScenarios(args.family, args.graphStyle).q8Low.precision,
    });
  } catch (error) {
    sink.errors.push(`decode-step profile: ${(error as Error).message.split('\n')[0]}`);
  }

  const text = model.text;
  const modelInfo: ModelInfo = {
    dir: model.dir,
    shapes: model.shapes,
    generated: model.generated,
    generateSeconds: model.generateSeconds,
    eosTokenId: model.eosTokenId,
    vocabSize: model.vocabSize,
    decoderWeightBytes: Object.fromEntries(BENCH_PRECISIONS.map((p) => [p, decoderWeightBytes(model.dir, p)])) as Record<
      BenchPrecision,
      number
    >,
    // fp32, q8 and q4 exports all keep float32 past/present tensors (only fp16/q4f16 use float16).
    kvBytesPerContextToken: Object.fromEntries(BENCH_PRECISIONS.map((p) => [p, kvBytesPerContextToken(text, 4)])) as Record<
      BenchPrecision,
      number
    >,
  };
  const report = buildReport({
    startedAt,
    durationSeconds: (performance.now() - started) / 1000,
    quick: args.quick,
    family: args.family,
    ...(args.graphStyle === 'primitive' ? {} : { graphStyle: args.graphStyle }),
    device: args.device,
    threads: args.threads,
    machine: machineInfo(loadAverageStart),
    model: modelInfo,
    image: images.preSized ? images.capture : images.perDetail.high,
    ...(images.preSized ? { detailImages: images.perDetail } : {}),
    question: QUESTION,
    bandwidth: sink.bandwidth,
    runs: sink.runs,
    workers: sink.workers,
    ...(profile ? { profile } : {}),
    errors: sink.errors,
  });
  const json = reportJson(report);
  if (args.out) {
    mkdirSync(path.dirname(path.resolve(args.out)), { recursive: true });
    writeFileSync(args.out, `${json}\n`);
    log(`wrote ${args.out}`);
  }
  console.log(args.json ? json : formatReport(report));
}

await main();
