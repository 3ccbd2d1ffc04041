import ort from 'onnxruntime-node';
import path from 'node:path';
import { ScreenAskError, firstLine } from '../model/errors.js';
import { physicalCores } from './threads.js';

import type { Device } from './devices.js';

export { devices, type Device } from './devices.js';

export interface SessionSettings {
  readonly device: Device;
  readonly threads?: number;
  /** The GPU providers `auto` tries, best first, before the CPU; defaults to the platform's list. */
  readonly autoProviders?: readonly Exclude<Device, 'auto' | 'cpu'>[];
  /**
   * Diagnostics: a path prefix under which onnxruntime writes a kernel trace per session (`<prefix>-<graph>_<time>.json`,
   * once the session ends profiling or is released). For the bench's --profile, never for users.
   */
  readonly profilePrefix?: string;
}

/** The GPU providers worth trying first on each platform, best first (see the runtime notes). */
function autoCandidates(): Exclude<Device, 'auto' | 'cpu'>[] {
  const bundled = new Set(
    ort.listSupportedBackends?.().filter((b) => b.bundled).map((b) => b.name) ?? [],
  );
  // Linux: CUDA needs onnxruntime-node's optional download and WebGPU a Vulkan driver; both are opt-in there.
  const wanted: Exclude<Device, 'auto' | 'cpu'>[] =
    process.platform === 'win32' ? ['dml', 'webgpu'] : process.platform === 'darwin' ? ['coreml', 'webgpu'] : [];
  return wanted.filter((name) => bundled.has(name));
}

function sessionOptions(
  provider: Exclude<Device, 'auto'>,
  threads: number,
  extra: Partial<ort.InferenceSession.SessionOptions> = {},
): ort.InferenceSession.SessionOptions {
  // A variant may set its own optimisation level (a graph that onnxruntime already optimised opens with none).
  return {
    graphOptimizationLevel: 'all',
    ...extra,
    executionProviders: [provider],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    logSeverityLevel: 3,
  };
}

export interface LoadedSession {
  readonly session: ort.InferenceSession;
  readonly provider: Exclude<Device, 'auto'>;
}

/** What to open on a given provider: a graph (path or bytes) and any provider-specific session options. */
export interface GraphVariant {
  readonly model: string | Uint8Array;
  readonly options?: Partial<ort.InferenceSession.SessionOptions>;
}

async function create(variant: GraphVariant, provider: Exclude<Device, 'auto'>, threads: number, profile?: string): Promise<ort.InferenceSession> {
  const options = { ...sessionOptions(provider, threads, variant.options), ...(profile ? { enableProfiling: true, profileFilePrefix: profile } : {}) };
  return typeof variant.model === 'string'
    ? ort.InferenceSession.create(variant.model, options)
    : ort.InferenceSession.create(variant.model, options);
}

/**
 * onnxruntime's first line without its own framing: "Load model from /path/x.onnx failed:Protobuf parsing failed."
 * becomes "Protobuf parsing failed" (the caller names the file), so the sentence around it reads as one.
 */
function runtimeReason(error: unknown): string {
  return firstLine(error).replace(/^Load model from .* failed:\s*/, '').replace(/[.\s]+$/, '');
}

/**
 * Opens one graph. An explicit device that fails is an error naming it; `auto` tries the platform's GPU providers and
 * falls back to the CPU, keeping the reason so the stats can say why.
 */
export async function openSession(
  file: string,
  settings: SessionSettings,
  /** What to open per provider when it is not the file as it is (a rewritten graph); errors still name the file. */
  variantFor: (provider: Exclude<Device, 'auto'>) => GraphVariant = () => ({ model: file }),
): Promise<LoadedSession & { fallbackReason?: string }> {
  const threads = settings.threads ?? physicalCores();
  const label = path.join(path.basename(path.dirname(file)), path.basename(file));
  const gpus = settings.autoProviders ?? autoCandidates();
  const candidates = settings.device === 'auto' ? [...gpus, 'cpu' as const] : [settings.device];
  const failures: string[] = [];
  for (const provider of candidates) {
    try {
      const profile = settings.profilePrefix && `${settings.profilePrefix}-${path.basename(file, '.onnx')}`;
      const session = await create(variantFor(provider), provider, threads, profile || undefined);
      return failures.length ? { session, provider, fallbackReason: failures.join('; ') } : { session, provider };
    } catch (error) {
      const reason = runtimeReason(error);
      if (/protobuf|parse|invalid model|load model|external data|No such file/i.test(reason) || provider === 'cpu') {
        throw new ScreenAskError(
          `Cannot load ${label}: ${reason}. The file may be corrupt or incomplete: download the model again.`,
          { cause: error },
        );
      }
      if (settings.device !== 'auto') {
        throw new ScreenAskError(
          `The ${provider} execution provider could not run ${label}: ${reason}. Choose another device (cpu always works).`,
          { cause: error },
        );
      }
      failures.push(`${provider}: ${reason}`);
    }
  }
  throw new ScreenAskError(`No execution provider could open ${label}.`);
}
