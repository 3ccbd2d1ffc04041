import { ScreenAskError } from '../model/errors.js';
import type { FamilyContext, FamilyDefinition, ModelFamily } from './family.js';
import { qwen2VlFamily } from './qwen2vl/family.js';
import { smolVlmFamily } from './smolvlm/family.js';

const families: readonly FamilyDefinition[] = [smolVlmFamily, qwen2VlFamily];

export const supportedModelTypes = families.flatMap((f) => f.modelTypes);

export async function createFamily(context: FamilyContext): Promise<ModelFamily> {
  const modelType = context.configs.config.model_type;
  const family = families.find((f) => f.modelTypes.includes(modelType));
  if (!family) {
    throw new ScreenAskError(
      `Model type "${modelType}" is not supported (supported: ${supportedModelTypes.join(', ')}).`,
    );
  }
  return family.create(context);
}
