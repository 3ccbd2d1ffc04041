/** The catalogue's data, the per-precision file selection from a Hub listing, the recommendation rule and the models folder. */
import { describe, expect, it } from 'vitest';
import {
  availablePrecisions,
  catalogue,
  describePrecisions,
  findModel,
  graphPaths,
  isCatalogued,
  precisionFilesFrom,
  recommendModel,
} from '../../native-models/hub/catalogue.js';
import type { RemoteFile } from '../../native-models/hub/hub-api.js';
import { appDataDir, isInside, modelsDir, repoFolderName } from '../../native-models/hub/models-dir.js';
import { precisions } from '../../native-models/model/layout.js';
import { supportedModelTypes } from '../../native-models/families/model-types.js';

const GiB = 1024 ** 3;

describe('catalogue', () => {
  it('marks as runnable exactly the families the engine registers', () => {
    const modelTypes: Record<string, string[]> = { smolvlm: ['idefics3', 'smolvlm'], 'qwen2-vl': ['qwen2_vl'], 'qwen2.5-vl': ['qwen2_5_vl'] };
    for (const entry of catalogue) {
      expect([entry.id, entry.engineSupported]).toEqual([entry.id, modelTypes[entry.family]!.some((t) => supportedModelTypes.includes(t))]);
    }
    expect(catalogue.filter((e) => e.engineSupported).map((e) => e.family)).toEqual(['smolvlm', 'smolvlm', 'qwen2-vl', 'qwen2.5-vl']);
  });

  it('lists the four models with repo, family, class and the shared file list', () => {
    expect(catalogue.map((e) => [e.id, e.repo, e.family, e.class, e.defaultPrecision])).toEqual([
      ['SmolVLM-256M-Instruct', 'HuggingFaceTB/SmolVLM-256M-Instruct', 'smolvlm', 'cpu', 'q8'],
      ['SmolVLM-500M-Instruct', 'HuggingFaceTB/SmolVLM-500M-Instruct', 'smolvlm', 'cpu', 'q8'],
      ['Qwen2-VL-2B-Instruct', 'onnx-community/Qwen2-VL-2B-Instruct', 'qwen2-vl', 'gpu', 'q4f16'],
      ['Qwen2.5-VL-3B-Instruct', 'onnx-community/Qwen2.5-VL-3B-Instruct', 'qwen2.5-vl', 'gpu', 'q4f16'],
    ]);
    for (const entry of catalogue) {
      expect(entry.id).toBe(entry.repo.split('/')[1]);
      expect(entry.minMemoryBytes).toBeGreaterThan(0);
      const required = entry.jsonFiles.filter((j) => !j.optional).map((j) => j.path);
      expect(required).toEqual(expect.arrayContaining(['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json']));
      expect(entry.jsonFiles.find((j) => j.path === 'chat_template.json')?.optional).toBe(true);
      // No invented facts: the data holds no sizes or hashes.
      expect(JSON.stringify(entry)).not.toMatch(/[0-9a-f]{40}|"size"/);
    }
  });

  it('names the three graphs with the precision suffix, forward slashes on every platform', () => {
    expect(graphPaths('q4f16')).toEqual([
      'onnx/vision_encoder_q4f16.onnx',
      'onnx/embed_tokens_q4f16.onnx',
      'onnx/decoder_model_merged_q4f16.onnx',
    ]);
    expect(graphPaths('fp32')).toContain('onnx/decoder_model_merged.onnx');
  });

  it('finds by short id or owner/name; an unknown bare id lists the catalogue', () => {
    expect(findModel('smolvlm-256m-instruct').repo).toBe('HuggingFaceTB/SmolVLM-256M-Instruct');
    expect(findModel('onnx-community/Qwen2-VL-2B-Instruct').id).toBe('Qwen2-VL-2B-Instruct');
    const own = findModel('me/my-finetune');
    expect(own.repo).toBe('me/my-finetune');
    expect(isCatalogued(own)).toBe(false);
    expect(() => findModel('GPT-5')).toThrow(/Unknown model "GPT-5": choose one of SmolVLM-256M-Instruct, SmolVLM-500M-Instruct, Qwen2-VL-2B-Instruct, Qwen2.5-VL-3B-Instruct/);
  });
});

