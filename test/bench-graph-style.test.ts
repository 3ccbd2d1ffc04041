/** `npm run bench -- --graph-style S`: the model, plan and ratio keys of each decoder graph style. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../bench/args.js';
import { DEFAULT_MODEL_DIR, modelSource } from '../bench/model.js';
import { benchPlan, keyScenarios } from '../bench/plan.js';

describe('bench --graph-style', () => {
  it('defaults to the primitive model, plan and keys, unchanged', () => {
    const args = parseBenchArgs(['--quick'])!;
    expect(args.graphStyle).toBe('primitive');
    expect(args.modelDir).toBe(DEFAULT_MODEL_DIR);
    expect(modelSource('smolvlm').options).not.toHaveProperty('graphStyle');
    expect(benchPlan(true, 'smolvlm', 0, 'primitive')).toEqual(benchPlan(true, 'smolvlm', 0));
  });

  it('fused: its own cached model of the same weights, the same plan', () => {
    const args = parseBenchArgs(['--quick', '--graph-style', 'fused'])!;
    expect(args.modelDir).toBe(`${DEFAULT_MODEL_DIR}-fused`);
    const source = modelSource('smolvlm', undefined, 'fused');
    expect(source.options).toMatchObject({ graphStyle: 'fused', seed: modelSource('smolvlm').options.seed, precisions: ['fp32', 'q8', 'q4'] });
    expect(source.shapes).toBe('SmolVLM-256M shapes, fused graphs');
    expect(benchPlan(true, 'smolvlm', 0, 'fused')).toEqual(benchPlan(true, 'smolvlm', 0));
  });

  it('gqa: no q8 in the model builder, so the quantized key runs are q4, and q4 runs once', () => {
    const args = parseBenchArgs(['--graph-style', 'gqa'])!;
    expect(path.basename(args.modelDir)).toBe('smolvlm-256m-gqa');
    expect(modelSource('smolvlm', undefined, 'gqa').options.precisions).toEqual(['fp32', 'q4']);
    const k = keyScenarios('smolvlm', 'gqa');
    expect([k.q8Low.precision, k.q8High.precision, k.cachedFp32.precision]).toEqual(['q4', 'q4', 'fp32']);
    const phases = benchPlan(true, 'smolvlm', 0, 'gqa');
    expect(phases.map((p) => p.precision)).toEqual(['fp32', 'q4']);
    expect(phases[1]!.scenarios.every((s) => s.precision === 'q4')).toBe(true);
  });

  it('refuses an unknown style and styles for Qwen', () => {
    expect(() => parseBenchArgs(['--graph-style', 'onnx'])).toThrow(/--graph-style must be one of primitive, fused, gqa, got onnx/);
    expect(() => parseBenchArgs(['--family', 'qwen2.5-vl', '--graph-style', 'gqa'])).toThrow(/--graph-style applies to --family smolvlm only/);
  });
});
