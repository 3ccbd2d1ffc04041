import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { Idefics3ImageProcessor, RawImage } from '@huggingface/transformers';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  idefics3Layout,
  parseIdefics3PreprocessorConfig,
  preprocessIdefics3,
  type Idefics3ImageInput,
  type Idefics3PreprocessorConfig,
} from '../native-models/families/smolvlm/preprocess.js';
import { loadImage, type RgbImage } from '../native-models/image/load-image.js';
import { ScreenAskError } from '../native-models/model/errors.js';
import { resizeLikePillow, type PillowFilter } from '../native-models/image/resize.js';
import { idefics3PreprocessorConfig } from './fixtures/smolvlm/json-files.js';
import { absDiff, sha256Hex } from './support/float-compare.js';
import { blank, fillRect, noise, photo, prng, resamplePattern, screenshot } from './support/synthetic-images.js';

/** HuggingFaceTB/SmolVLM-256M-Instruct's preprocessor_config.json. */
const SMOLVLM_CONFIG = idefics3PreprocessorConfig(512);

// ---------------------------------------------------------------------------------------------------------------
// Reference runs and comparisons

interface Reference {
  pixelValues: Float32Array;
  dims: number[];
  mask: ArrayLike<number | boolean>;
  maskDims: number[];
  rows: number;
  cols: number;
  resized: [number, number];
}

async function runReference(
  processor: Idefics3ImageProcessor,
  img: RgbImage,
  doImageSplitting: boolean,
): Promise<Reference> {
  const raw = new RawImage(new Uint8ClampedArray(img.data), img.width, img.height, 3);
  // transformers.js types `_call`'s result loosely; pick out what we compare.
  const out = (await processor(raw, { do_image_splitting: doImageSplitting, return_row_col_info: true })) as {
    pixel_values: { data: Float32Array; dims: number[] };
    pixel_attention_mask: { data: ArrayLike<number | boolean>; dims: number[] };
    rows: number[][];
    cols: number[][];
    reshaped_input_sizes: [number, number][];
  };
  return {
    pixelValues: out.pixel_values.data,
    dims: out.pixel_values.dims,
    mask: out.pixel_attention_mask.data,
    maskDims: out.pixel_attention_mask.dims,
    rows: out.rows[0]![0]!,
    cols: out.cols[0]![0]!,
    resized: out.reshaped_input_sizes[0]!,
  };
}

