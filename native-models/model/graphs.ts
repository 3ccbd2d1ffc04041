import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type ort from 'onnxruntime-node';
import type { TextDims } from './config.js';
import type { GraphFiles } from './layout.js';
import { readDecoderSignature, type DecoderSignature } from '../runtime/decoder-signature.js';
import { rewriteDecoder } from '../runtime/onnx/decoder-rewrite.js';
import { fuseProjections } from '../runtime/onnx/projection-fusion.js';
import { fuseRmsNorms } from '../runtime/onnx/rms-norm-fusion.js';
import { rewriteCacheEntry, type RewriteCacheEntry } from './rewrite-cache.js';
import { openTokenEmbedder, type TokenEmbedder } from './token-embedder.js';
import { openSession, type Device, type GraphVariant, type LoadedSession, type SessionSettings } from '../runtime/session.js';

/** The three sessions of a loaded model and what the decoder declares. Owned by the loaded model, shared by answers. */
export interface ModelGraphs {
  readonly vision: ort.InferenceSession;
  /** Token ids → embedding rows: a table read at load, or the embed_tokens graph (see token-embedder.ts). */
  readonly embed: TokenEmbedder;
  readonly decoder: ort.InferenceSession;
  readonly signature: DecoderSignature;
  readonly hiddenSize: number;
  readonly provider: Exclude<Device, 'auto'>;
  readonly fallbackReason?: string;
  /** Load-time decoder rewrites that were applied, and those skipped with their reason. */
  readonly rewrites: { readonly applied: readonly string[]; readonly skipped: readonly string[] };
}

interface OpenedDecoder extends LoadedSession {
  readonly fallbackReason?: string;
  readonly newKv?: readonly { key: string; value: string }[];
  readonly sharedKv?: boolean;
  readonly presentOnDevice: boolean;
  readonly rewrites: ModelGraphs['rewrites'];
}

interface PreparedDecoder {
  readonly variant: GraphVariant;
  readonly newKv?: readonly { key: string; value: string }[];
  /** The cache is shared with the graph's GroupQueryAttention (see runtime/onnx/shared-kv-buffer.ts). */
  readonly sharedKv?: boolean;
  readonly rewrites: ModelGraphs['rewrites'];
  /** Keeps the optimised graph in the cache once it opened (a cache miss). */
  readonly store?: () => Promise<void>;
  /** Forgets the kept graph this came from (a cache hit that did not open): the next load rewrites again. */
  readonly discard?: () => Promise<void>;
}

const unchanged = (file: string, reason: string): PreparedDecoder => ({
  variant: { model: file },
  rewrites: { applied: [], skipped: [reason] },
});

const rewriteOptions = (dims: TextDims) => ({ layers: dims.layers, attentionHeads: dims.attentionHeads, kvHeads: dims.kvHeads });

/** The rewrite and fusion a previous load kept in `cacheDir`, opened as onnxruntime optimised it. */
async function cachedRewrite(bytes: Uint8Array, dims: TextDims, cacheDir: string | undefined): Promise<{ hit?: PreparedDecoder; entry?: RewriteCacheEntry }> {
  if (!cacheDir) return {};
  try {
    const entry = await rewriteCacheEntry(cacheDir, bytes, rewriteOptions(dims));
    const { rewrite } = entry;
    if (!rewrite || !(await stat(entry.model).catch(() => undefined))) return { entry };
    return {
      hit: {
        variant: { model: entry.model, options: { graphOptimizationLevel: 'disabled' } },
        ...(rewrite.newKv ? { newKv: rewrite.newKv } : {}),
        sharedKv: rewrite.sharedKv ?? false,
        rewrites: { applied: rewrite.applied, skipped: rewrite.skipped },
        discard: () => entry.discard(),
      },
    };
  } catch {
    return {}; // an unusable cache folder: rewrite as if there were none
  }
}

