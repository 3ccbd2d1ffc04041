import { describe, expect, it } from 'vitest';
import { resolveGenerationSettings, validateGenerationOptions } from '../../native-models/generation/settings.js';
import type { ModelConfigs } from '../../native-models/model/config.js';

const base: ModelConfigs = {
  config: { model_type: 'idefics3' },
  generation: { eos_token_id: 7, bos_token_id: 1 },
};

describe('generation settings', () => {
  it('defaults to greedy when the model does not sample, and takes eos ids from both files', () => {
    const { settings, warnings } = resolveGenerationSettings(
      { config: { model_type: 'x', eos_token_id: [9, 7] }, generation: { eos_token_id: 7 } },
      {},
    );
    expect(settings.temperature).toBe(0);
    expect(settings.useCache).toBe(true);
    expect([...settings.eosTokenIds].sort()).toEqual([7, 9]);
    expect(warnings).toEqual([]);
  });

  it('generation_config.json overrides defaults and the caller overrides generation_config.json', () => {
    const configs: ModelConfigs = {
      ...base,
      generation: { ...base.generation, do_sample: true, temperature: 0.1, top_k: 1, top_p: 0.001, repetition_penalty: 1.05 },
    };
    const fromModel = resolveGenerationSettings(configs, {}).settings;
    expect(fromModel).toMatchObject({ temperature: 0.1, topK: 1, topP: 0.001, repetitionPenalty: 1.05 });
    const fromCaller = resolveGenerationSettings(configs, { temperature: 0, topK: 5, maxNewTokens: 3 }).settings;
    expect(fromCaller).toMatchObject({ temperature: 0, topK: 5, maxNewTokens: 3, topP: 0.001 });
  });

  it('keeps caching when a config says use_cache: false, and says why', () => {
    const configs: ModelConfigs = { config: { model_type: 'x', use_cache: false }, generation: { eos_token_id: 2, use_cache: false } };
    const { settings, warnings } = resolveGenerationSettings(configs, {});
    expect(settings.useCache).toBe(true);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/config\.json and generation_config\.json set use_cache: false/);
    expect(warnings[0]).toMatch(/gradient checkpointing/);
    expect(warnings[0]).toMatch(/decoded with the KV cache/);
  });

  it('only the caller can turn the cache off, and then no warning is needed', () => {
    const configs: ModelConfigs = { config: { model_type: 'x', text_config: { use_cache: false } as never }, generation: { eos_token_id: 2 } };
    const { settings, warnings } = resolveGenerationSettings(configs, { useCache: false });
    expect(settings.useCache).toBe(false);
    expect(warnings).toEqual([]);
  });

  it('names each file that says use_cache: false once, with the places inside it', () => {
    const flagged = (config: Partial<ModelConfigs['config']>, generation: ModelConfigs['generation'] = { eos_token_id: 2 }) =>
      resolveGenerationSettings({ config: { model_type: 'x', ...config }, generation }, {}).warnings[0];
    const text = { use_cache: false } as never;
    expect(flagged({ use_cache: false, text_config: text }, { eos_token_id: 2, use_cache: false })).toMatch(
      /^config\.json \(top level and text_config\) and generation_config\.json set use_cache: false,/,
    );
    expect(flagged({ text_config: text })).toMatch(/^config\.json \(text_config\) set use_cache: false,/);
    expect(flagged({ use_cache: false })).toMatch(/^config\.json set use_cache: false,/);
  });

  it('rejects out-of-range and unknown settings with a sentence naming the field and its range', () => {
    expect(() => validateGenerationOptions({ temperature: 9 })).toThrow(/^Invalid setting temperature: must be a number from 0 to 5 \(got 9\)\.$/);
    expect(() => validateGenerationOptions({ topP: 0 })).toThrow(/^Invalid setting topP: must be a number above 0 and at most 1 \(got 0\)\.$/);
    expect(() => validateGenerationOptions({ maxNewTokens: 1.5 })).toThrow(/^Invalid setting maxNewTokens: must be a whole number from 1 to 8192 \(got 1\.5\)\.$/);
    expect(() => validateGenerationOptions({ useCache: 'yes' })).toThrow(/^Invalid setting useCache: must be true or false \(got "yes"\)\.$/);
    expect(() => validateGenerationOptions({ tempreature: 1 })).toThrow(/^Unknown setting tempreature: the settings are maxNewTokens, temperature/);
    expect(() => validateGenerationOptions({ temperature: 9 }, (field) => `--${field}`)).toThrow(/^Invalid --temperature: /);
    expect(validateGenerationOptions({ topK: 0, seed: 3 })).toEqual({ topK: 0, seed: 3 });
  });

  it('refuses a model without any eos id', () => {
    expect(() => resolveGenerationSettings({ config: { model_type: 'x' }, generation: {} }, {})).toThrow(/eos_token_id/);
  });
});
