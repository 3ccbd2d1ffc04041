import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type ort from 'onnxruntime-node';
import type { TextDims } from './config.js';
import type { GraphFiles } from './layout.js';
import { readDecoderSignature, type DecoderSignature } from '../runtime/decoder-signature.js';
import { rewriteDecoder } from '../runtime/onnx/decoder-rewrite.js';
import { fuseProjections } from '../runtime/onnx/projection-fusion.js';
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
}

const unchanged = (file: string, reason: string): PreparedDecoder => ({
  variant: { model: file },
  rewrites: { applied: [], skipped: [reason] },
});

/**
 * The rewritten decoder (see decoder-rewrite.ts), or the file as it is with the reason. The rewritten graph is opened
 * from memory: nothing is written, so a model folder (downloaded, imported, read-only) is only ever read. Weights in
 * external-data files are found through onnxruntime's folder option for graphs loaded from bytes; it refuses every
 * other way to point a graph elsewhere (absolute or `..` locations, symlinks out of the folder).
 */
async function prepareRewrite(file: string, dims: TextDims): Promise<PreparedDecoder> {
  let result;
  try {
    result = rewriteDecoder(await readFile(file), { layers: dims.layers, attentionHeads: dims.attentionHeads, kvHeads: dims.kvHeads });
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
  const applied = [
    ...(result.sharedKvBuffer ? ['shared-kv-buffer'] : []),
    ...(result.newKv ? ['new-kv-outputs'] : []),
    ...(result.cacheReadInPlace ? ['cache-read-in-place'] : []),
    ...(result.lastRowLogits ? ['last-row-logits'] : []),
    ...(fusion.groups > 0 ? ['fused-projections'] : []),
  ];
  const skipped = [...result.skipped, ...(fusion.skipped ? [`fused projections: ${fusion.skipped}`] : [])];
  const variant: GraphVariant = result.hasExternalData
    ? { model: fusion.model, options: { extra: { session: { model_external_initializers_file_folder_path: path.dirname(file) } } } }
    : { model: fusion.model };
  return { variant, ...(result.newKv ? { newKv: result.newKv } : {}), sharedKv: result.sharedKvBuffer, rewrites: { applied, skipped } };
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
async function openDecoder(file: string, settings: SessionSettings, dims: TextDims, rewrite: boolean): Promise<OpenedDecoder> {
  const prepared = rewrite ? await prepareRewrite(file, dims) : unchanged(file, 'turned off');
  const open = (cpuVariant: GraphVariant) =>
    openSession(file, settings, (provider) => (provider === 'webgpu' ? deviceKvVariant(file, dims.layers) : cpuVariant));
  let chosen = prepared;
  let opened;
  try {
    opened = await open(prepared.variant);
  } catch (error) {
    if (prepared.variant.model === file) throw error;
    chosen = unchanged(file, `the rewritten graph did not load (${(error as Error).message})`);
    opened = await open(chosen.variant);
  }
  if (opened.provider === 'webgpu') {
    return { ...opened, presentOnDevice: true, rewrites: { applied: [], skipped: ['WebGPU runs the stock graph with its cache on the device'] } };
  }
  return { ...opened, presentOnDevice: false, ...(chosen.newKv ? { newKv: chosen.newKv } : {}), sharedKv: chosen.sharedKv ?? false, rewrites: chosen.rewrites };
}

export async function openGraphs(
  files: GraphFiles,
  settings: SessionSettings,
  dims: TextDims,
  { rewriteDecoder = true } = {},
): Promise<ModelGraphs> {
  // The decoder decides the provider; the smaller graphs follow it so that one answer never mixes devices silently.
  const decoder = await openDecoder(files.decoder_model_merged, settings, dims, rewriteDecoder);
  try {
    const same = { ...settings, device: decoder.provider };
    const [vision, embed] = await Promise.all([openSession(files.vision_encoder, same), openTokenEmbedder(files.embed_tokens, same)]);
    return {
      vision: vision.session,
      embed,
      decoder: decoder.session,
      signature: readDecoderSignature(decoder.session, dims, decoder.newKv, decoder.presentOnDevice, decoder.sharedKv),
      hiddenSize: dims.hiddenSize,
      provider: decoder.provider,
      rewrites: decoder.rewrites,
      ...(decoder.fallbackReason ? { fallbackReason: decoder.fallbackReason } : {}),
    };
  } catch (error) {
    await decoder.session.release();
    throw error;
  }
}

export async function releaseGraphs(graphs: ModelGraphs): Promise<void> {
  await Promise.all([graphs.vision.release(), graphs.embed.release(), graphs.decoder.release()]);
}
