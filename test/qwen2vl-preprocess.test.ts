/**
 * Qwen2-VL / Qwen2.5-VL preprocessing (native-models/families/qwen2vl/preprocess.ts): smart_resize, the engine's pixel
 * budgets, PIL-bicubic resampling, CLIP normalisation and the patch flattening, against transformers.js 4.3.1's
 * Qwen2VLImageProcessor (the independent reference we can run here) and against the Python processor's output.
 */
import { Qwen2VLImageProcessor, RawImage } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import {
  parseQwen2VlPreprocessorConfig,
  pixelBounds,
  preprocessQwen2Vl,
  QWEN2VL_PIXEL_BUDGETS,
  qwen2VlLayout,
  roundHalfEven,
  smartResize,
  type Qwen2VlDetail,
  type Qwen2VlImageInput,
} from '../native-models/families/qwen2vl/preprocess.js';
import type { RgbImage } from '../native-models/image/load-image.js';
import { resizeLikePillow, type PillowFilter } from '../native-models/image/resize.js';
import { absDiff, sha256Hex } from './support/float-compare.js';
import { QWEN2_VL_2B_PREPROCESSOR_CONFIG } from './support/published-configs.js';
import { blank, fillRect, noise, photo, prng, resamplePattern, screenshot } from './support/synthetic-images.js';

const QWEN_CONFIG = QWEN2_VL_2B_PREPROCESSOR_CONFIG;
const config = parseQwen2VlPreprocessorConfig(QWEN_CONFIG);

/** 8-bit level `v` of channel `c` normalised as numpy computes it: float32 rescale, float32 (x − mean) / std. */
function numpyNormalised(c: number, v: number): number {
  const x = Math.fround(v * (1 / 255));
  return Math.fround(Math.fround(x - Math.fround(QWEN_CONFIG.image_mean[c]!)) / Math.fround(QWEN_CONFIG.image_std[c]!));
}

// ---------------------------------------------------------------------------------------------------------------
// The reference

interface Reference {
  pixelValues: Float32Array;
  dims: number[];
  grid: number[];
}

/** transformers.js with max_pixels set to the budget we use, so that both resize to the same size. */
async function runReference(img: RgbImage, maxPixels: number): Promise<Reference> {
  const processor = new Qwen2VLImageProcessor({ ...QWEN_CONFIG, max_pixels: maxPixels });
  const raw = new RawImage(new Uint8ClampedArray(img.data), img.width, img.height, 3);
  const out = (await processor(raw)) as {
    pixel_values: { data: Float32Array; dims: number[] };
    image_grid_thw: { data: BigInt64Array };
  };
  return { pixelValues: out.pixel_values.data, dims: out.pixel_values.dims, grid: Array.from(out.image_grid_thw.data, Number) };
}

/** transformers.js's smart_resize, through the processor method that calls it: [width, height]. */
function referenceSize(width: number, height: number, minPixels: number, maxPixels: number): [number, number] {
  const processor = new Qwen2VLImageProcessor({ ...QWEN_CONFIG, min_pixels: minPixels, max_pixels: maxPixels });
  return processor.get_resize_output_image_size({ width, height } as RawImage, undefined) as [number, number];
}

function expectSameStructure(ours: Qwen2VlImageInput, ref: Reference): void {
  expect(ref.grid).toEqual([...ours.grid]);
  expect(ref.dims).toEqual([ours.patches, 1176]);
  expect(ours.pixelValues.length).toBe(ours.patches * 1176);
  expect(ours.patchDim).toBe(1176);
  expect(ours.tokens * 4).toBe(ours.patches);
}

// ---------------------------------------------------------------------------------------------------------------

/*
 * Tolerances against transformers.js, in normalised units (one 8-bit step is ~0.015 after CLIP's std of ~0.27).
 * We resample as the Python processor does (PIL BICUBIC on uint8, Pillow's own arithmetic); transformers.js uses
 * sharp's bilinear affine interpolator without antialiasing, so the two differ most where a reduction drops 1-px
 * strokes (screenshots at low detail, a 0.44× reduction) and on enlarged noise. Measured (mean / max |Δ|):
 * screenshot 1920×1080 high 0.028 / 1.05, low 0.130 / 3.02; portrait photo high 0.0004 / 0.22, low 0.0062 / 1.25;
 * tiny noise 0.594 / 3.21. Against the Python processor's steps replayed with Pillow 12.3 + numpy on the same images
 * we are bit-identical (hashes below), so these are transformers.js's distances from Python too. Bounds leave ~1.3×
 * headroom.
 */
