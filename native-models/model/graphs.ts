import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type ort from 'onnxruntime-node';
import type { TextDims } from './config.js';
import type { GraphFiles } from './layout.js';
import { readDecoderSignature, type DecoderSignature } from '../runtime/decoder-signature.js';
import { rewriteDecoder } from '../runtime/onnx/decoder-rewrite.js';
import { openSession, type Device, type LoadedSession, type SessionSettings } from '../runtime/session.js';

/** The three sessions of a loaded model and what the decoder declares. Owned by the loaded model, shared by answers. */
export interface ModelGraphs {
  readonly vision: ort.InferenceSession;
  readonly embed: ort.InferenceSession;
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
  readonly rewrites: ModelGraphs['rewrites'];
}

/**
 * Opens the decoder, rewritten (see decoder-rewrite.ts) unless `rewrite` is off. A graph with external weights must
 * be opened by path for the runtime to find them, so its (small) rewritten graph is written beside the original;
 * where that folder is read-only, the stock graph runs instead and the reason is kept.
 */
async function openDecoder(file: string, settings: SessionSettings, dims: TextDims, rewrite: boolean): Promise<OpenedDecoder> {
  if (!rewrite) return { ...(await openSession(file, settings)), rewrites: { applied: [], skipped: ['turned off'] } };
  let result;
  try {
    result = rewriteDecoder(await readFile(file), { layers: dims.layers, attentionHeads: dims.attentionHeads, kvHeads: dims.kvHeads });
  } catch (error) {
    // An unreadable graph: let the runtime open the original, which reports a damaged file in its own words.
    const reason = `cannot parse the graph (${(error as Error).message})`;
    return { ...(await openSession(file, settings)), rewrites: { applied: [], skipped: [reason] } };
  }
  const applied = [
    ...(result.newKv ? ['new-kv-outputs'] : []),
    ...(result.cacheReadInPlace ? ['cache-read-in-place'] : []),
    ...(result.lastRowLogits ? ['last-row-logits'] : []),
  ];
  let model: string | Uint8Array = result.model;
  if (result.hasExternalData && applied.length > 0) {
    const beside = path.join(path.dirname(file), `.screenask-${path.basename(file)}`);
    try {
      await writeFile(beside, result.model);
      model = beside;
    } catch (error) {
      const reason = `cannot write ${beside} (${(error as Error).message})`;
      return { ...(await openSession(file, settings)), rewrites: { applied: [], skipped: [reason] } };
    }
  }
  let opened;
  try {
    opened = await openSession(file, settings, model);
  } catch (error) {
    // Never let an optimisation stop a model from running: the stock graph is always a valid fallback.
    const reason = `the rewritten graph did not load (${(error as Error).message})`;
    return { ...(await openSession(file, settings)), rewrites: { applied: [], skipped: [reason] } };
  }
  return {
    ...opened,
    ...(result.newKv ? { newKv: result.newKv } : {}),
    rewrites: { applied, skipped: result.skipped },
  };
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
    const [vision, embed] = await Promise.all([openSession(files.vision_encoder, same), openSession(files.embed_tokens, same)]);
    return {
      vision: vision.session,
      embed: embed.session,
      decoder: decoder.session,
      signature: readDecoderSignature(decoder.session, dims, decoder.newKv),
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
