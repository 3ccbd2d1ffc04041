/**
 * The family-neutral parts of reading a preprocessor_config.json: zod fields that every transformers image processor
 * spells the same way (PIL `resample`, rescale / normalise), Python's "absent or null means the default", and one
 * error line naming the field. Each family's schema adds its own fields and defaults.
 */
import { z } from 'zod';
import { ScreenAskError } from '../model/errors.js';
import type { PixelNormalisation } from './normalise.js';
import type { PillowFilter } from './resize.js';

// PIL resample ids we reproduce (NEAREST, BOX and HAMMING appear in no config of a family we support).
const PIL_FILTERS: Record<number, PillowFilter> = { 1: 'lanczos', 2: 'bilinear', 3: 'bicubic' };
const PIL_IDS: Record<PillowFilter, number> = { lanczos: 1, bilinear: 2, bicubic: 3 };

export const positiveInt = z.number().int().positive();

/** A number or three numbers (per channel) → three numbers. */
const triple = z
  .union([z.number(), z.array(z.number()).length(3)])
  .transform((v): [number, number, number] => (typeof v === 'number' ? [v, v, v] : [v[0]!, v[1]!, v[2]!]));

/** Absent or null → the Python processor's default. */
export const withDefault = <T extends z.ZodType>(schema: T, fallback: z.output<T>) =>
  schema.nullish().transform((v) => (v ?? fallback) as z.output<T>);

/** `resample` (a PIL filter id) as the filter we resize with; `fallback` is the processor's default. */
export function resampleField(fallback: PillowFilter) {
  return withDefault(
    z.number().refine((v) => v in PIL_FILTERS, { message: 'only 1 (LANCZOS), 2 (BILINEAR) or 3 (BICUBIC) are supported' }),
    PIL_IDS[fallback],
  ).transform((id) => PIL_FILTERS[id] ?? fallback);
}

/** do_rescale, rescale_factor, do_normalize, image_mean and image_std, with the processor's mean and std defaults. */
export function normalisationFields(mean: readonly [number, number, number], std: readonly [number, number, number]) {
  return {
    do_rescale: withDefault(z.boolean(), true),
    rescale_factor: withDefault(z.number().positive(), 1 / 255),
    do_normalize: withDefault(z.boolean(), true),
    image_mean: withDefault(triple, [mean[0], mean[1], mean[2]]),
    image_std: withDefault(
      triple.refine((v) => v.every((x) => x !== 0), { message: 'must not contain 0' }),
      [std[0], std[1], std[2]],
    ),
  };
}

type NormalisationJson = z.output<z.ZodObject<ReturnType<typeof normalisationFields>>>;

export function readNormalisation(c: NormalisationJson): PixelNormalisation {
  return {
    doRescale: c.do_rescale,
    rescaleFactor: c.rescale_factor,
    doNormalize: c.do_normalize,
    imageMean: c.image_mean,
    imageStd: c.image_std,
  };
}

/** Parses with `schema`; an invalid file is one ScreenAskError line naming the first bad field. */
export function parsePreprocessorConfig<T extends z.ZodType>(schema: T, json: unknown): z.output<T> {
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue && issue.path.length > 0 ? issue.path.join('.') : '(root)';
    throw new ScreenAskError(`Invalid preprocessor_config.json: ${field}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}