const TOLERANCE = {
  screenshotHigh: { mean: 0.037, max: 1.4 },
  screenshotLow: { mean: 0.17, max: 3.9 },
  photoHigh: { mean: 0.001, max: 0.3 },
  photoLow: { mean: 0.008, max: 1.6 },
  tinyNoise: { mean: 0.77, max: 4.2 },
};

describe('preprocessQwen2Vl against transformers.js Qwen2VLImageProcessor', () => {
  const cases: {
    name: string;
    image: () => RgbImage;
    detail: Qwen2VlDetail;
    resized: [number, number];
    tol: { mean: number; max: number };
  }[] = [
    { name: 'screenshot 1920×1080', image: () => screenshot(1920, 1080), detail: 'high', resized: [1680, 924], tol: TOLERANCE.screenshotHigh },
    { name: 'screenshot 1920×1080', image: () => screenshot(1920, 1080), detail: 'low', resized: [840, 448], tol: TOLERANCE.screenshotLow },
    { name: 'portrait photo 600×1400', image: () => photo(600, 1400), detail: 'high', resized: [588, 1400], tol: TOLERANCE.photoHigh },
    { name: 'portrait photo 600×1400', image: () => photo(600, 1400), detail: 'low', resized: [392, 952], tol: TOLERANCE.photoLow },
    // Below min_pixels: scaled up to 84×56 (both references agree on this size; see the geometry tests for where not).
    { name: 'tiny noise 20×12', image: () => noise(20, 12, 7), detail: 'high', resized: [84, 56], tol: TOLERANCE.tinyNoise },
  ];

  for (const { name, image, detail, resized, tol } of cases) {
    it(`${name}, ${detail} detail → ${resized.join('×')}: same grid and shape; pixels within tolerance`, async () => {
      const img = image();
      const ours = await preprocessQwen2Vl(img, config, detail);
      expect([ours.resized.width, ours.resized.height]).toEqual(resized);
      const ref = await runReference(img, QWEN2VL_PIXEL_BUDGETS[detail]);
      expectSameStructure(ours, ref);
      const { mean, max } = absDiff(ours.pixelValues, ref.pixelValues);
      console.log(`${name}, ${detail}: grid ${ours.grid.join('×')}, |Δ| from transformers.js mean ${mean.toFixed(4)} max ${max.toFixed(3)}`);
      expect(mean).toBeLessThan(tol.mean);
      expect(max).toBeLessThan(tol.max);
    });
  }

  it('an image already at its smart_resize size is not resampled: identical to transformers.js within 1 ulp', async () => {
    // Nothing is resized on either side, so this pins normalisation, temporal duplication and the patch permutation.
    // We round (x − mean) / std in float32 as numpy does; transformers.js rounds the float64 result once (≤ 1 ulp).
    for (const img of [screenshot(1288, 728), noise(308, 196, 5), photo(56, 28 * 9)]) {
      const ours = await preprocessQwen2Vl(img, config, 'high');
      expect([ours.resized.width, ours.resized.height]).toEqual([img.width, img.height]);
      const ref = await runReference(img, QWEN2VL_PIXEL_BUDGETS.high);
      expectSameStructure(ours, ref);
      expect(absDiff(ours.pixelValues, ref.pixelValues).max).toBeLessThanOrEqual(5e-7);
    }
  });

  for (const [w, h, rgb] of [
    [1920, 1080, [12, 200, 99]],
    [333, 777, [255, 255, 255]],
    [64, 48, [1, 2, 254]],
  ] as const) {
    it(`solid colour ${w}×${h} rgb(${rgb.join(',')}): ours stays exactly the colour; transformers.js too, but at its borders`, async () => {
      const img = blank(w, h, rgb);
      for (const detail of ['high', 'low'] as const) {
        const ours = await preprocessQwen2Vl(img, config, detail);
        const ref = await runReference(img, QWEN2VL_PIXEL_BUDGETS[detail]);
        expectSameStructure(ours, ref);
        // Each value is the colour normalised as numpy computes it.
        const expected = [0, 1, 2].map((c) => numpyNormalised(c, rgb[c]!));
        const [, gh, gw] = ours.grid;
        for (let i = 0; i < ours.pixelValues.length; i++) {
          const { c, y, x } = pixelOf(i, gw);
          if (ours.pixelValues[i] !== expected[c]) throw new Error(`ours differs from the colour at ${i}`);
          // sharp's affine interpolator blends the last few rows / columns of an enlarged axis with black.
          const border = y >= gh * 14 - 5 || x >= gw * 14 - 5;
          if (!border && Math.abs(ref.pixelValues[i]! - expected[c]!) > 5e-7) throw new Error(`transformers.js differs at ${i}`);
        }
      }
    });
  }
});

