// The loaded model's decoder fast path, in words, where the model in use is shown: Settings (under "Loaded:") and the
// Models view's entry for the active model. Words come from electron/shared/fast-path-words.ts.
import { render, screen, within } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fastPathLines } from '../../electron/shared/fast-path-words.js';
import type { FastPathInfo, ModelsSnapshot } from '../../electron/shared/ipc.js';
import ModelsView from '../../renderer/src/views/ModelsView.svelte';
import SettingsView from '../../renderer/src/views/SettingsView.svelte';
import { FakeApi, status } from './fake-api.js';

let fake: FakeApi;
beforeEach(() => {
  fake = new FakeApi();
});
afterEach(() => fake.dispose());

const applied: FastPathInfo = {
  applied: ['new-kv-outputs', 'cache-read-in-place', 'last-row-logits', 'fused-projections', 'fused-rms-norms'],
  skipped: [],
};
const partly: FastPathInfo = { applied: ['new-kv-outputs'], skipped: ['last-row logits: the logits come from no MatMul'] };
const asShipped: FastPathInfo = { applied: [], skipped: ['WebGPU runs the stock graph with its cache on the device'] };

function pushLoaded(fastPath: FastPathInfo, overrides: { state?: 'ready' | 'loading' } = {}) {
  fake.pushStatus(
    status({
      model: {
        state: overrides.state ?? 'ready',
        info: { family: 'smolvlm', precision: 'q8', precisions: ['q8'], provider: 'cpu', warnings: [], fastPath },
      },
    }),
  );
}

const models = (): ModelsSnapshot => ({
  modelsDir: '/m',
  installed: [
    { id: 'SmolVLM-256M-Instruct', dir: '/m/a', source: 'hub', precisions: ['q8'], complete: true, active: true },
    { id: 'other', dir: '/m/b', source: 'folder', precisions: ['fp32'], complete: true, active: false },
  ],
  catalogue: [],
  downloads: [],
});

describe('fast path words', () => {
  it('words every rewrite id the engine applies, and keeps an unknown id rather than dropping it', () => {
    expect(fastPathLines({ applied: [...applied.applied, 'shared-kv-buffer', 'something-new'], skipped: [] }).applied).toEqual([
      'Each step returns only the new keys and values (the cache is kept, not handed back whole)',
      'KV cache read in place (no copy per token)',
      'Only the last position’s next-word scores are computed (not one row per prompt token)',
      'Projections that share an input run as one matrix multiply',
      'RMSNorm written as plain ops runs as one fused step',
      'GroupQueryAttention writes into the cache in place (no copy per token)',
      'something-new',
    ]);
  });

  it('says the model runs as shipped when nothing applied, keeping the engine’s reason', () => {
    expect(fastPathLines({ applied: [], skipped: ['turned off', 'KV outputs: no present.0.key output'] }).skipped).toEqual([
      'Runs as shipped: turned off',
      'Runs as shipped: returning only new keys and values does not apply — no present.0.key output',
    ]);
  });

  it('names the one rewrite that did not apply when others did', () => {
    expect(fastPathLines(partly).skipped).toEqual(['Scoring only the last position does not apply: the logits come from no MatMul']);
    expect(fastPathLines({ applied: ['new-kv-outputs'], skipped: ['odd: reason'] }).skipped).toEqual(['Not applied: odd: reason']);
  });
});

describe('fast path in the views', () => {
  it('Settings shows the applied fast path under the loaded model', async () => {
    pushLoaded(applied);
    render(SettingsView, { props: { api: fake.api } });
    const box = await screen.findByTestId('fast-path');
    expect(box.textContent).toContain('KV cache read in place (no copy per token)');
    expect(box.textContent).toContain('RMSNorm written as plain ops runs as one fused step');
    expect(box.textContent).not.toContain('Runs as shipped');
  });

  it('Settings says why a model runs as shipped', async () => {
    pushLoaded(asShipped);
    render(SettingsView, { props: { api: fake.api } });
    const box = await screen.findByTestId('fast-path');
    expect(box.textContent).toContain('Runs as shipped: WebGPU runs the stock graph with its cache on the device');
  });

  it('Models shows it on the active model’s entry only, applied and skipped parts', async () => {
    fake.pushModels(models());
    pushLoaded(partly);
    render(ModelsView, { props: { api: fake.api } });
    const active = await screen.findByRole('article', { name: 'SmolVLM-256M-Instruct' });
    const box = await within(active).findByTestId('fast-path');
    expect(box.textContent).toContain('Each step returns only the new keys and values');
    expect(box.textContent).toContain('Scoring only the last position does not apply: the logits come from no MatMul');
    expect(within(screen.getByRole('article', { name: 'other' })).queryByTestId('fast-path')).toBeNull();
  });

  it('Models shows no fast path while the model is still loading', async () => {
    fake.pushModels(models());
    pushLoaded(applied, { state: 'loading' });
    render(ModelsView, { props: { api: fake.api } });
    await screen.findByRole('article', { name: 'SmolVLM-256M-Instruct' });
    expect(screen.queryByTestId('fast-path')).toBeNull();
  });
});
