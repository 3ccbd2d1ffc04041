import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import SettingsView from '../../renderer/src/views/SettingsView.svelte';
import { FakeApi, stats, status } from './fake-api.js';

const SAVE_DELAY = 20;
let fake: FakeApi;
beforeEach(() => {
  fake = new FakeApi();
  fake.pushStatus(
    status({
      model: {
        info: {
          family: 'smolvlm',
          precision: 'q8',
          precisions: ['fp32', 'q8', 'q4'],
          provider: 'cpu',
          imageTokens: { low: 64, high: 1088 },
          warnings: [],
        },
      },
    }),
  );
});
afterEach(() => fake.dispose());

async function renderSettings() {
  render(SettingsView, { props: { api: fake.api, saveDelayMs: SAVE_DELAY } });
  return (await screen.findByRole('spinbutton', { name: 'Max new tokens' })) as HTMLInputElement;
}
const settle = () => new Promise((r) => setTimeout(r, SAVE_DELAY * 4));

/** The text of the elements an input's aria-describedby points at. */
function description(input: HTMLElement): string {
  return (input.getAttribute('aria-describedby') ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map((id) => document.getElementById(id)?.textContent ?? '')
    .join(' ');
}

describe('SettingsView', () => {
  it('explains an out-of-range max new tokens next to the field and does not save it', async () => {
    const input = await renderSettings();
    await fireEvent.input(input, { target: { value: '99999' } });
    await fireEvent.change(input);
    expect(input.getAttribute('aria-invalid')).toBe('true');
    expect(description(input)).toContain('Max new tokens must be at most 8192 (got 99999).');
    // The error comes first in aria-describedby: it is what a screen reader should say before the hint.
    const first = input.getAttribute('aria-describedby')?.split(' ')[0] ?? '';
    expect(document.getElementById(first)?.textContent).toBe('Max new tokens must be at most 8192 (got 99999).');
    await settle();
    expect(fake.callsTo('setSettings')).toEqual([]);
  });

  it('saves a valid max new tokens as a number, and an emptied field as the model default', async () => {
    fake.settings = { ...fake.settings, maxNewTokens: 256 };
    const input = await renderSettings();
    expect(input.value).toBe('256');
    await fireEvent.input(input, { target: { value: '512' } });
    expect(input.hasAttribute('aria-invalid')).toBe(false);
    await waitFor(() => expect(fake.callsTo('setSettings')).toEqual([{ maxNewTokens: 512 }]));
    expect(await screen.findByText('Max new tokens saved.')).toBeTruthy();

    await fireEvent.input(input, { target: { value: '' } });
    await waitFor(() => expect(fake.callsTo('setSettings')).toEqual([{ maxNewTokens: 512 }, { maxNewTokens: null }]));
  });

  it('fixing an invalid value clears its error and saves the fix', async () => {
    await renderSettings();
    const topP = screen.getByRole('spinbutton', { name: 'Top-p' });
    await fireEvent.input(topP, { target: { value: '0' } });
    expect(description(topP)).toMatch(/Top-p must be more than 0/);
    await fireEvent.input(topP, { target: { value: '0.9' } });
    expect(topP.hasAttribute('aria-invalid')).toBe(false);
    await waitFor(() => expect(fake.callsTo('setSettings')).toEqual([{ topP: 0.9 }]));
  });

  it('shows what the settings store refused, inline', async () => {
    fake.setSettingsReply = () => ({ ok: false, errors: [{ field: 'temperature', message: 'Temperature: refused by the store.' }] });
    await renderSettings();
    const temperature = screen.getByRole('spinbutton', { name: 'Temperature' });
    await fireEvent.input(temperature, { target: { value: '0.7' } });
    await fireEvent.change(temperature);
    await waitFor(() => expect(description(temperature)).toContain('Temperature: refused by the store.'));
    expect(temperature.getAttribute('aria-invalid')).toBe('true');
  });

  it('offers only the loaded model’s precisions, plus auto', async () => {
    await renderSettings();
    const select = screen.getByRole('combobox', { name: 'Precision' }) as HTMLSelectElement;
    expect(Array.from(select.options).map((o) => o.value)).toEqual(['auto', 'fp32', 'q8', 'q4']);
    await fireEvent.change(select, { target: { value: 'q4' } });
    await waitFor(() => expect(fake.callsTo('setSettings')).toEqual([{ precision: 'q4' }]));
  });

  it('records a hotkey as a canonical accelerator, refuses an unusable one, and clears it', async () => {
    await renderSettings();
    const hotkey = screen.getByRole('textbox', { name: 'Hotkey' });
    expect((hotkey as HTMLInputElement).value).toBe('CommandOrControl+Shift+Space');

    await fireEvent.keyDown(hotkey, { key: 'A', code: 'KeyA', shiftKey: true });
    expect(hotkey.getAttribute('aria-invalid')).toBe('true');
    expect(description(hotkey)).toMatch(/Add CommandOrControl, Alt or Super/);

    await fireEvent.keyDown(hotkey, { key: 'Control', code: 'ControlLeft', ctrlKey: true });
    expect((hotkey as HTMLInputElement).value).toBe('CommandOrControl+…');
    await fireEvent.keyDown(hotkey, { key: 'k', code: 'KeyK', ctrlKey: true, altKey: true });
    await waitFor(() => expect(fake.callsTo('setSettings')).toEqual([{ hotkey: 'CommandOrControl+Alt+K' }]));
    expect(hotkey.hasAttribute('aria-invalid')).toBe(false);
    await waitFor(() => expect((hotkey as HTMLInputElement).value).toBe('CommandOrControl+Alt+K'));

    // Tab is not recorded: the keyboard can always leave the field.
    const tab = await fireEvent.keyDown(hotkey, { key: 'Tab', code: 'Tab' });
    expect(tab).toBe(true);

    await fireEvent.click(screen.getByRole('button', { name: 'Clear hotkey' }));
    await waitFor(() => expect(fake.callsTo('setSettings')).toHaveLength(2));
    expect(fake.callsTo('setSettings')[1]).toEqual({ hotkey: null });
  });

  it('KV cache: saves the switch and shows its measured effect', async () => {
    fake.pushStatus(
      status({
        lastAnswers: {
          cacheOn: stats({ cache: 'on', decodeTokensPerSecond: 24, timeToFirstTokenMs: 800 }),
          cacheOff: stats({ cache: 'off', decodeTokensPerSecond: 6, timeToFirstTokenMs: 900 }),
        },
      }),
    );
    await renderSettings();
    const cache = screen.getByRole('checkbox', { name: 'KV cache' }) as HTMLInputElement;
    expect(cache.checked).toBe(true);
    expect(screen.getByTestId('cache-effect').textContent).toBe(
      'Last answer with the cache on: 24 tokens/s, first token after 800 ms. With it off: 6.0 tokens/s, first token after 900 ms. With the cache, decoding was 4.0× as fast.',
    );
    await fireEvent.click(cache);
    await waitFor(() => expect(fake.callsTo('setSettings')).toEqual([{ useCache: false }]));
  });

  it('image detail shows the cost in image tokens; device and the screenshot opt-in save', async () => {
    await renderSettings();
    const detail = screen.getByRole('combobox', { name: 'Image detail' }) as HTMLSelectElement;
    expect(Array.from(detail.options).map((o) => o.textContent)).toEqual(['Low — 64 image tokens', 'High — 1088 image tokens']);
    await fireEvent.change(screen.getByRole('combobox', { name: 'Device' }), { target: { value: 'cpu' } });
    await fireEvent.click(screen.getByRole('checkbox', { name: 'Save screenshots in history' }));
    await waitFor(() =>
      expect(fake.callsTo('setSettings')).toEqual([{ device: 'cpu' }, { saveScreenshotsInHistory: true }]),
    );
  });

  it('model: choose an installed model, or a folder', async () => {
    fake.pushModels({
      modelsDir: '/models',
      catalogue: [],
      downloads: [],
      installed: [
        { id: 'SmolVLM-256M-Instruct', dir: '/models/a', source: 'hub', precisions: ['q8'], complete: true, active: true },
        { id: 'my-model', dir: '/data/my-model', source: 'folder', precisions: ['fp32'], complete: true, active: false },
        { id: 'half', dir: '/models/half', source: 'hub', precisions: [], complete: false, active: false },
      ],
    });
    fake.settings = { ...fake.settings, model: 'SmolVLM-256M-Instruct' };
    await renderSettings();
    const model = screen.getByRole('combobox', { name: 'Model' }) as HTMLSelectElement;
    expect(Array.from(model.options).map((o) => o.value)).toEqual(['SmolVLM-256M-Instruct', 'my-model']);
    expect(model.value).toBe('SmolVLM-256M-Instruct');
    await fireEvent.change(model, { target: { value: 'my-model' } });
    await waitFor(() => expect(fake.callsTo('setSettings')).toEqual([{ model: 'my-model' }]));

    fake.pickFolderReply = '/home/me/models/Other';
    const field = model.closest('.field') as HTMLElement;
    await fireEvent.click(within(field).getByRole('button', { name: 'A folder…' }));
    await waitFor(() => expect(fake.callsTo('setSettings')).toHaveLength(2));
    expect(fake.callsTo('setSettings')[1]).toEqual({ model: '/home/me/models/Other' });
  });

  it('every control has its accessible name', async () => {
    await renderSettings();
    for (const name of ['Max new tokens', 'Temperature', 'Top-p', 'Top-k', 'Repetition penalty']) {
      expect(screen.getByRole('spinbutton', { name })).toBeTruthy();
    }
    for (const name of ['Model', 'Precision', 'Device', 'Image detail']) {
      expect(screen.getByRole('combobox', { name })).toBeTruthy();
    }
    expect(screen.getByRole('checkbox', { name: 'KV cache' })).toBeTruthy();
    expect(screen.getByRole('checkbox', { name: 'Save screenshots in history' })).toBeTruthy();
    expect(screen.getByRole('textbox', { name: 'Hotkey' })).toBeTruthy();
  });
});
