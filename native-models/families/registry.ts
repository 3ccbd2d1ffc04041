import { ScreenAskError } from '../model/errors.js';
import type { FamilyContext, FamilyDefinition, ModelFamily } from './family.js';
import { familyOfModelType, unsupportedModelType, type FamilyName } from './model-types.js';
import { qwen2VlFamily } from './qwen2vl/family.js';
import { smolVlmFamily } from './smolvlm/family.js';

const families: Record<FamilyName, FamilyDefinition> = { smolvlm: smolVlmFamily, qwen2vl: qwen2VlFamily };

export async function createFamily(context: FamilyContext): Promise<ModelFamily> {
  const modelType = context.configs.config.model_type;
  const name = familyOfModelType(modelType);
  if (!name) throw new ScreenAskError(unsupportedModelType(modelType));
  return families[name].create(context);
}