describe('precisions from a Hub listing', () => {
  const entry = findModel('SmolVLM-256M-Instruct');
  const json = ['config.json', 'generation_config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];
  const listing: RemoteFile[] = [
    ...json.map((path) => ({ path, size: 1_000 })),
    { path: 'README.md', size: 5_000 },
    ...graphPaths('q8').map((path) => ({ path, size: 10_000_000 })),
    ...graphPaths('fp32').map((path) => ({ path, size: 40_000_000 })),
    { path: 'onnx/decoder_model_merged.onnx_data', size: 2_000_000_000 },
    { path: 'onnx/decoder_model_merged.onnx_data_1', size: 500_000_000 },
    // An incomplete precision is not offered.
    { path: 'onnx/decoder_model_merged_fp16.onnx', size: 20_000_000 },
  ];

  it('offers only complete precisions, each with its JSON files, graphs and external data summed', () => {
    const available = availablePrecisions(entry, listing);
    expect(available.map((a) => a.precision)).toEqual(['fp32', 'q8']);
    const fp32 = available[0]!;
    expect(fp32.files.map((f) => f.path)).toEqual([
      ...json,
      ...graphPaths('fp32'),
      'onnx/decoder_model_merged.onnx_data',
      'onnx/decoder_model_merged.onnx_data_1',
    ]);
    expect(fp32.bytes).toBe(6_000 + 3 * 40_000_000 + 2_500_000_000);
    expect(available[1]!.bytes).toBe(6_000 + 30_000_000);
    expect(describePrecisions(available)).toBe('fp32 (2.6 GB), q8 (30 MB)');
    expect(precisionFilesFrom(entry, listing, 'fp16')).toBeUndefined();
  });

  it('refuses a repo without the required JSON files', () => {
    expect(() => availablePrecisions(entry, listing.filter((f) => f.path !== 'tokenizer.json'))).toThrow(/lacks tokenizer.json/);
  });
});

describe('recommendModel', () => {
  it.each([
    [false, 4, 'SmolVLM-256M-Instruct', 'q8'],
    [false, 7.7, 'SmolVLM-500M-Instruct', 'q8'], // an "8 GB" machine reports a little less
    [false, 7.2, 'SmolVLM-256M-Instruct', 'q8'],
    [false, 32, 'SmolVLM-500M-Instruct', 'q8'],
    [true, 8, 'Qwen2-VL-2B-Instruct', 'q4f16'],
    [true, 16, 'Qwen2.5-VL-3B-Instruct', 'q4f16'],
    [true, 64, 'Qwen2.5-VL-3B-Instruct', 'q4f16'],
  ])('gpu %s with %s GB → %s %s', (hasGpu, gb, id, precision) => {
    const pick = recommendModel({ hasGpu, totalMemoryBytes: gb * GiB });
    expect([pick.entry.id, pick.precision]).toEqual([id, precision]);
    expect(pick.reason).toMatch(hasGpu ? /a GPU/ : /no GPU/);
  });

  it('only recommends precisions the engine knows', () => {
    for (const entry of catalogue) expect(precisions).toContain(entry.defaultPrecision);
  });
});

describe('models folder', () => {
  it('uses an explicit path, then SCREENASK_MODELS_DIR, then the app data folder per platform', () => {
    expect(modelsDir('/tmp/x', { env: { SCREENASK_MODELS_DIR: '/tmp/y' } })).toBe('/tmp/x');
    expect(modelsDir(undefined, { env: { SCREENASK_MODELS_DIR: '/tmp/y' } })).toBe('/tmp/y');
    expect(modelsDir(undefined, { platform: 'linux', env: {}, homeDir: '/home/a' })).toBe('/home/a/.local/share/ScreenAsk/models');
    expect(modelsDir(undefined, { platform: 'linux', env: { XDG_DATA_HOME: '/data' }, homeDir: '/home/a' })).toBe('/data/ScreenAsk/models');
    expect(modelsDir(undefined, { platform: 'linux', env: { XDG_DATA_HOME: 'relative' }, homeDir: '/home/a' })).toBe(
      '/home/a/.local/share/ScreenAsk/models',
    );
    expect(modelsDir(undefined, { platform: 'darwin', env: {}, homeDir: '/Users/a' })).toBe('/Users/a/Library/Application Support/ScreenAsk/models');
    expect(modelsDir(undefined, { platform: 'win32', env: { APPDATA: 'C:\\Users\\a\\AppData\\Roaming' }, homeDir: 'C:\\Users\\a' })).toBe(
      'C:\\Users\\a\\AppData\\Roaming\\ScreenAsk\\models',
    );
    expect(appDataDir({ platform: 'win32', env: {}, homeDir: 'C:\\Users\\a' })).toBe('C:\\Users\\a\\AppData\\Roaming\\ScreenAsk');
  });

  it('maps owner/name to one folder name and rejects anything that could escape the folder', () => {
    expect(repoFolderName('HuggingFaceTB/SmolVLM-256M-Instruct')).toBe('HuggingFaceTB--SmolVLM-256M-Instruct');
    for (const bad of ['../x', 'a/..', 'a/b/c', 'a', 'a/.hidden', 'a b/c']) expect(() => repoFolderName(bad)).toThrow(/not a Hub repo id/);
  });

  it('isInside guards deletions', () => {
    expect(isInside('/m', '/m/a--b')).toBe(true);
    expect(isInside('/m', '/m')).toBe(false);
    expect(isInside('/m', '/m/../etc')).toBe(false);
    expect(isInside('/m', '/mx/a')).toBe(false);
  });
});
