import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DownloadView, ModelsSnapshot } from '../../electron/shared/ipc.js';
import ModelsView from '../../renderer/src/views/ModelsView.svelte';
import { FakeApi } from './fake-api.js';

let fake: FakeApi;
beforeEach(() => {
  fake = new FakeApi();
});
afterEach(() => fake.dispose());

function snapshot(downloads: DownloadView[] = []): ModelsSnapshot {
  return {
    modelsDir: '/home/me/.screenask/models',
    installed: [
      { id: 'SmolVLM-256M-Instruct', repo: 'HuggingFaceTB/SmolVLM-256M-Instruct', dir: '/m/a', source: 'hub', precisions: ['q8', 'fp32'], complete: true, active: true },
      { id: 'my-folder', dir: '/data/my-folder', source: 'folder', precisions: ['fp32'], complete: true, active: false },
    ],
    catalogue: [
      {
        id: 'SmolVLM-500M-Instruct',
        repo: 'HuggingFaceTB/SmolVLM-500M-Instruct',
        family: 'smolvlm',
        class: 'cpu',
        description: 'A small model that runs well on a laptop CPU.',
        defaultPrecision: 'q8',
        engineSupported: true,
        recommended: true,
      },
      {
        id: 'Qwen2-VL-2B-Instruct',
        repo: 'onnx-community/Qwen2-VL-2B-Instruct',
        family: 'qwen2-vl',
        class: 'gpu',
        description: 'Better answers, needs a GPU.',
        defaultPrecision: 'fp16',
        engineSupported: true,
        recommended: false,
      },
    ],
    downloads,
  };
}

const running = (bytes: number): DownloadView => ({
  id: 'SmolVLM-500M-Instruct',
  precision: 'q8',
  state: 'running',
  bytes,
  total: 200_000_000,
  bytesPerSecond: 5_000_000,
  etaSeconds: (200_000_000 - bytes) / 5_000_000,
  file: 'onnx/decoder_model_merged_quantized.onnx',
});

function card(name: string): HTMLElement {
  return screen.getByRole('article', { name });
}

