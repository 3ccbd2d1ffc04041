import type ort from 'onnxruntime-node';
import type { TextDims } from './config.js';
import type { GraphFiles } from './layout.js';
import { readDecoderSignature, type DecoderSignature } from '../runtime/decoder-signature.js';
import { openSession, type Device, type SessionSettings } from '../runtime/session.js';

/** The three sessions of a loaded model and what the decoder declares. Owned by the loaded model, shared by answers. */
export interface ModelGraphs {
  readonly vision: ort.InferenceSession;
  readonly embed: ort.InferenceSession;
  readonly decoder: ort.InferenceSession;
  readonly signature: DecoderSignature;
  readonly hiddenSize: number;
  readonly provider: Exclude<Device, 'auto'>;
  readonly fallbackReason?: string;
}

export async function openGraphs(files: GraphFiles, settings: SessionSettings, dims: TextDims): Promise<ModelGraphs> {
  // The decoder decides the provider; the smaller graphs follow it so that one answer never mixes devices silently.
  const decoder = await openSession(files.decoder_model_merged, settings);
  try {
    const same = { ...settings, device: decoder.provider };
    const [vision, embed] = await Promise.all([openSession(files.vision_encoder, same), openSession(files.embed_tokens, same)]);
    return {
      vision: vision.session,
      embed: embed.session,
      decoder: decoder.session,
      signature: readDecoderSignature(decoder.session, dims),
      hiddenSize: dims.hiddenSize,
      provider: decoder.provider,
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
