// The harness's "screen": an image standing in for the display, with the same ScreenCapture behaviour the real
// capture has (PNG bytes, crop to a region, a small preview). Pixels stay decoded in memory so that crop and preview
// are synchronous, as they are on Electron's NativeImage.
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import type { ScreenCapture } from '../electron/main/capture.js';
import type { CapturePreview, Rect } from '../electron/shared/ipc.js';

export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  /** width × height × 4 bytes, row-major. */
  readonly data: Uint8Array;
}

/** Decodes any image sharp reads (PNG, JPEG, WebP, GIF's first frame, SVG) into RGBA. */
export async function decodeImage(bytes: Uint8Array): Promise<RgbaImage> {
  const { data, info } = await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** A sample screen for `npm run dev:web`: a terminal with an error, which is what people ask about most. */
export function sampleScreenSvg(width = 1280, height = 720): string {
  const lines = [
    '$ npm run build',
    '> screenask@0.1.0 build',
    '> tsc -p tsconfig.json',
    '',
    "src/app.ts(42,7): error TS2322: Type 'string | undefined' is not assignable to type 'string'.",
    "  Type 'undefined' is not assignable to type 'string'.",
    '',
    'Found 1 error in src/app.ts:42',
  ];
  const text = lines
    .map((line, i) => `<text x="32" y="${96 + i * 30}" fill="${line.includes('error') ? '#ff6b6b' : '#d4d4d4'}">${escapeXml(line)}</text>`)
    .join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<rect width="100%" height="100%" fill="#1e1e1e"/><rect width="100%" height="40" fill="#333"/>` +
    `<text x="16" y="26" fill="#ccc" font-family="sans-serif" font-size="16">Terminal</text>` +
    `<g font-family="monospace" font-size="20" xml:space="preserve">${text}</g></svg>`
  );
}

const escapeXml = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

export function captureOf(image: RgbaImage, displayId = 1): ScreenCapture {
  // The harness's display has a scale factor of 1: DIPs are pixels.
  const bounds = { x: 0, y: 0, width: image.width, height: image.height };
  return {
    png: encodePng(image),
    width: image.width,
    height: image.height,
    displayId,
    displayBounds: bounds,
    displaySize: { width: image.width, height: image.height },
    crop: (region) => captureOf(crop(image, region), displayId),
    preview: (maxWidth) => preview(image, maxWidth),
  };
}

function crop(image: RgbaImage, region: Rect): RgbaImage {
  const x = Math.max(0, Math.min(image.width - 1, Math.round(region.x)));
  const y = Math.max(0, Math.min(image.height - 1, Math.round(region.y)));
  const width = Math.max(1, Math.min(image.width - x, Math.round(region.width)));
  const height = Math.max(1, Math.min(image.height - y, Math.round(region.height)));
  const data = new Uint8Array(width * height * 4);
  for (let row = 0; row < height; row++) {
    const from = ((y + row) * image.width + x) * 4;
    data.set(image.data.subarray(from, from + width * 4), row * width * 4);
  }
  return { width, height, data };
}

/** Box-filtered downscale to at most `maxWidth` wide (a thumbnail; quality matters less than not aliasing text). */
function preview(image: RgbaImage, maxWidth: number): CapturePreview {
  const scale = Math.min(1, maxWidth / image.width);
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const y0 = Math.floor(y / scale);
    const y1 = Math.max(y0 + 1, Math.min(image.height, Math.floor((y + 1) / scale)));
    for (let x = 0; x < width; x++) {
      const x0 = Math.floor(x / scale);
      const x1 = Math.max(x0 + 1, Math.min(image.width, Math.floor((x + 1) / scale)));
      const sum = [0, 0, 0, 0];
      for (let sy = y0; sy < y1; sy++) {
        for (let sx = x0; sx < x1; sx++) {
          const i = (sy * image.width + sx) * 4;
          for (let c = 0; c < 4; c++) sum[c]! += image.data[i + c]!;
        }
      }
      const n = (y1 - y0) * (x1 - x0);
      for (let c = 0; c < 4; c++) data[(y * width + x) * 4 + c] = Math.round(sum[c]! / n);
    }
  }
  const png = encodePng({ width, height, data });
  return { dataUrl: `data:image/png;base64,${Buffer.from(png).toString('base64')}`, width, height };
}

// A minimal PNG writer (RGBA, 8 bits, filter 0): enough for synchronous crops and previews of the harness screen.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, body: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, 'latin1');
  out.set(body, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + body.length)), 8 + body.length);
  return out;
}

export function encodePng({ width, height, data }: RgbaImage): Uint8Array {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA, deflate, no filter, no interlace
  const raw = Buffer.alloc(height * (width * 4 + 1));
  for (let y = 0; y < height; y++) raw.set(data.subarray(y * width * 4, (y + 1) * width * 4), y * (width * 4 + 1) + 1);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return new Uint8Array(Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array())]));
}
