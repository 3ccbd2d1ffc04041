// `npm run models -- list|pull|import|remove|recommend`: the model manager on the command line. Results go to stdout;
// progress, notes and errors to stderr, so `list --json` can be piped.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ScreenAskError } from '../model/errors.js';
import { precisions, type Precision } from '../model/layout.js';
import { catalogue, describePrecisions, recommendModel } from '../hub/catalogue.js';
import { localMachine } from '../hub/machine.js';
import { formatBytes } from '../hub/errors.js';
import type { DownloadProgress } from '../hub/download.js';
import { HubError } from '../hub/errors.js';
import { importModelFolder, type ImportReport } from '../hub/import.js';
import { listInstalled, removeModel } from '../hub/installed.js';
import { modelsDir as defaultModelsDir } from '../hub/models-dir.js';
import { pullModel, remotePrecisions } from '../hub/pull.js';
import { runCli } from './run-cli.js';

export const modelsUsage =
  'usage: npm run models -- list [--remote] [--json] | pull <id> [--precision P] [--revision R] | import <dir> | ' +
  'remove <id> | recommend [--gpu|--no-gpu] [--memory-gb N]   (all take --models-dir DIR)';

interface Writer {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

/** One line of progress: `[#######.............]  35%  12.0 MB / 34.0 MB  5.1 MB/s  ETA 0:04  onnx/decoder….onnx`. */
export function formatProgress(p: DownloadProgress, barWidth = 20): string {
  const fraction = p.total > 0 ? Math.min(1, p.bytes / p.total) : 1;
  const filled = Math.round(fraction * barWidth);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]`;
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  const eta = p.etaSeconds === undefined ? 'ETA --' : `ETA ${formatDuration(p.etaSeconds)}`;
  return `${bar} ${percent}  ${formatBytes(p.bytes)} / ${formatBytes(p.total)}  ${formatBytes(p.bytesPerSecond)}/s  ${eta}  ${p.file}`;
}

/**
 * A progress reporter: on a terminal it redraws one line with `\r` (at most ~10 times a second); elsewhere (logs, CI,
 * the tests) it prints whole lines, one per finished file and at most one a second between, so a log stays readable.
 */
export function progressReporter(out: Writer, now: () => number = Date.now): { update(p: DownloadProgress): void; end(): void } {
  let last = -Infinity;
  let drawn = false;
  let lastFile = '';
  return {
    update(p) {
      const t = now();
      const fileDone = p.fileBytes >= p.fileTotal && p.file !== lastFile;
      if (fileDone) lastFile = p.file;
      if (out.isTTY) {
        if (t - last < 100 && p.bytes < p.total) return;
        out.write(`\r${formatProgress(p)}\x1b[K`);
        drawn = true;
      } else {
        if (!fileDone && t - last < 1000) return;
        out.write(`${formatProgress(p)}\n`);
      }
      last = t;
    },
    end() {
      if (drawn) out.write('\n');
    },
  };
}

function parsePrecision(value: string | undefined): Precision | undefined {
  if (value === undefined) return undefined;
  if (!(precisions as readonly string[]).includes(value)) {
    throw new ScreenAskError(`Invalid value for --precision: "${value}" (use one of ${precisions.join(', ')}).`);
  }
  return value as Precision;
}

function hubOptions(): { endpoint?: string; token?: string } {
  // The same variables huggingface_hub reads, so a mirror or a token configured for it works here too.
  const endpoint = process.env.HF_ENDPOINT;
  const token = process.env.HF_TOKEN ?? process.env.HUGGING_FACE_HUB_TOKEN;
  return { ...(endpoint ? { endpoint } : {}), ...(token ? { token } : {}) };
}

function printImportReport(report: ImportReport, out: Writer): void {
  const lines = [
    `folder:      ${report.dir}`,
    `family:      ${report.family ?? report.modelType ?? 'unknown'}${report.engineSupported ? '' : ' (not supported by this version)'}`,
    `precisions:  ${report.precisions.join(', ') || 'none complete'}`,
    ...(report.missing.length > 0 ? ['missing:', ...report.missing.map((m) => `  - ${m}`)] : []),
    ...(report.problems.length > 0 ? ['problems:', ...report.problems.map((p) => `  - ${p}`)] : []),
    ...(report.useCacheFalse.length > 0 ? [`use_cache:   false in ${report.useCacheFalse.join(', ')}`] : []),
    ...report.notes.map((n) => `note: ${n}`),
  ];
  out.write(`${lines.join('\n')}\n`);
}

async function list(dir: string, remote: boolean, json: boolean): Promise<void> {
  const installed = await listInstalled(dir);
  const rows = [];
  for (const entry of catalogue) {
    const local = installed.find((m) => m.repo === entry.repo);
    let available: string | undefined;
    if (remote) {
      try {
        const found = await remotePrecisions(entry.id, hubOptions());
        available = describePrecisions(found.available);
      } catch (error) {
        // One unreachable or gated repo must not hide the rest of the list.
        available = `unavailable (${error instanceof Error ? error.message : String(error)})`;
      }
    }
    rows.push({
      id: entry.id,
      repo: entry.repo,
      class: entry.class,
      installed: local ? [...local.precisions] : [],
      complete: local?.complete ?? false,
      ...(available !== undefined ? { available } : {}),
    });
  }
  const extra = installed.filter((m) => !catalogue.some((e) => e.repo === m.repo));
  if (json) {
    process.stdout.write(`${JSON.stringify({ modelsDir: dir, catalogue: rows, other: extra }, null, 2)}\n`);
    return;
  }
  process.stdout.write(`models folder: ${dir}\n`);
  for (const row of rows) {
    const state = row.installed.length > 0 ? `installed: ${row.installed.join(', ')}${row.complete ? '' : ' (partial: pull again to resume)'}` : 'not installed';
    process.stdout.write(`${row.id.padEnd(24)} ${row.class.padEnd(4)} ${state}${row.available ? `  available: ${row.available}` : ''}\n`);
  }
  for (const m of extra) {
    process.stdout.write(`${m.id.padEnd(24)} ${m.source === 'folder' ? 'imported' : 'hub'} ${m.precisions.join(', ') || 'none'}  ${m.dir}\n`);
  }
}

async function main(argv: readonly string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        'models-dir': { type: 'string' },
        precision: { type: 'string' },
        revision: { type: 'string' },
        remote: { type: 'boolean' },
        json: { type: 'boolean' },
        gpu: { type: 'boolean' },
        'no-gpu': { type: 'boolean' },
        'memory-gb': { type: 'string' },
      },
    });
  } catch (error) {
    throw new ScreenAskError(`${(error as Error).message}. ${modelsUsage}`);
  }
  const { values, positionals } = parsed;
  const [command, target, ...rest] = positionals;
  if (rest.length > 0) throw new ScreenAskError(`Unexpected argument "${rest[0]}". ${modelsUsage}`);
  const dir = defaultModelsDir(values['models-dir']);
  const needTarget = (what: string): string => {
    if (!target) throw new ScreenAskError(`${command} needs ${what}. ${modelsUsage}`);
    return target;
  };

  switch (command) {
    case 'list':
      return list(dir, values.remote === true, values.json === true);
    case 'pull': {
      const id = needTarget('a model id');
      const controller = new AbortController();
      // Ctrl+C aborts the transfer; what was fetched stays on disk and the same command resumes it.
      const onSigint = (): void => controller.abort();
      process.once('SIGINT', onSigint);
      const progress = progressReporter(process.stderr);
      try {
        const precision = parsePrecision(values.precision);
        const result = await pullModel(id, {
          modelsDir: dir,
          ...hubOptions(),
          ...(precision ? { precision } : {}),
          ...(values.revision ? { revision: values.revision } : {}),
          signal: controller.signal,
          onProgress: (p) => progress.update(p),
        });
        progress.end();
        const what = `${result.entry.id} ${result.precision} (${formatBytes(result.bytes)}, commit ${result.sha.slice(0, 12)})`;
        process.stdout.write(`${result.alreadyInstalled ? 'already installed' : 'installed'}: ${what} in ${result.dir}\n`);
        if (!result.entry.engineSupported) {
          process.stderr.write(`note: this ScreenAsk version cannot run the ${result.entry.family} family yet.\n`);
        }
      } catch (error) {
        progress.end();
        if (error instanceof HubError && error.kind === 'cancelled') {
          process.stderr.write('cancelled: the partial download is kept; run the same command again to resume.\n');
          process.exitCode = 130;
          return;
        }
        throw error;
      } finally {
        process.off('SIGINT', onSigint);
      }
      return;
    }
    case 'import': {
      const report = await importModelFolder(needTarget('a folder'), { modelsDir: dir });
      printImportReport(report, process.stderr);
      if (!report.ok) throw new ScreenAskError(report.summary);
      process.stdout.write(`${report.summary}\n`);
      return;
    }
    case 'remove': {
      const removed = await removeModel(dir, needTarget('a model id'));
      process.stdout.write(
        removed.source === 'folder'
          ? `forgot ${removed.id} (the folder ${removed.dir} was imported in place and is left as it is)\n`
          : `removed ${removed.id} (${removed.dir})\n`,
      );
      return;
    }
    case 'recommend': {
      const memoryGb = values['memory-gb'] === undefined ? undefined : Number(values['memory-gb']);
      if (memoryGb !== undefined && !(memoryGb > 0)) throw new ScreenAskError(`Invalid value for --memory-gb: "${values['memory-gb']}".`);
      // Flags override what localMachine() can detect.
      const machine = localMachine();
      const hasGpu = values.gpu === true ? true : values['no-gpu'] === true ? false : machine.hasGpu;
      const pick = recommendModel({ hasGpu, totalMemoryBytes: memoryGb !== undefined ? memoryGb * 1024 ** 3 : machine.totalMemoryBytes });
      process.stdout.write(`${pick.entry.id} ${pick.precision}: ${pick.reason}\n`);
      process.stdout.write(`install it with: npm run models -- pull ${pick.entry.id} --precision ${pick.precision}\n`);
      return;
    }
    default:
      throw new ScreenAskError(command ? `Unknown command "${command}". ${modelsUsage}` : modelsUsage);
  }
}

// Run only as the entry point, so the tests can import the progress formatting.
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await runCli(() => main(process.argv.slice(2)));
}
