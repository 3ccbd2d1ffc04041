// Node-free: the settings page imports the generation settings, which use this.
import type { ModelConfigs } from './config.js';

/**
 * Where a model says `use_cache: false`, one entry per file, for the load-time warning and the import report:
 * "config.json", "config.json (text_config)", "config.json (top level and text_config)", "generation_config.json".
 */
export function useCacheFalseSources({ config, generation }: ModelConfigs): string[] {
  const top = config.use_cache === false;
  const text = config.text_config?.use_cache === false;
  const inConfig = top && text ? 'config.json (top level and text_config)' : top ? 'config.json' : text ? 'config.json (text_config)' : undefined;
  return [...(inConfig ? [inConfig] : []), ...(generation.use_cache === false ? ['generation_config.json'] : [])];
}