describe('ModelsView', () => {
  it('shows download progress from snapshots, with Cancel', async () => {
    fake.pushModels(snapshot([running(50_000_000)]));
    render(ModelsView, { props: { api: fake.api } });
    const bar = await screen.findByRole('progressbar');
    expect(bar.getAttribute('aria-valuenow')).toBe('25');
    expect(bar.getAttribute('aria-valuemin')).toBe('0');
    expect(bar.getAttribute('aria-valuemax')).toBe('100');
    expect(bar.getAttribute('aria-valuetext')).toBe('25%, 50 MB of 200 MB');
    const item = card('SmolVLM-500M-Instruct');
    expect(item.textContent).toContain('5.0 MB/s');
    expect(item.textContent).toContain('about 30 s left');

    fake.pushModels(snapshot([running(150_000_000)]));
    await waitFor(() => expect(screen.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('75'));

    await fireEvent.click(within(item).getByRole('button', { name: 'Cancel' }));
    expect(fake.callsTo('cancelPull')).toEqual([{ id: 'SmolVLM-500M-Instruct' }]);
  });

  it('offers Resume after a cancel or a failure, which pulls the same precision again', async () => {
    fake.pushModels(snapshot([{ ...running(80_000_000), state: 'failed', message: 'The connection dropped; try again.' }]));
    render(ModelsView, { props: { api: fake.api } });
    const item = await screen.findByRole('article', { name: 'SmolVLM-500M-Instruct' });
    expect(within(item).getByRole('alert').textContent).toContain('The connection dropped; try again.');
    expect(screen.queryByRole('progressbar')).toBeNull();
    await fireEvent.click(within(item).getByRole('button', { name: 'Resume' }));
    expect(fake.callsTo('pullModel')).toEqual([{ id: 'SmolVLM-500M-Instruct', precision: 'q8' }]);

    fake.pushModels(snapshot([{ ...running(80_000_000), state: 'cancelled' }]));
    await waitFor(() => expect(item.textContent).toContain('Download cancelled at 80 MB of 200 MB.'));
    await fireEvent.click(within(item).getByRole('button', { name: 'Resume' }));
    expect(fake.callsTo('pullModel')).toHaveLength(2);
  });

  it('downloads the chosen precision; sizes come from the Hub on demand, with a clear message offline', async () => {
    fake.pushModels(snapshot());
    render(ModelsView, { props: { api: fake.api } });
    const item = await screen.findByRole('article', { name: 'Qwen2-VL-2B-Instruct' });
    expect(fake.callsTo('remoteModel')).toEqual([]);

    fake.remoteReply = new Error('getaddrinfo ENOTFOUND huggingface.co');
    await fireEvent.click(within(item).getByRole('button', { name: 'Show sizes' }));
    expect((await within(item).findByRole('alert')).textContent).toMatch(/Are you offline\?.*ENOTFOUND/);

    fake.remoteReply = {
      id: 'Qwen2-VL-2B-Instruct',
      sha: 'abc',
      precisions: [
        { precision: 'fp16', bytes: 4_400_000_000 },
        { precision: 'q4', bytes: 1_300_000_000 },
      ],
    };
    await fireEvent.click(within(item).getByRole('button', { name: 'Show sizes' }));
    await waitFor(() => expect(item.textContent).toContain('fp16 4.4 GB · q4 1.3 GB'));
    const precision = within(item).getByRole('combobox', { name: 'Precision' }) as HTMLSelectElement;
    expect(Array.from(precision.options).map((o) => o.value)).toEqual(['fp16', 'q4']);
    await fireEvent.change(precision, { target: { value: 'q4' } });
    await fireEvent.click(within(item).getByRole('button', { name: 'Download' }));
    expect(fake.callsTo('pullModel')).toEqual([{ id: 'Qwen2-VL-2B-Instruct', precision: 'q4' }]);
  });

  it('lists installed models with the active one marked; Use switches, Delete asks first', async () => {
    fake.pushModels(snapshot());
    render(ModelsView, { props: { api: fake.api } });
    const active = await screen.findByRole('article', { name: 'SmolVLM-256M-Instruct' });
    expect(active.getAttribute('aria-current')).toBe('true');
    expect(within(active).queryByRole('button', { name: 'Use' })).toBeNull();
    expect(active.textContent).toContain('q8, fp32');

    const other = card('my-folder');
    await fireEvent.click(within(other).getByRole('button', { name: 'Use' }));
    await waitFor(() => expect(fake.callsTo('setSettings')).toEqual([{ model: 'my-folder' }]));

    await fireEvent.click(within(other).getByRole('button', { name: 'Delete' }));
    expect(fake.callsTo('removeModel')).toEqual([]);
    await fireEvent.click(within(other).getByRole('button', { name: 'Yes, delete' }));
    expect(fake.callsTo('removeModel')).toEqual([{ id: 'my-folder' }]);
  });

  it('imports a folder and reports the missing files', async () => {
    fake.pushModels(snapshot());
    fake.importReply = {
      dir: '/data/broken',
      ok: false,
      family: 'smolvlm',
      precisions: [],
      missing: ['onnx/vision_encoder.onnx', 'tokenizer.json'],
      problems: ['config.json: not valid JSON'],
      notes: ['generation_config.json sets use_cache: false; ScreenAsk keeps the cache on.'],
      summary: 'This folder cannot be used yet: 2 files are missing.',
    };
    render(ModelsView, { props: { api: fake.api } });
    const path = screen.getByRole('textbox', { name: 'Model folder' });

    await fireEvent.input(path, { target: { value: 'relative/path' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Import' }));
    expect(fake.callsTo('importModel')).toEqual([]);
    expect(path.getAttribute('aria-invalid')).toBe('true');

    await fireEvent.input(path, { target: { value: '/data/broken' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Import' }));
    expect(fake.callsTo('importModel')).toEqual([{ dir: '/data/broken' }]);
    const report = await screen.findByTestId('import-report');
    expect(within(report).getByRole('heading', { name: 'Not imported: /data/broken' })).toBeTruthy();
    const missing = within(report).getByRole('list', { name: 'Missing files' });
    expect(within(missing).getAllByRole('listitem').map((li) => li.textContent)).toEqual([
      'onnx/vision_encoder.onnx',
      'tokenizer.json',
    ]);
    expect(report.textContent).toContain('config.json: not valid JSON');
    expect(report.textContent).toContain('This folder cannot be used yet');
  });

  it('imports the folder picked in the system dialog', async () => {
    fake.pushModels(snapshot());
    fake.pickFolderReply = '/data/good';
    fake.importReply = { dir: '/data/good', ok: true, family: 'smolvlm', precisions: ['q8'], missing: [], problems: [], notes: [], summary: 'Ready.' };
    render(ModelsView, { props: { api: fake.api } });
    await fireEvent.click(screen.getByRole('button', { name: 'Choose folder…' }));
    await waitFor(() => expect(fake.callsTo('importModel')).toEqual([{ dir: '/data/good' }]));
    expect((await screen.findByTestId('import-report')).textContent).toContain('Imported: /data/good');
  });
});
