import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ImageDetail, PreparedImage } from '../families/family.js';
import type { RgbImage } from '../image/load-image.js';
import type { FloatData } from '../runtime/tensors.js';

/** An image as the decoder sees it: preprocessed, and encoded by the vision graph. */
export interface EncodedImage {
  readonly prepared: PreparedImage;
  readonly features: FloatData;
}

/**
 * Encoded images by content, least recently used first out, bounded in bytes. A new conversation on the same capture
 * (or the same file asked about again) skips preprocessing and the vision encoder.
 */
export class ImageFeatureCache {
  private readonly entries = new Map<string, EncodedImage>();
  private bytes = 0;

  constructor(private readonly maxBytes = 256 * 1024 * 1024) {}

  get(key: string): EncodedImage | undefined {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key); // re-insert: Map order is the recency order
      this.entries.set(key, hit);
    }
    return hit;
  }

  set(key: string, image: EncodedImage): void {
    if (this.entries.has(key)) return;
    this.entries.set(key, image);
    this.bytes += image.features.byteLength;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.maxBytes || oldest === key) break;
      this.entries.delete(oldest);
      this.bytes -= entry.features.byteLength;
    }
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}

/**
 * The cache key of an image source: a hash of its bytes (file contents, encoded bytes or pixels) and the detail
 * level. Undefined when the file cannot be read: loading it will then report the problem properly.
 */
export async function imageKey(source: string | Uint8Array | RgbImage, detail: ImageDetail): Promise<string | undefined> {
  const hash = createHash('sha256').update(detail);
  if (typeof source === 'string') {
    const bytes = await readFile(source).catch(() => undefined);
    if (!bytes) return undefined;
    hash.update('file').update(bytes);
  } else if (source instanceof Uint8Array) {
    hash.update('bytes').update(source);
  } else {
    hash.update(`rgb:${source.width}x${source.height}`).update(source.data);
  }
  return hash.digest('hex');
}