/** Channel and pixel of value `i` of pixel_values (a grid of gw patch columns; one frame is enough). */
function pixelOf(i: number, gw: number): { c: number; y: number; x: number } {
  const row = Math.floor(i / 1176);
  const k = i % 1176;
  const group = Math.floor(row / 4);
  const [mh, mw] = [(row >> 1) & 1, row & 1];
  const [bh, bw] = [Math.floor(group / (gw / 2)), group % (gw / 2)];
  const inPatch = k % 196;
  return { c: Math.floor(k / 392), y: (bh * 2 + mh) * 14 + Math.floor(inPatch / 14), x: (bw * 2 + mw) * 14 + (inPatch % 14) };
}

describe('preprocessQwen2Vl against the Python processor', () => {
  // sha256 of the float32 pixel_values that transformers' (slow) Qwen2VLImageProcessor computes, replayed step by
  // step with Pillow 12.3 and numpy 2.4: Image.resize(BICUBIC) on uint8, astype(float64) · (1/255) → float32,
  // (x − mean) / std in float32, np.stack of 2 frames, reshape (1, 2, 3, gh/2, 2, 14, gw/2, 2, 14), transpose
  // (0, 3, 6, 4, 7, 2, 1, 5, 8), reshape (gh·gw, 1176). Enlargements: our resampler is Pillow's own arithmetic.
  // (Steps from the source of transformers' image_processing_qwen2_vl.py and image_transforms.resize.)
  const PYTHON: [string, () => RgbImage, Qwen2VlDetail, [number, number], string][] = [
    ['screenshot 1920×1080', () => screenshot(1920, 1080), 'high', [1680, 924], 'b611173887b07ee8dc31c4f2b6af04377e8483d8f06d07e5669aa5ad854c11fc'],
    ['screenshot 1920×1080', () => screenshot(1920, 1080), 'low', [840, 448], 'deb45483757a76953f64aae5f76e2635e4fc2410c7b203fe8778cb82c68607a8'],
    ['portrait 600×1400', () => photo(600, 1400), 'high', [588, 1400], '382e51180c75baa496815d3aa1987c8addd7f63315ffc4875800e2c5d6477e3b'],
    ['portrait 600×1400', () => photo(600, 1400), 'low', [392, 952], 'fc377381c9cfa928207c2ca26fab0d44a3f4724935587521c690d80a38b02551'],
    ['noise 20×12', () => noise(20, 12, 7), 'high', [84, 56], 'e82d2ba2576c349d068a57d0e56ece022a85177c6688fd44b780a43d73afade3'],
    ['photo 40×30', () => photo(40, 30), 'high', [84, 56], 'd4ca95c514f950162709768f20317e5a486e5cfc27adc3d1f06d1631a939b359'],
    ['photo 1280×640', () => photo(1280, 640), 'high', [1288, 644], '01ef52b5aba3e7d4d0331dd63650e023ed7ce3ea4997b2b37016b74bb5441679'],
    ['screenshot 1280×720', () => screenshot(1280, 720), 'high', [1288, 728], '8584b9ec193949b1283bcf986ddefb41573e768d235dbdbe030af787090ab688'],
  ];
  it.each(PYTHON)('%s, %s detail → %s: bit-identical pixel_values', async (_name, image, detail, resized, hash) => {
    const ours = await preprocessQwen2Vl(image(), config, detail);
    expect([ours.resized.width, ours.resized.height]).toEqual(resized);
    expect(sha256Hex(ours.pixelValues)).toBe(hash);
  });

  it('1280×640 → 1288×644, grid [1, 46, 92], pixel_values [4232, 1176] (the contracts doc example)', async () => {
    const ours = await preprocessQwen2Vl(photo(1280, 640), config, 'high');
    expect([ours.resized.height, ours.resized.width]).toEqual([644, 1288]);
    expect(ours.grid).toEqual([1, 46, 92]);
    expect([ours.patches, ours.patchDim, ours.tokens]).toEqual([4232, 1176, 1058]);
  });

  it('patches are in merge-group order: row ((bh·gw/2 + bw)·2 + mh)·2 + mw, values (channel, frame, y, x)', async () => {
    // 56×56 needs no resize (grid 4×4 patches, 2×2 merge groups); patch (row py, column px) gets its own colour.
    const img = blank(56, 56, [0, 0, 0]);
    for (let py = 0; py < 4; py++) for (let px = 0; px < 4; px++) fillRect(img, px * 14, py * 14, 14, 14, [py * 60, px * 60, 9]);
    img.data.set([255, 255, 255], (14 * 56 + 14 + 13) * 3); // one white pixel: patch (1, 1), y 0, x 13
    const ours = await preprocessQwen2Vl(img, config, 'high');
    expect(ours.grid).toEqual([1, 4, 4]);
    const lut = numpyNormalised;
    for (let bh = 0; bh < 2; bh++) {
      for (let bw = 0; bw < 2; bw++) {
        for (let mh = 0; mh < 2; mh++) {
          for (let mw = 0; mw < 2; mw++) {
            const row = ((bh * 2 + bw) * 2 + mh) * 2 + mw;
            const [py, px] = [bh * 2 + mh, bw * 2 + mw];
            for (let frame = 0; frame < 2; frame++) {
              const at = (c: number, y: number, x: number) => ours.pixelValues[row * 1176 + c * 392 + frame * 196 + y * 14 + x];
              expect([at(0, 5, 5), at(1, 5, 5), at(2, 5, 5)]).toEqual([lut(0, py * 60), lut(1, px * 60), lut(2, 9)]);
            }
          }
        }
      }
    }
    // Patch (1, 1) is row 3 of merge group 0; its white pixel is value y 0, x 13 of each channel and frame.
    expect(ours.pixelValues[3 * 1176 + 13]).toBe(lut(0, 255));
    expect(ours.pixelValues[3 * 1176 + 2 * 392 + 196 + 13]).toBe(lut(2, 255));
  });
});

