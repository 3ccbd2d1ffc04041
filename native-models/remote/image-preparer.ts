// What the remote client needs to send a capture: a preparer that sizes it as the local engine would and encodes it
// as PNG. Injected (connectServer's `prepareImage`), because the work needs sharp: the CLI runs prepareServerImage
// (server-image.ts) in its own process, while Electron's main process, which must never load a native package, asks
// its model process to. This module is types and a base64 step only: it loads nothing native.
import type { ImageDetail } from '../families/family.js';
import type { RgbImage } from '../image/load-image.js';

/** A file path, encoded image bytes, or decoded pixels (as the local engine takes them, less its prepared form). */
export type ServerImageInput = string | Uint8Array | RgbImage;

/** The sized capture, PNG-encoded: what the model process sends back, and what the data URL is made of. */
export interface EncodedServerImage {
  readonly png: Uint8Array;
  readonly width: number;
  readonly height: number;
}

export interface ServerImage {
  /** `data:image/png;base64,…` */
  readonly url: string;
  readonly width: number;
  readonly height: number;
  /** Decoding, resizing and PNG encoding (wherever it ran), and building the data URL. */
  readonly ms: number;
}

/** Sizes an image for a server at a detail level (or to `maxPixels`) and encodes it; see prepareServerImage. */
export type ServerImagePreparer = (input: ServerImageInput, detail: ImageDetail, maxPixels?: number) => Promise<ServerImage>;

/** The data URL of an encoded image: one function for every preparer, so the bytes sent never depend on where it ran. */
export function serverImageOf({ png, width, height }: EncodedServerImage, started: number): ServerImage {
  const base64 = Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString('base64');
  return { url: `data:image/png;base64,${base64}`, width, height, ms: performance.now() - started };
}
