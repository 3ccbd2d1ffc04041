// The loaded model's decoder fast path (native-models' `model.decoderRewrites`) in words a user understands: the one
// place that words each rewrite id and each skip, for the Settings and Models views. Pure: no Electron, no DOM.
// The ids are those native-models/model/graphs.ts (prepareRewrite) applies; the skip prefixes those
// decoder-rewrite.ts and graphs.ts write ("<rewrite>: <reason>"). The engine's reason is kept as it is: a sentence.

/** Each load-time rewrite the engine may apply, as a user reads it. */
export const FAST_PATH_WORDS: Readonly<Record<string, string>> = {
  'shared-kv-buffer': 'GroupQueryAttention writes into the cache in place (no copy per token)',
  'new-kv-outputs': 'Each step returns only the new keys and values (the cache is kept, not handed back whole)',
  'cache-read-in-place': 'KV cache read in place (no copy per token)',
  'last-row-logits': 'Only the last position’s next-word scores are computed (not one row per prompt token)',
  'fused-projections': 'Projections that share an input run as one matrix multiply',
  'fused-rms-norms': 'RMSNorm written as plain ops runs as one fused step',
};

/** The prefixes of the engine's skip reasons, as a user reads them. */
const SKIP_NAMES: Readonly<Record<string, string>> = {
  'KV outputs': 'Returning only new keys and values',
  'shared KV buffer': 'GroupQueryAttention writing into the cache in place',
  'cache read in place': 'Reading the KV cache in place',
  'last-row logits': 'Scoring only the last position',
  'fused projections': 'Fusing projections that share an input',
  'fused RMSNorms': 'Fusing RMSNorm',
};

/** One applied rewrite in words; an id this module does not know yet is shown as it is rather than dropped. */
export function fastPathWord(id: string): string {
  return FAST_PATH_WORDS[id] ?? id;
}

/**
 * One skip in words. With nothing applied the model runs exactly as shipped, and each reason says why
 * ("Runs as shipped: turned off"); otherwise the skip names the one rewrite that did not apply and why.
 */
export function skipWords(reason: string, nothingApplied: boolean): string {
  const match = /^([^:]+): (.+)$/s.exec(reason);
  const name = match ? SKIP_NAMES[match[1]!] : undefined;
  const why = name ? match![2]! : reason;
  if (nothingApplied) return `Runs as shipped: ${name ? `${name.toLowerCase()} does not apply — ${why}` : why}`;
  return name ? `${name} does not apply: ${why}` : `Not applied: ${why}`;
}

export interface FastPathLines {
  readonly applied: readonly string[];
  readonly skipped: readonly string[];
}

/** The decoder fast path of a loaded model, as lines for a view. */
export function fastPathLines(fastPath: { readonly applied: readonly string[]; readonly skipped: readonly string[] }): FastPathLines {
  const nothingApplied = fastPath.applied.length === 0;
  return { applied: fastPath.applied.map(fastPathWord), skipped: fastPath.skipped.map((reason) => skipWords(reason, nothingApplied)) };
}
