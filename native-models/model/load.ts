import { textDims, readModelConfigs, type ModelConfigs } from './config.js';
import { openGraphs, releaseGraphs, type ModelGraphs } from './graphs.js';
import { listPrecisions, resolveModelFiles, type Precision } from './layout.js';
import { ScreenAskError } from './errors.js';
import { warmUpVision } from './warm-up.js';
import { createFamily } from '../families/registry.js';
import type { ImagePixelBudget, ModelFamily } from '../families/family.js';
import type { Device } from '../runtime/session.js';
import { ImageFeatureCache } from '../conversation/image-cache.js';
import { loadTokenizer, type TextTokenizer } from '../text/tokenizer.js';

/** One 28×28 block: the smallest image a pixel budget can leave (one image token for Qwen2-VL). */
const MIN_IMAGE_PIXELS = 28 * 28;

export interface LoadOptions {
  /** A precision the directory holds, or `auto` to pick the best one present for the device. */
  readonly precision?: Precision | 'auto';
  readonly device?: Device;
  /** Intra-op threads; defaults to the physical core count. */
  readonly threads?: number;
  /**
   * Rewrite the decoder at load time so it returns only new K/V and last-row logits (on by default; the arithmetic is
   * the stock graph's). Off runs the export exactly as shipped, for comparison.
   */
  readonly rewriteDecoder?: boolean;
  /**
   * Most pixels an image keeps per detail level, for families that resize to a budget (Qwen2-VL: the default is about
   * 0.4 MP at low and 1.6 MP at high detail, far below the exports' 12.8 MP, which a screenshot never needs).
   */
  readonly imagePixels?: ImagePixelBudget;
  /** The GPU providers `device: 'auto'` tries, best first, before falling back to the CPU (default: per platform). */
  readonly autoProviders?: readonly Exclude<Device, 'auto' | 'cpu'>[];
  /** Run the vision encoder once on a blank image after the load, in the background, so the first capture is not slower (default: on). */
  readonly warmUp?: boolean;
  /**
   * The app's cache folder (never the model's): the rewritten, optimised decoder is kept there, keyed by the source
   * graph's size and hash, so later loads skip the rewrite and onnxruntime's optimisation. Without it, every load
   * rewrites.
   */
  readonly cacheDir?: string;
  /** Diagnostics (the bench's --profile): onnxruntime kernel traces under this path prefix; see SessionSettings. */
  readonly profilePrefix?: string;
}

/** A model ready to answer: sessions, tokenizer and family. Immutable once loaded; answers keep their own state. */
export interface LoadedModel {
  readonly dir: string;
  readonly precision: Precision;
  readonly precisions: readonly Precision[];
  readonly configs: ModelConfigs;
  readonly tokenizer: TextTokenizer;
  readonly family: ModelFamily;
  readonly graphs: ModelGraphs;
  /** Longest sequence the model was trained for (prompt + answer), when its config says. */
  readonly maxContext: number | undefined;
  /** Encoded images by content, shared by this model's conversations. */
  readonly imageCache: ImageFeatureCache;
  /** Things the user should know about how the model was loaded (e.g. a device fallback). */
  readonly warnings: readonly string[];
  /** Set once the sessions are released. */
  readonly state: { closed: boolean };
  /**
   * The vision warm-up, started at load and left to finish in the background (it never rejects): a user needs a
   * capture and a question before the vision graph is wanted, so the load does not wait for it. Closing waits for it.
   */
  readonly warmUp: Promise<void>;
}

// CPUs run integer kernels fastest (see the runtime notes); GPUs want half precision.
const cpuPreference: Precision[] = ['q8', 'q4', 'int8', 'uint8', 'fp32', 'q4f16', 'fp16', 'bnb4'];
const gpuPreference: Precision[] = ['q4f16', 'fp16', 'q4', 'fp32', 'q8', 'int8', 'uint8', 'bnb4'];

export function pickPrecision(available: readonly Precision[], device: Device): Precision | undefined {
  const order = device === 'cpu' || device === 'auto' ? cpuPreference : gpuPreference;
  return order.find((p) => available.includes(p));
}

export async function openModel(dir: string, options: LoadOptions = {}): Promise<LoadedModel> {
  const device = options.device ?? 'cpu';
  const available = await listPrecisions(dir);
  const precision =
    options.precision === undefined || options.precision === 'auto'
      ? (pickPrecision(available, device) ?? 'fp32')
      : options.precision;
  const files = await resolveModelFiles(dir, precision);
  if (options.threads !== undefined && (!Number.isInteger(options.threads) || options.threads < 1 || options.threads > 256)) {
    throw new ScreenAskError(`Invalid setting threads: must be a whole number from 1 to 256 (got ${options.threads}).`);
  }
  for (const [detail, pixels] of Object.entries(options.imagePixels ?? {})) {
    if (!Number.isInteger(pixels) || pixels < MIN_IMAGE_PIXELS) {
      throw new ScreenAskError(`Invalid setting imagePixels.${detail}: a whole number of pixels, at least ${MIN_IMAGE_PIXELS} (got ${pixels}).`);
    }
  }
  const configs = await readModelConfigs(dir);
  const tokenizer = await loadTokenizer(dir);
  const family = await createFamily({ dir, configs, tokenizer, ...(options.imagePixels ? { imagePixels: options.imagePixels } : {}) });
  const dims = textDims(configs.config);
  const graphs = await openGraphs(
    files,
    {
      device,
      ...(options.threads ? { threads: options.threads } : {}),
      ...(options.autoProviders ? { autoProviders: options.autoProviders } : {}),
      ...(options.profilePrefix ? { profilePrefix: options.profilePrefix } : {}),
    },
    dims,
    { rewriteDecoder: options.rewriteDecoder ?? true, ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}) },
  );
  // An optimisation only: a failure here shows up, with its own words, on the first real image.
  const warmUp = options.warmUp ?? true ? warmUpVision(family, graphs).catch(() => undefined) : Promise.resolve();
  const warnings = graphs.fallbackReason
    ? [`No GPU execution provider could run this model (${graphs.fallbackReason}); running on the CPU.`]
    : [];
  return {
    dir,
    precision,
    precisions: available,
    configs,
    tokenizer,
    family,
    graphs,
    maxContext: dims.maxContext,
    imageCache: new ImageFeatureCache(),
    warnings,
    state: { closed: false },
    warmUp,
  };
}

export async function closeModel(model: LoadedModel): Promise<void> {
  if (model.state.closed) return;
  model.state.closed = true;
  model.imageCache.clear();
  // A session must not be released under a running call.
  await model.warmUp;
  await releaseGraphs(model.graphs);
}