function expectSameStructure(ours: Idefics3ImageInput, ref: Reference): void {
  const S = ours.frameSize;
  expect(ref.dims).toEqual([1, ours.frames, 3, S, S]);
  expect(ours.pixelValues.length).toBe(ours.frames * 3 * S * S);
  expect([ours.rows, ours.cols]).toEqual([ref.rows, ref.cols]);
  expect(ours.frames).toBe(ours.rows === 0 ? 1 : ours.rows * ours.cols + 1);
  expect(ref.maskDims).toEqual([1, ours.frames, S, S]);
  expect(ours.pixelAttentionMask.length).toBe(ref.mask.length);
  for (let i = 0; i < ref.mask.length; i++) {
    if (ours.pixelAttentionMask[i] !== Number(ref.mask[i])) throw new Error(`mask differs at ${i}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------

const config = parseIdefics3PreprocessorConfig(SMOLVLM_CONFIG);
const reference = new Idefics3ImageProcessor(SMOLVLM_CONFIG);

/*
 * Tolerances against transformers.js, in normalised units ([-1, 1]; one 8-bit step is 0.0078).
 * We resize like Python (Pillow LANCZOS on uint8 at every step); transformers.js enlarges with sharp (a bicubic
 * interpolator on a grid shifted by half an output pixel) and does every later resize bilinearly without
 * antialiasing, so the two differ most on 1-px strokes and hard edges, and on noise. Measured on these images
 * (mean / max |Δ|, high and low detail): screenshot 0.065 / 1.67 and 0.059 / 1.39; photos 0.0047 / 0.91 (the disc's
 * edge); tiny noise 0.058 / 0.43. For scale, against a Pillow run of the Python processor's steps on the same
 * images we are within 0.0065 / 0.24 and transformers.js within the same 0.065 / 1.67 as above.
 * Bounds leave ~1.3× headroom for other libvips builds; `wide` bounds the share of values more than 0.25 apart.
 */
const TOLERANCE = {
  screenshot: { mean: 0.085, max: 1.9, wide: 0.12 },
  photo: { mean: 0.008, max: 1.1, wide: 0.002 },
  tinyNoise: { mean: 0.075, max: 0.6, wide: 0.05 },
};

describe('preprocessIdefics3 against transformers.js Idefics3ImageProcessor', () => {
  type Tolerance = (typeof TOLERANCE)[keyof typeof TOLERANCE];
  // frames: [high, low]; e.g. 1920×1080 → 2048×1152 → 2048×1536 = 3 × 4 tiles + global.
  const cases: { name: string; image: () => RgbImage; tol: Tolerance; frames: [number, number] }[] = [
    { name: 'screenshot 1920×1080', image: () => screenshot(1920, 1080), tol: TOLERANCE.screenshot, frames: [13, 1] },
    { name: 'portrait photo 600×1400', image: () => photo(600, 1400), tol: TOLERANCE.photo, frames: [9, 1] },
    { name: 'tiny 20×12 (upscaled)', image: () => noise(20, 12, 7), tol: TOLERANCE.tinyNoise, frames: [13, 1] },
    { name: 'wide photo 1280×640', image: () => photo(1280, 640), tol: TOLERANCE.photo, frames: [9, 1] },
  ];

  for (const { name, image, tol, frames } of cases) {
    for (const detail of ['high', 'low'] as const) {
      it(`${name}, ${detail} detail: same frames, rows/cols, shapes, mask; pixels within tolerance`, async () => {
        const img = image();
        const ours = await preprocessIdefics3(img, config, detail);
        const ref = await runReference(reference, img, detail === 'high');
        expect(ours.frames).toBe(detail === 'high' ? frames[0] : frames[1]);
        expectSameStructure(ours, ref);
        const { mean, max, wide } = absDiff(ours.pixelValues, ref.pixelValues);
        const stats = `mean ${mean.toFixed(4)} max ${max.toFixed(3)} >0.25 ${wide.toFixed(4)}`;
        console.log(`${name}, ${detail}: |Δ| from transformers.js ${stats}`);
        expect(mean).toBeLessThan(tol.mean);
        expect(max).toBeLessThan(tol.max);
        expect(wide).toBeLessThan(tol.wide);
      });
    }
  }

  it('1280×640 gives 9 frames: 2 rows × 4 cols + global (the documented example)', async () => {
    const ours = await preprocessIdefics3(photo(1280, 640), config, 'high');
    expect([ours.frames, ours.rows, ours.cols, ours.frameSize]).toEqual([9, 2, 4, 512]);
  });

  for (const [w, h, rgb] of [
    [333, 777, [12, 200, 99]],
    [1280, 640, [0, 255, 128]],
    [64, 48, [255, 255, 255]],
    [700, 300, [1, 2, 254]],
  ] as const) {
    it(`solid colour ${w}×${h} rgb(${rgb.join(',')}) matches to float rounding, split and unsplit`, async () => {
      const img = blank(w, h, rgb);
      for (const detail of ['high', 'low'] as const) {
        const ours = await preprocessIdefics3(img, config, detail);
        const ref = await runReference(reference, img, detail === 'high');
        expectSameStructure(ours, ref);
        // transformers.js interpolates normalised floats, which can move a constant by 1 ulp; we never do.
        expect(absDiff(ours.pixelValues, ref.pixelValues).max).toBeLessThanOrEqual(1e-6);
        // Our values are exactly the normalised colour, computed as both references round it.
        const plane = ours.frameSize ** 2;
        for (let c = 0; c < 3; c++) {
          expect(ours.pixelValues[c * plane]).toBe(Math.fround((Math.fround(rgb[c]! * (1 / 255)) - 0.5) / 0.5));
        }
      }
    });
  }

  it('tiles are row-major and the global frame comes last', async () => {
    // 1024×512 → 2048×1024: each 256² block of the input becomes one 512² tile.
    const colours = [
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
      [255, 255, 0],
      [0, 255, 255],
      [255, 0, 255],
      [128, 128, 128],
      [0, 0, 0],
    ];
    const img = blank(1024, 512, [0, 0, 0]);
    colours.forEach((rgb, k) => fillRect(img, (k % 4) * 256, Math.floor(k / 4) * 256, 256, 256, rgb));
    const ours = await preprocessIdefics3(img, config, 'high');
    expect([ours.frames, ours.rows, ours.cols]).toEqual([9, 2, 4]);
    const S = ours.frameSize;
    const at = (frame: number, c: number, y: number, x: number) =>
      ours.pixelValues[((frame * 3 + c) * S + y) * S + x]!;
    colours.forEach((rgb, k) => {
      for (let c = 0; c < 3; c++) expect(at(k, c, 256, 256)).toBeCloseTo(rgb[c]! / 127.5 - 1, 5);
    });
    // The global frame squeezes 1024×512 into 512×512: block k's centre lands at (64 + 128·col, 128 + 256·row).
    colours.forEach((rgb, k) => {
      for (let c = 0; c < 3; c++) {
        expect(at(8, c, 128 + 256 * Math.floor(k / 4), 64 + 128 * (k % 4))).toBeCloseTo(rgb[c]! / 127.5 - 1, 5);
      }
    });
  });

  it('config with do_image_splitting false makes high detail one frame too', async () => {
    const unsplit = parseIdefics3PreprocessorConfig({ ...SMOLVLM_CONFIG, do_image_splitting: false });
    const img = photo(1280, 640);
    const [high, low] = await Promise.all([
      preprocessIdefics3(img, unsplit, 'high'),
      preprocessIdefics3(img, config, 'low'),
    ]);
    expect([high.frames, high.rows, high.cols]).toEqual([1, 0, 0]);
    expect(absDiff(high.pixelValues, low.pixelValues).max).toBe(0);
  });

  it('known geometry divergence: 1026×770 follows Python (3×4 tiles), transformers.js makes 4×4', async () => {
    // Python: int(2048 / (1026/770)) = 1536 → 2048×1536 → 3 rows.
    // transformers.js: floor(toFixed(770·2048/1026, 2)) = 1537 → snaps to 2048×2048 → 4 rows.
    // The prompt is built from our rows/cols, so tokens and frames stay consistent either way.
    const img = photo(1026, 770);
    const ours = await preprocessIdefics3(img, config, 'high');
    expect([ours.frames, ours.rows, ours.cols]).toEqual([13, 3, 4]);
    const ref = await runReference(reference, img, true);
    expect([ref.dims[1], ref.rows, ref.cols, ref.resized]).toEqual([17, 4, 4, [1537, 2048]]);
  });

  it('rejects an RgbImage whose buffer does not match its size', async () => {
    await expect(preprocessIdefics3({ data: new Uint8Array(10), width: 2, height: 2 }, config, 'low')).rejects.toThrow(
      /expected 2×2 RGB pixels, got 10 bytes/,
    );
  });
});

describe('idefics3Layout geometry sweep against transformers.js (scaled-down sizes, same arithmetic)', () => {
  // 2048/512 scaled by 1/32, as in text.test.ts, so the reference runs in milliseconds per image.
  const small = { ...SMOLVLM_CONFIG, size: { longest_edge: 64 }, max_image_size: { longest_edge: 16 } };
  const smallConfig = parseIdefics3PreprocessorConfig(small);
  const smallReference = new Idefics3ImageProcessor(small);

  it('frames, rows and cols equal transformers.js whenever both take the same first resize', async () => {
    const rand = prng(2024);
    const sizes: [number, number][] = [
      [64, 64], [16, 16], [1, 1], [17, 16], [65, 33], [33, 65], [1280, 640], [1920, 1080], [600, 1400], [20, 12],
    ];
    for (let i = 0; i < 150; i++) sizes.push([1 + Math.floor(rand() * 200), 1 + Math.floor(rand() * 200)]);
    let divergent = 0;
    let differentFirstResize = 0;
    for (const [w, h] of sizes) {
      const ours = idefics3Layout(w, h, smallConfig, 'high');
      const img = blank(w, h, [90, 90, 90]);
      const ref = await runReference(smallReference, img, true).catch(() => null);
      if (!ref) {
        // transformers.js rounds an extreme aspect ratio's short side to 0 px and sharp refuses; Python keeps 1 px.
        expect(Math.min(w, h) * 64 < Math.max(w, h)).toBe(true);
        continue;
      }
      const sameFirstResize = ref.resized[0] === ours.resized.height && ref.resized[1] === ours.resized.width;
      if (sameFirstResize) {
        expect([ref.dims[1], ref.rows, ref.cols]).toEqual([ours.frames, ours.rows, ours.cols]);
      } else {
        // Python rounds the short side up to even, transformers.js does not: 1 px apart, same long side.
        const [refShort, ourShort] =
          w >= h ? [ref.resized[0], ours.resized.height] : [ref.resized[1], ours.resized.width];
        expect(Math.abs(refShort - ourShort)).toBeLessThanOrEqual(1);
        differentFirstResize++;
        if (ref.dims[1] !== ours.frames) divergent++;
      }
      // The low-detail layout is always one frame.
      expect(idefics3Layout(w, h, smallConfig, 'low')).toMatchObject({ frames: 1, rows: 0, cols: 0 });
    }
    console.log(`${sizes.length} sizes: first resize differs for ${differentFirstResize}, frames for ${divergent}`);
    expect(divergent).toBeLessThanOrEqual(3);
  });

  it('matches the Python processor on documented sizes', () => {
    const layout = (w: number, h: number) => {
      const l = idefics3Layout(w, h, config, 'high');
      return [l.resized.width, l.resized.height, l.canvas.width, l.canvas.height, l.rows, l.cols, l.frames];
    };
    expect(layout(1920, 1080)).toEqual([2048, 1152, 2048, 1536, 3, 4, 13]);
    expect(layout(1280, 640)).toEqual([2048, 1024, 2048, 1024, 2, 4, 9]);
    expect(layout(600, 1400)).toEqual([878, 2048, 1024, 2048, 4, 2, 9]); // 877.7 → 877 → even 878
    expect(layout(512, 512)).toEqual([2048, 2048, 2048, 2048, 4, 4, 17]);
    expect(layout(3000, 1)).toEqual([2048, 1, 2048, 512, 1, 4, 5]);
    const noResize = parseIdefics3PreprocessorConfig({ ...SMOLVLM_CONFIG, do_resize: false });
    expect(idefics3Layout(400, 300, noResize, 'high')).toMatchObject({ frames: 1, rows: 0, cols: 0 });
  });
});

describe('resizeLikePillow', () => {
  // sha256 of Pillow 12.3's `Image.fromarray(resamplePattern(w, h)).resize((W, H), filter).tobytes()` (enlargements only: those
  // are computed by our port and must be bit-identical; the pattern's jumps also exercise clipping).
  const PILLOW: [number, number, number, number, PillowFilter, string][] = [
    [9, 6, 20, 13, 'lanczos', '41517efdef2a427105308639a64fe8826a389e8a20b427cd47c37d2aeb6509fd'],
    [9, 6, 20, 13, 'bicubic', '92a73ce5596b42117ceccaf3107f520d8dd555b2b9fe5836cc9a32bf39f23b23'],
    [9, 6, 20, 13, 'bilinear', '8d4a6d963b04ebb7f4b0bee29a7178b360b879949682b3beeda9b41b64d16917'],
    [64, 40, 150, 97, 'lanczos', '9a7bad00b9e0e315045d392b99ac9e26dd699cf5067207884d0aa796b40b9053'],
    [64, 40, 64, 97, 'lanczos', '76cac921836b9945520adba9991258bd12e15e0979daa73a05c51ae70eb59b1f'],
    [64, 40, 150, 40, 'lanczos', '2aab1519ee76424a130d87bb8a1f94e358c952b113c32d75cb5468ec4c0bfd61'],
  ];
  for (const [w, h, W, H, filter, sha] of PILLOW) {
    it(`enlarging ${w}×${h} → ${W}×${H} (${filter}) is bit-identical to Pillow`, async () => {
      const out = await resizeLikePillow(resamplePattern(w, h), W, H, filter);
      expect([out.width, out.height]).toEqual([W, H]);
      expect(sha256Hex(out.data)).toBe(sha);
    });
  }

  it('returns the same image when the size does not change, and handles mixed enlarge/reduce', async () => {
    const img = resamplePattern(30, 20);
    expect(await resizeLikePillow(img, 30, 20, 'lanczos')).toBe(img);
    const mixed = await resizeLikePillow(img, 60, 10, 'lanczos');
    expect([mixed.width, mixed.height, mixed.data.length]).toEqual([60, 10, 60 * 10 * 3]);
  });
});

describe('parseIdefics3PreprocessorConfig', () => {
  it('reads SmolVLM-256M-Instruct', () => {
    expect(config).toEqual<Idefics3PreprocessorConfig>({
      doResize: true,
      longestEdge: 2048,
      frameSize: 512,
      doImageSplitting: true,
      resample: 'lanczos',
      doRescale: true,
      rescaleFactor: 0.00392156862745098,
      doNormalize: true,
      imageMean: [0.5, 0.5, 0.5],
      imageStd: [0.5, 0.5, 0.5],
      doConvertRgb: true,
      doPad: true,
    });
  });

  it("falls back to the Python processor's defaults for absent or null fields", () => {
    const c = parseIdefics3PreprocessorConfig({ size: null, image_mean: 0.5 });
    expect(c).toMatchObject({ longestEdge: 1456, frameSize: 364, doImageSplitting: true, resample: 'lanczos' });
    expect(c.rescaleFactor).toBe(1 / 255);
    expect(c.imageMean).toEqual([0.5, 0.5, 0.5]);
  });

  it.each([
    [{ size: { longest_edge: 'big' } }, /^Invalid preprocessor_config\.json: size\.longest_edge: /],
    [{ max_image_size: { longest_edge: 0 } }, /max_image_size\.longest_edge/],
    [{ image_std: [0.5, 0, 0.5] }, /image_std: must not contain 0/],
    [{ image_mean: [0.5, 0.5] }, /image_mean/],
    [{ resample: 4 }, /resample: only 1 \(LANCZOS\), 2 \(BILINEAR\) or 3 \(BICUBIC\)/],
    [{ do_resize: 'yes' }, /do_resize/],
    ['not an object', /\(root\)/],
  ])('rejects %j with a one-line error naming the field', (json, message) => {
    let error: Error | undefined;
    try {
      parseIdefics3PreprocessorConfig(json);
    } catch (err) {
      error = err as Error;
    }
    expect(error).toBeInstanceOf(ScreenAskError); // a user's problem, printed as one line
    expect(error?.message).toMatch(message);
    expect(error?.message).not.toContain('\n');
  });

  it('honours do_rescale / do_normalize / mean / std in the values it writes', async () => {
    const raw = parseIdefics3PreprocessorConfig({ ...SMOLVLM_CONFIG, do_rescale: false, do_normalize: false });
    const imagenet = parseIdefics3PreprocessorConfig({
      ...SMOLVLM_CONFIG,
      image_mean: [0.485, 0.456, 0.406],
      image_std: [0.229, 0.224, 0.225],
    });
    const img = blank(40, 30, [10, 128, 250]);
    const a = await preprocessIdefics3(img, raw, 'low');
    const b = await preprocessIdefics3(img, imagenet, 'low');
    const plane = 512 * 512;
    expect([a.pixelValues[0], a.pixelValues[plane], a.pixelValues[2 * plane]]).toEqual([10, 128, 250]);
    expect(b.pixelValues[plane]).toBeCloseTo((128 / 255 - 0.456) / 0.224, 5);
  });
});

describe('loadImage', () => {
  let dir: string;
  const file = (name: string) => path.join(dir, name);
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'screenask-image-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function expectLoadError(source: string | Uint8Array, message: RegExp): Promise<void> {
    const error = await loadImage(source).then(
      () => null,
      (err: Error) => err,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error!.message).toMatch(message);
    expect(error!.message).not.toContain('\n');
    if (typeof source === 'string') expect(error!.message).toContain(`"${source}"`);
  }

  it('reads PNG pixels unchanged', async () => {
    const img = noise(31, 17, 3);
    const png = await sharp(img.data, { raw: { width: 31, height: 17, channels: 3 } }).png().toBuffer();
    writeFileSync(file('noise.png'), png);
    const loaded = await loadImage(file('noise.png'));
    expect([loaded.width, loaded.height]).toEqual([31, 17]);
    expect(Buffer.from(loaded.data).equals(Buffer.from(img.data))).toBe(true);
  });

  it('missing file', async () => {
    await expectLoadError(file('nope.png'), /^Cannot read image ".*nope\.png": no such file$/);
  });

  it('a directory', async () => {
    await expectLoadError(dir, /it is a directory/);
  });

  it('a text file', async () => {
    writeFileSync(file('notes.txt'), 'hello, this is not an image\n');
    await expectLoadError(
      file('notes.txt'),
      /: not a supported image format \(PNG, JPEG, WebP, GIF, TIFF, AVIF\)$/,
    );
  });

  it('an SVG (renderable by sharp, but not accepted)', async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>';
    writeFileSync(file('x.svg'), svg);
    await expectLoadError(file('x.svg'), /not a supported image format .*; got SVG$/);
  });

  it('an empty file', async () => {
    writeFileSync(file('empty.png'), '');
    await expectLoadError(file('empty.png'), /the file is empty/);
  });

  it('a truncated PNG', async () => {
    const raw = { width: 200, height: 120, channels: 3 } as const;
    const png = await sharp(noise(200, 120, 5).data, { raw }).png().toBuffer();
    writeFileSync(file('half.png'), png.subarray(0, Math.floor(png.length / 2)));
    await expectLoadError(file('half.png'), /: the file is truncated or corrupt \(decoder: .+\)$/);
    writeFileSync(file('header-only.png'), png.subarray(0, 30));
    await expectLoadError(file('header-only.png'), /header is corrupt or truncated/);
  });

  it('an absurdly large image is refused from its header, before decoding', async () => {
    writeFileSync(file('huge.png'), pngWithHeaderOnly(40_000, 40_000));
    await expectLoadError(file('huge.png'), /the image is 40000×40000 pixels \(1600 MP\), above the 100 MP limit/);
    const create = { width: 100, height: 100, channels: 3, background: '#000' } as const;
    const small = await sharp({ create }).png().toBuffer();
    await expect(loadImage(small, { maxPixels: 5000 })).rejects.toThrow(
      /^Cannot read image \(\d+-byte buffer\): the image is 100×100 pixels/,
    );
  });

  it('applies EXIF orientation', async () => {
    // Stored 40×20, left half red, right half blue; orientation 6 = rotate 90° clockwise for display, so the
    // displayed image is 20×40 with red on top.
    const stored = blank(40, 20, [0, 0, 255]);
    fillRect(stored, 0, 0, 20, 20, [255, 0, 0]);
    const jpeg = await sharp(stored.data, { raw: { width: 40, height: 20, channels: 3 } })
      .jpeg({ quality: 100 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const img = await loadImage(jpeg);
    expect([img.width, img.height]).toEqual([20, 40]);
    const px = (x: number, y: number) => Array.from(img.data.subarray((y * 20 + x) * 3, (y * 20 + x) * 3 + 3));
    expectColour(px(10, 5), [255, 0, 0]);
    expectColour(px(10, 35), [0, 0, 255]);
  });

  it('composites transparency onto white, like transformers convert_to_rgb', async () => {
    const rgba = new Uint8Array(4 * 3 * 4);
    rgba.set([0, 0, 0, 0, 255, 0, 0, 255, 255, 0, 0, 128], 0); // transparent black, opaque red, half red
    const png = await sharp(rgba, { raw: { width: 3, height: 4, channels: 4 } }).png().toBuffer();
    const img = await loadImage(png);
    expect(img.data.length).toBe(3 * 4 * 3);
    expect(Array.from(img.data.subarray(0, 9))).toEqual([255, 255, 255, 255, 0, 0, 255, 127, 127]);
  });

  it('expands greyscale, palette and 16-bit PNGs and CMYK JPEGs to 8-bit RGB', async () => {
    const solid = sharp({ create: { width: 6, height: 4, channels: 3, background: { r: 200, g: 30, b: 60 } } });
    const grey = sharp(new Uint8Array(6 * 4).fill(100), { raw: { width: 6, height: 4, channels: 1 } });
    const inputs: [string, Buffer, number[], number][] = [
      ['grey', await grey.png().toBuffer(), [100, 100, 100], 0],
      ['palette', await solid.clone().png({ palette: true }).toBuffer(), [200, 30, 60], 2],
      ['16-bit', await solid.clone().toColourspace('rgb16').png().toBuffer(), [200, 30, 60], 1],
      // No ICC profile in the file, so libvips' generic CMYK profile round-trips only approximately.
      ['cmyk', await solid.clone().toColourspace('cmyk').jpeg({ quality: 100 }).toBuffer(), [200, 30, 60], 25],
    ];
    for (const [, bytes, rgb, tol] of inputs) {
      const img = await loadImage(bytes);
      expect([img.width, img.height, img.data.length]).toEqual([6, 4, 6 * 4 * 3]);
      expectColour(Array.from(img.data.subarray(0, 3)), rgb, tol);
    }
  });
});

function expectColour(actual: number[], expected: readonly number[], tolerance = 8): void {
  actual.forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThanOrEqual(tolerance));
}

/** A PNG whose IHDR claims width×height but carries one row of data: enough for a header read. */
function pngWithHeaderOnly(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, deflate, no filter, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(1 + width * 3))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
