import { ScreenAskError } from '../model/errors.js';
import type { FamilyContext, FamilyDefinition, ModelFamily } from './family.js';
import { qwen2VlFamily } from './qwen2vl/family.js';
import { smolVlmFamily } from './smolvlm/family.js';

const families: readonly FamilyDefinition[] = [smolVlmFamily, qwen2VlFamily];

export const supportedModelTypes = families.flatMap((f) => f.modelTypes);

/** Why a model_type cannot run, and what to do instead (the engine's load error and the import report say the same). */
export function unsupportedModelType(modelType: string): string {
  return (
    `Model type "${modelType}" (config.json) is not one ScreenAsk can run (supported: ${supportedModelTypes.join(', ')}): ` +
    'choose a SmolVLM or Qwen2-VL / Qwen2.5-VL model, or export a fine-tune of one of them in the same layout.'
  );
}

export async function createFamily(context: FamilyContext): Promise<ModelFamily> {
  const modelType = context.configs.config.model_type;
  const family = families.find((f) => f.modelTypes.includes(modelType));
  if (!family) {
    throw new ScreenAskError(unsupportedModelType(modelType));
  }
  return family.create(context);
}