describe('smart_resize and the pixel budgets', () => {
  const budget = QWEN2VL_PIXEL_BUDGETS;

  it('rounds half to even like Python (transformers.js rounds half up)', () => {
    expect([roundHalfEven(2.5), roundHalfEven(3.5), roundHalfEven(0.5), roundHalfEven(2.4999), roundHalfEven(2.5001)]).toEqual([2, 4, 0, 2, 3]);
    // 70 / 28 = 2.5 → 2 (56); 126 / 28 = 4.5 → 4 (112); 98 / 28 = 3.5 → 4 (112); 42 / 28 = 1.5 → 2 (56).
    expect(smartResize(70, 140, 28, 3136, 12845056)).toEqual({ width: 140, height: 56 });
    expect(smartResize(126, 98, 28, 3136, 12845056)).toEqual({ width: 112, height: 112 });
    expect(smartResize(42, 420, 28, 3136, 12845056)).toEqual({ width: 420, height: 56 });
    expect(referenceSize(140, 70, 3136, 12845056)).toEqual([140, 84]); // the reference's half-up
  });

  it('above max_pixels: scaled by √(hw/max), sides floored to multiples of 28 (at least 28)', () => {
    expect(smartResize(1080, 1920, 28, 3136, budget.high)).toEqual({ width: 1680, height: 924 });
    expect(smartResize(1080, 1920, 28, 3136, budget.low)).toEqual({ width: 840, height: 448 });
    expect(smartResize(6000, 8000, 28, 3136, 12845056)).toEqual({ width: 4116, height: 3080 });
    // A 200:1 strip under a small budget: the short side is held at 28 even though that exceeds max (as in Python).
    expect(smartResize(28, 5600, 28, 784, 50_000)).toEqual({ width: 3136, height: 28 });
  });

  it('below min_pixels: scaled up by √(min/hw), sides ceiled to multiples of 28', () => {
    expect(smartResize(12, 20, 28, 3136, 12845056)).toEqual({ width: 84, height: 56 });
    expect(smartResize(1, 200, 28, 3136, 12845056)).toEqual({ width: 812, height: 28 });
    expect(smartResize(1, 1, 28, 3136, 12845056)).toEqual({ width: 56, height: 56 });
  });

  it('refuses an aspect ratio above 200 with one line; 200 exactly is accepted', () => {
    expect(() => smartResize(1, 201, 28, 3136, 12845056)).toThrow(/^The image is 201×1 px, an aspect ratio of 201:1; Qwen2-VL accepts at most 200:1: crop it first\.$/);
    expect(() => smartResize(3000, 10, 28, 3136, 12845056)).toThrow(/aspect ratio of 300:1/);
    expect(() => qwen2VlLayout(10, 3000, config, 'high')).toThrow(/at most 200:1/);
    expect(smartResize(200, 1, 28, 3136, 12845056)).toEqual({ width: 28, height: 812 });
  });

  it('equals transformers.js for every size where both round the same way (sides ≥ 28, no .5 ties)', () => {
    const rand = prng(99);
    let compared = 0;
    let ties = 0;
    let tiny = 0;
    for (let i = 0; i < 3000; i++) {
      const w = 1 + Math.floor(rand() * 2600);
      const h = 1 + Math.floor(rand() * 2600);
      if (Math.max(w, h) / Math.min(w, h) > 200) continue;
      for (const max of [budget.low, budget.high, 12845056]) {
        const ours = smartResize(h, w, 28, 3136, max);
        const theirs = referenceSize(w, h, 3136, max);
        if (w < 28 || h < 28) {
          tiny++; // transformers.js first scales the short side up to 28 (Math.round); Python does not
        } else if (w % 28 === 14 || h % 28 === 14) {
          ties++; // a .5 tie: Python rounds to even, transformers.js up
        } else {
          expect([ours.width, ours.height]).toEqual(theirs);
          compared++;
        }
      }
    }
    console.log(`smart_resize: ${compared} size/budget pairs equal to transformers.js; skipped ${ties} ties, ${tiny} tiny`);
    expect(compared).toBeGreaterThan(8000);
  });

  it('budgets per detail: high 2048 and low 512 image tokens at most; the config’s smaller max wins; options override', () => {
    const tokens = (w: number, h: number, detail: Qwen2VlDetail) => qwen2VlLayout(w, h, config, detail).tokens;
    expect([tokens(1920, 1080, 'high'), tokens(1920, 1080, 'low')]).toEqual([1980, 480]);
    expect([tokens(3840, 2160, 'high'), tokens(3840, 2160, 'low')]).toEqual([1980, 480]);
    expect([tokens(1280, 640, 'high'), tokens(1280, 640, 'low')]).toEqual([1058, 512]);
    expect(tokens(640, 360, 'low')).toBe(299); // under the budget: only rounded to multiples of 28
    expect(pixelBounds(config, 'high')).toEqual({ minPixels: 3136, maxPixels: 1605632 });
    expect(pixelBounds(config, 'low')).toEqual({ minPixels: 3136, maxPixels: 401408 });
    const small = parseQwen2VlPreprocessorConfig({ ...QWEN_CONFIG, max_pixels: 200_704 });
    expect(pixelBounds(small, 'high').maxPixels).toBe(200_704);
    expect(qwen2VlLayout(1920, 1080, config, 'high', { maxPixels: 12845056 }).resized).toEqual({ width: 1932, height: 1092 });
    expect(pixelBounds(config, 'low', { minPixels: 1_000_000 })).toEqual({ minPixels: 401408, maxPixels: 401408 });
    expect(() => pixelBounds(config, 'low', { maxPixels: 0 })).toThrow(/Invalid setting maxPixels/);
    for (const [w, h] of [[1920, 1080], [1080, 1920], [3000, 20], [33, 4000], [2560, 1600], [1366, 768]] as const) {
      for (const detail of ['low', 'high'] as const) {
        const layout = qwen2VlLayout(w, h, config, detail);
        expect(layout.resized.width * layout.resized.height).toBeLessThanOrEqual(budget[detail]);
        expect(layout.resized.width % 28 + (layout.resized.height % 28)).toBe(0);
      }
    }
  });

  it('reads min/max from min_pixels, else size.shortest_edge / longest_edge, else the Python defaults', () => {
    const bounds = (json: object) => {
      const c = parseQwen2VlPreprocessorConfig(json);
      return [c.minPixels, c.maxPixels, c.resample, c.patchSize, c.mergeSize, c.temporalPatchSize];
    };
    expect(bounds(QWEN_CONFIG)).toEqual([3136, 12845056, 'bicubic', 14, 2, 2]);
    expect(bounds({ size: { shortest_edge: 1000, longest_edge: 2000 } })).toEqual([1000, 2000, 'bicubic', 14, 2, 2]);
    expect(bounds({})).toEqual([3136, 1003520, 'bicubic', 14, 2, 2]);
    expect(() => parseQwen2VlPreprocessorConfig({ min_pixels: 10, max_pixels: 5 })).toThrow(/min_pixels 10 is above max_pixels 5/);
    expect(() => parseQwen2VlPreprocessorConfig({ resample: 0 })).toThrow(/Invalid preprocessor_config.json: resample/);
  });
});