/**
 * The rewritten decoder (see decoder-rewrite.ts and projection-fusion.ts), or the file as it is with the reason. The
 * rewritten graph is opened from memory: nothing is written beside it, so a model folder (downloaded, imported,
 * read-only) is only ever read. Weights in external-data files are found through onnxruntime's folder option for
 * graphs loaded from bytes; it refuses every other way to point a graph elsewhere (absolute or `..` locations, symlinks
 * out of the folder). With a cache folder, a graph without external data is kept there once optimised (rewrite-cache.ts).
 */
async function prepareRewrite(file: string, dims: TextDims, cacheDir: string | undefined): Promise<PreparedDecoder> {
  let result;
  let cached: Awaited<ReturnType<typeof cachedRewrite>>;
  try {
    const bytes = await readFile(file);
    cached = await cachedRewrite(bytes, dims, cacheDir);
    if (cached.hit) return cached.hit;
    result = rewriteDecoder(bytes, rewriteOptions(dims));
  } catch (error) {
    // An unreadable graph: let the runtime open the original, which reports a damaged file in its own words.
    return unchanged(file, `cannot parse the graph (${(error as Error).message})`);
  }
  let fusion;
  try {
    fusion = fuseProjections(result.model, path.dirname(file));
  } catch (error) {
    fusion = { model: result.model, groups: 0, skipped: `cannot read the weights (${(error as Error).message})` };
  }
  const norms = fuseRmsNorms(fusion.model, path.dirname(file));
  const applied = [
    ...(result.sharedKvBuffer ? ['shared-kv-buffer'] : []),
    ...(result.newKv ? ['new-kv-outputs'] : []),
    ...(result.cacheReadInPlace ? ['cache-read-in-place'] : []),
    ...(result.lastRowLogits ? ['last-row-logits'] : []),
    ...(fusion.groups > 0 ? ['fused-projections'] : []),
    ...(norms.norms > 0 ? ['fused-rms-norms'] : []),
  ];
  const skipped = [
    ...result.skipped,
    ...(fusion.skipped ? [`fused projections: ${fusion.skipped}`] : []),
    ...(norms.skipped ? [`fused RMSNorms: ${norms.skipped}`] : []),
  ];
  // Only a graph that holds its own weights is kept: onnxruntime would inline external ones into the optimised copy.
  const entry = result.hasExternalData ? undefined : cached.entry;
  const variant: GraphVariant = result.hasExternalData
    ? { model: norms.model, options: { extra: { session: { model_external_initializers_file_folder_path: path.dirname(file) } } } }
    : { model: norms.model, ...(entry ? { options: { optimizedModelFilePath: entry.pending } } : {}) };
  const newKv = result.newKv ? { newKv: result.newKv } : {};
  const sharedKv = result.sharedKvBuffer;
  return {
    variant,
    ...newKv,
    sharedKv,
    rewrites: { applied, skipped },
    ...(entry ? { store: () => entry.store({ ...newKv, sharedKv, applied, skipped }) } : {}),
  };
}

/**
 * WebGPU can keep outputs in GPU memory: the stock graph's present.* stay there and go back in as past_key_values.*
 * without a round trip through JavaScript (see DeviceKvCache). Only the logits come to the CPU.
 */
export function deviceKvVariant(file: string, layers: number): GraphVariant {
  const onDevice: Record<string, 'gpu-buffer' | 'cpu'> = { logits: 'cpu' };
  for (let i = 0; i < layers; i++) onDevice[`present.${i}.key`] = onDevice[`present.${i}.value`] = 'gpu-buffer';
  return { model: file, options: { preferredOutputLocation: onDevice } };
}

/**
 * Opens the decoder. On the CPU (and providers that hand outputs back to the CPU) the rewritten graph runs, with its
 * host-owned cache; on WebGPU, the stock graph with its cache on the device. A rewritten graph that fails to load
 * falls back to the stock one: an optimisation never stops a model from running.
 */
