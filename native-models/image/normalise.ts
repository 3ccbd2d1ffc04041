/**
 * uint8 pixel → normalised float32 lookup tables, the last step of every image processor we reproduce: rescale
 * (× rescale_factor, stored as float32, as numpy's `astype(float32)` after a float64 multiply does), then
 * (x − mean) / std per channel, stored as float32.
 *
 * The families' references round the second step differently, and we match each bit for bit:
 * - 'float64' (Idefics3 / SmolVLM): (x − mean) / std in double arithmetic with the config's mean and std, rounded to
 *   float32 once (what transformers.js computes; numpy's float32 arithmetic is at most 1 ulp away).
 * - 'float32' (Qwen2-VL): numpy's float32 arithmetic: mean and std cast to float32, the subtraction and the division
 *   each rounded to float32 (each float32 operation is the double result rounded once, which `Math.fround` does).
 */

/** The rescale / normalise fields of a preprocessor_config.json. */
export interface PixelNormalisation {
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  imageMean: readonly [number, number, number];
  imageStd: readonly [number, number, number];
}

/** How (x − mean) / std is rounded: once from double ('float64') or after each float32 operation ('float32'). */
export type NormalisationArithmetic = 'float64' | 'float32';

/** One 256-entry table per channel (R, G, B): the float32 value of each 8-bit level. */
export type ChannelLuts = readonly [Float32Array, Float32Array, Float32Array];

export function normalisationLuts(config: PixelNormalisation, arithmetic: NormalisationArithmetic): ChannelLuts {
  const make = (channel: 0 | 1 | 2): Float32Array => {
    const lut = new Float32Array(256);
    const normalise = channelNormaliser(config.imageMean[channel], config.imageStd[channel], arithmetic);
    for (let v = 0; v < 256; v++) {
      let x = v;
      if (config.doRescale) x = Math.fround(x * config.rescaleFactor);
      if (config.doNormalize) x = normalise(x);
      lut[v] = x;
    }
    return lut;
  };
  return [make(0), make(1), make(2)];
}

function channelNormaliser(mean: number, std: number, arithmetic: NormalisationArithmetic): (x: number) => number {
  if (arithmetic === 'float64') return (x) => (x - mean) / std;
  const mean32 = Math.fround(mean);
  const std32 = Math.fround(std);
  return (x) => Math.fround(Math.fround(x - mean32) / std32);
}
