// The harness's "screen": an image standing in for the display, with the same ScreenCapture behaviour the real
// capture has (PNG bytes, crop to a region, a small preview). Pixels stay decoded in memory so that crop and preview
// are synchronous, as they are on Electron's NativeImage.
import sharp from 'sharp';
import type { ScreenCapture } from '../electron/main/capture.js';
import type { CapturePreview } from '../electron/shared/ipc.js';
import { cropRgba, encodePng, scaleRgba, type RgbaImage } from './rgba.js';

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
    crop: (region) => captureOf(cropRgba(image, region), displayId),
    preview: (maxWidth) => preview(image, maxWidth),
  };
}

/** A thumbnail at most `maxWidth` wide, as a data URL. */
function preview(image: RgbaImage, maxWidth: number): CapturePreview {
  const scaled = scaleRgba(image, maxWidth);
  const png = encodePng(scaled);
  return { dataUrl: `data:image/png;base64,${Buffer.from(png).toString('base64')}`, width: scaled.width, height: scaled.height };
}