async function openDecoder(file: string, settings: SessionSettings, dims: TextDims, rewrite: boolean, cacheDir?: string): Promise<OpenedDecoder> {
  const prepared = rewrite ? await prepareRewrite(file, dims, cacheDir) : unchanged(file, 'turned off');
  const open = (cpuVariant: GraphVariant) =>
    openSession(file, settings, (provider) => (provider === 'webgpu' ? deviceKvVariant(file, dims.layers) : cpuVariant));
  let chosen = prepared;
  let opened;
  try {
    opened = await open(prepared.variant);
  } catch (error) {
    if (prepared.variant.model === file) throw error;
    // A damaged kept graph (a disk that filled up, a crash while onnxruntime wrote it) must not cost every later load
    // its speed: drop it, and this load runs the stock graph as for any rewrite that does not open.
    await prepared.discard?.().catch(() => undefined);
    chosen = unchanged(file, `the rewritten graph did not load (${(error as Error).message})`);
    opened = await open(chosen.variant);
  }
  if (chosen === prepared && opened.provider !== 'webgpu') await prepared.store?.();
  if (opened.provider === 'webgpu') {
    return { ...opened, presentOnDevice: true, rewrites: { applied: [], skipped: ['WebGPU runs the stock graph with its cache on the device'] } };
  }
  return { ...opened, presentOnDevice: false, ...(chosen.newKv ? { newKv: chosen.newKv } : {}), sharedKv: chosen.sharedKv ?? false, rewrites: chosen.rewrites };
}

export async function openGraphs(
  files: GraphFiles,
  settings: SessionSettings,
  dims: TextDims,
  { rewriteDecoder = true, cacheDir }: { rewriteDecoder?: boolean; cacheDir?: string } = {},
): Promise<ModelGraphs> {
  // With `auto`, the decoder decides the provider and the smaller graphs follow it, so that one answer never mixes
  // devices silently. A named device is known already: the three open at once (creating a session is mostly one
  // thread's work, and the decoder's is the longest).
  const decoderOpening = openDecoder(files.decoder_model_merged, settings, dims, rewriteDecoder, cacheDir);
  const device = settings.device === 'auto' ? (await decoderOpening.catch(() => undefined))?.provider : settings.device;
  const same = { ...settings, ...(device ? { device } : {}) };
  const [decoder, vision, embed] = await Promise.allSettled([
    decoderOpening,
    device ? openSession(files.vision_encoder, same) : Promise.reject(new Error('no decoder')),
    device ? openTokenEmbedder(files.embed_tokens, same) : Promise.reject(new Error('no decoder')),
  ] as const);
  if (decoder.status === 'rejected' || vision.status === 'rejected' || embed.status === 'rejected') {
    await Promise.all([
      decoder.status === 'fulfilled' && decoder.value.session.release(),
      vision.status === 'fulfilled' && vision.value.session.release(),
      embed.status === 'fulfilled' && embed.value.release(),
    ]);
    throw [decoder, vision, embed].find((r) => r.status === 'rejected')!.reason;
  }
  const opened = decoder.value;
  const graphs = { vision: vision.value.session, embed: embed.value, decoder: opened.session };
  try {
    return {
      ...graphs,
      signature: readDecoderSignature(opened.session, dims, opened.newKv, opened.presentOnDevice, opened.sharedKv),
      hiddenSize: dims.hiddenSize,
      provider: opened.provider,
      rewrites: opened.rewrites,
      ...(opened.fallbackReason ? { fallbackReason: opened.fallbackReason } : {}),
    };
  } catch (error) {
    await releaseGraphs(graphs);
    throw error;
  }
}

export async function releaseGraphs(graphs: Pick<ModelGraphs, 'vision' | 'embed' | 'decoder'>): Promise<void> {
  await Promise.all([graphs.vision.release(), graphs.embed.release(), graphs.decoder.release()]);
}
