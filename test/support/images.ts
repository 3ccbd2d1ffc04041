import sharp from 'sharp';
import path from 'node:path';

/** Deterministic test images, written as PNG files: what a screenshot, a phone photo or an icon looks like to the preprocessor. */

export async function writeScreenshotLike(file: string, width = 1920, height = 1080): Promise<string> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const titleBar = y < 40;
      const sidebar = x < 260;
      // Text-like strokes: thin dark runs on light lines, as in an editor or a terminal.
      const textLine = y % 24 > 6 && y % 24 < 18 && (x * 7 + (y >> 3) * 13) % 23 < 11;
      const base = titleBar ? [45, 45, 60] : sidebar ? [230, 233, 240] : [252, 252, 250];
      const ink = textLine && !titleBar ? [30, 30, 30] : base;
      data[i] = ink[0]!;
      data[i + 1] = ink[1]!;
      data[i + 2] = (ink[2]! + ((x ^ y) & 7)) & 255;
    }
  }
  await sharp(data, { raw: { width, height, channels: 3 } }).png().toFile(file);
  return file;
}

export async function writeGradient(file: string, width: number, height: number): Promise<string> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = Math.round((255 * x) / Math.max(1, width - 1));
      data[i + 1] = Math.round((255 * y) / Math.max(1, height - 1));
      data[i + 2] = (x * 5 + y * 3) & 255;
    }
  }
  await sharp(data, { raw: { width, height, channels: 3 } }).png().toFile(file);
  return file;
}

export async function writeSolid(file: string, width: number, height: number, rgb: [number, number, number]): Promise<string> {
  await sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
    .png()
    .toFile(file);
  return file;
}

export function inDir(dir: string, name: string): string {
  return path.join(dir, name);
}
