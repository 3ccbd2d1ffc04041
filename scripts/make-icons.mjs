#!/usr/bin/env node
// Draws the app icon (a speech bubble over a screen) as SVG and renders the files committed under build/:
//   build/icon.png (512×512): Linux, and the web page's icon
//   build/icon.icns, build/icon.ico: macOS and Windows. electron-builder would derive them from icon.png, but for
//     macOS that means downloading a converter at packaging time (it fails offline); these are PNGs in the containers
//   build/tray/tray-{16,32,64}.png: tray icons (16 for Windows/Linux, 32 for 2× screens, 64 for large panels)
// Run it again (`npm run icons`) only when the design changes; the outputs are committed so packaging needs no sharp.
import { Buffer } from 'node:buffer';
import { mkdir, writeFile } from 'node:fs/promises';
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

const png = (size, detailed) => sharp(svg(size, { detailed })).resize(size, size).png({ compressionLevel: 9 }).toBuffer();

async function write(file, bytes) {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, bytes);
  process.stderr.write(`wrote ${path.relative(root, file)}\n`);
}

/** Apple's icon container with PNG entries: 'icns', the total length, then (type, length, PNG) per size. */
async function icns() {
  const types = [['ic07', 128], ['ic08', 256], ['ic09', 512], ['ic10', 1024], ['ic11', 32], ['ic12', 64], ['ic13', 256], ['ic14', 512]];
  const entries = await Promise.all(types.map(async ([type, size]) => {
    const data = await png(size, size >= 64);
    const header = Buffer.alloc(8);
    header.write(type, 0, 'latin1');
    header.writeUInt32BE(8 + data.length, 4);
    return Buffer.concat([header, data]);
  }));
  const body = Buffer.concat(entries);
  const header = Buffer.alloc(8);
  header.write('icns', 0, 'latin1');
  header.writeUInt32BE(8 + body.length, 4);
  return Buffer.concat([header, body]);
}

/** Windows' icon container with PNG entries (Vista and later read them): ICONDIR, one ICONDIRENTRY per size, PNGs. */
async function ico() {
  const sizes = [16, 24, 32, 48, 64, 128, 256];
  const images = await Promise.all(sizes.map((size) => png(size, size >= 64)));
  const dir = Buffer.alloc(6 + 16 * sizes.length);
  dir.writeUInt16LE(0, 0);
  dir.writeUInt16LE(1, 2);
  dir.writeUInt16LE(sizes.length, 4);
  let offset = dir.length;
  sizes.forEach((size, i) => {
    const at = 6 + 16 * i;
    dir.writeUInt8(size >= 256 ? 0 : size, at);
    dir.writeUInt8(size >= 256 ? 0 : size, at + 1);
    dir.writeUInt16LE(1, at + 4);
    dir.writeUInt16LE(32, at + 6);
    dir.writeUInt32LE(images[i].length, at + 8);
    dir.writeUInt32LE(offset, at + 12);
    offset += images[i].length;
  });
  return Buffer.concat([dir, ...images]);
}

await write(path.join(root, 'build', 'icon.png'), await png(512, true));
await write(path.join(root, 'build', 'icon.icns'), await icns());
await write(path.join(root, 'build', 'icon.ico'), await ico());
for (const size of [16, 32, 64]) await write(path.join(root, 'build', 'tray', `tray-${size}.png`), await png(size, false));
