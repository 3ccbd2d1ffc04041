/**
 * Which `config.json` model types each family runs, as plain data. The model manager (in Electron's main process)
 * checks imported folders against it, and must not load the families themselves: they pull in onnxruntime-node and
 * sharp, native libraries that belong in the model process only.
 */
export const familyModelTypes = {
  smolvlm: ['idefics3', 'smolvlm'],
  qwen2vl: ['qwen2_vl', 'qwen2_5_vl'],
} as const satisfies Record<string, readonly string[]>;

export type FamilyName = keyof typeof familyModelTypes;

export const supportedModelTypes: readonly string[] = Object.values(familyModelTypes).flat();

/** The family that runs this model type, if any. */
export function familyOfModelType(modelType: string): FamilyName | undefined {
  const entry = Object.entries(familyModelTypes).find(([, types]) => (types as readonly string[]).includes(modelType));
  return entry?.[0] as FamilyName | undefined;
}

/** Why a model_type cannot run, and what to do instead (the engine's load error and the import report say the same). */
export function unsupportedModelType(modelType: string): string {
  return (
    `Model type "${modelType}" (config.json) is not one ScreenAsk can run (supported: ${supportedModelTypes.join(', ')}): ` +
    'choose a SmolVLM or Qwen2-VL / Qwen2.5-VL model, or export a fine-tune of one of them in the same layout.'
  );
}
