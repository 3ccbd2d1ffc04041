#!/usr/bin/env node
// Draws the app icon (a speech bubble over a screen) as SVG and renders the PNGs committed under build/:
//   build/icon.png (512×512): electron-builder derives the .ico (Windows) and .icns (macOS) from it at packaging time
//   build/tray/tray-{16,32,64}.png: tray icons (16 for Windows/Linux, 32 for 2× screens, 64 for large panels)
// Run it again (`npm run icons`) only when the design changes; the outputs are committed so packaging needs no sharp.
import { Buffer } from 'node:buffer';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function svg(size, { detailed }) {
  // A 512-unit design; the tray version drops the small bubble dots, which blur into noise at 16 px.
  const dots = detailed
    ? '<circle cx="284" cy="290" r="18" fill="#1f6feb"/><circle cx="344" cy="290" r="18" fill="#1f6feb"/><circle cx="404" cy="290" r="18" fill="#1f6feb"/>'
    : '';
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 512 512">
  <rect x="32" y="64" width="448" height="300" rx="40" fill="#24292f"/>
  <rect x="64" y="96" width="384" height="236" rx="16" fill="#57606a"/>
  <rect x="200" y="364" width="112" height="56" fill="#24292f"/>
  <rect x="136" y="420" width="240" height="32" rx="16" fill="#24292f"/>
  <path d="M226 200 h236 a22 22 0 0 1 22 22 v136 a22 22 0 0 1 -22 22 h-150 l-60 50 v-50 h-30 a22 22 0 0 1 -22 -22 v-136 a22 22 0 0 1 22 -22 z" fill="#ffffff" stroke="#1f6feb" stroke-width="${detailed ? 8 : 20}"/>
  ${dots}
</svg>`);
}

async function render(size, file, detailed) {
  await mkdir(path.dirname(file), { recursive: true });
  await sharp(svg(size, { detailed })).resize(size, size).png({ compressionLevel: 9 }).toFile(file);
  process.stderr.write(`wrote ${path.relative(root, file)}\n`);
}

await render(512, path.join(root, 'build', 'icon.png'), true);
for (const size of [16, 32, 64]) await render(size, path.join(root, 'build', 'tray', `tray-${size}.png`), false);