describe('resizeLikePillow exact mode (reductions through the port of Pillow too)', () => {
  // sha256 of Pillow 12.3's `Image.fromarray(resamplePattern(w, h)).resize((W, H), filter).tobytes()`: reductions on both axes (few
  // and many taps), one axis reduced and the other enlarged, and an extreme reduction.
  const PILLOW: [number, number, number, number, PillowFilter, string][] = [
    [97, 61, 40, 23, 'lanczos', '002d9780556fe5c3873fe7709ee1e020f8670f9763313c1c6ce51bbc6d68a215'],
    [97, 61, 40, 23, 'bicubic', '33130ebd3f1e2bb2541727d354b57746f321e45c89edb3a3ab2e17821333bffc'],
    [97, 61, 40, 23, 'bilinear', '06658d8108d21cab10cdda1937ce93bf8efdda641da92e156d6c7ac7733fcd50'],
    [97, 61, 85, 53, 'bicubic', '022cebf3a64c7cb1d1c388f29d321b2645d3b4cd051c9cce6fef4705a4e3c731'],
    [97, 61, 30, 90, 'bicubic', '5745fa8045fb7c0ac0f4306efec8fe7e34474e22d583bfa3818b63e9b50267b3'],
    [64, 64, 5, 3, 'lanczos', 'f63ec3f182430105319d1f3f5c3472edde3966e9a64f10f491e7e0eab9934f9e'],
  ];
  it.each(PILLOW)('%i×%i → %i×%i %s: bit-identical to Pillow', async (w, h, W, H, filter, hash) => {
    const out = await resizeLikePillow(resamplePattern(w, h), W, H, filter, { exact: true });
    expect([out.width, out.height]).toEqual([W, H]);
    expect(sha256Hex(out.data)).toBe(hash);
  });

  it('enlargements are the same as without exact; the same size returns the image itself', async () => {
    const img = resamplePattern(30, 20);
    const exact = await resizeLikePillow(img, 61, 47, 'bicubic', { exact: true });
    expect(Buffer.from(exact.data).equals(Buffer.from((await resizeLikePillow(img, 61, 47, 'bicubic')).data))).toBe(true);
    expect(await resizeLikePillow(img, 30, 20, 'bicubic', { exact: true })).toBe(img);
  });
});
