/**
 * Deterministic synthetic RGB images in memory (no fonts, no RNG state shared between tests), for the preprocessing
 * tests: what a screenshot, a photo or noise looks like to a resizer. Their pixels are pinned by reference hashes
 * measured against the Python processors, so any change here changes those hashes.
 */
import type { RgbImage } from '../../native-models/image/load-image.js';

/** A 32-bit LCG in [0, 1): the same sequence for the same seed. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function blank(width: number, height: number, rgb: readonly number[]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i += 3) data.set(rgb, i);
  return { data, width, height };
}

export function fillRect(img: RgbImage, x0: number, y0: number, w: number, h: number, rgb: readonly number[]): void {
  for (let y = Math.max(0, y0); y < Math.min(img.height, y0 + h); y++) {
    for (let x = Math.max(0, x0); x < Math.min(img.width, x0 + w); x++) img.data.set(rgb, (y * img.width + x) * 3);
  }
}

/** Title bar, sidebar, cards, buttons, and lines of 1-px-stroke "glyphs": the hard edges text screenshots have. */
export function screenshot(width: number, height: number): RgbImage {
  const img = blank(width, height, [244, 244, 248]);
  const rand = prng(42);
  fillRect(img, 0, 0, width, 40, [43, 58, 103]);
  fillRect(img, 0, 40, 240, height - 40, [221, 227, 238]);
  for (let i = 0; i < 12; i++) fillRect(img, 16, 60 + i * 36, 200, 24, i % 3 === 0 ? [74, 144, 217] : [200, 208, 222]);
  fillRect(img, width - 420, 80, 360, 220, [255, 255, 255]);
  fillRect(img, width - 400, 240, 140, 40, [46, 160, 67]);
  for (let line = 0; line * 18 + 70 < height - 20; line++) {
    const y0 = 70 + line * 18;
    const end = 280 + Math.floor(rand() * (width - 760));
    for (let x0 = 280; x0 < end; x0 += 7) {
      if (rand() < 0.15) continue; // word gap
      for (let s = 0; s < 4; s++) {
        const vertical = rand() < 0.5;
        const sx = x0 + Math.floor(rand() * 5);
        const sy = y0 + Math.floor(rand() * 9);
        fillRect(img, vertical ? sx : x0, vertical ? y0 : sy, vertical ? 1 : 5, vertical ? 10 : 1, [17, 17, 17]);
      }
    }
  }
  return img;
}

/** Smooth gradients and a hard-edged disc, like a photo. */
export function photo(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  const cx = width * 0.6;
  const cy = height * 0.4;
  const r2 = (Math.min(width, height) * 0.25) ** 2;
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i += 3) {
      const inDisc = (x - cx) ** 2 + (y - cy) ** 2 < r2;
      data[i] = inDisc ? 230 : 128 + 100 * Math.sin(x / 37 + y / 53);
      data[i + 1] = inDisc ? 40 : 128 + 90 * Math.cos(x / 23 - y / 71);
      data[i + 2] = (255 * (x + y)) / (width + height);
    }
  }
  return { data, width, height };
}

export function noise(width: number, height: number, seed: number): RgbImage {
  const rand = prng(seed);
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(rand() * 256);
  return { data, width, height };
}

/** Every pixel different, with jumps between neighbours: exercises a resampler's taps and its clipping. */
export function resamplePattern(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = (x * 37 + y * 91 + c * 53 + x * y * 13) % 256;
    }
  }
  return { data, width, height };
}
