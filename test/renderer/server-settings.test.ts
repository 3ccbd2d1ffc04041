// Settings → Where answers come from, and the 'answered by' figure: the page chooses the backend, saves a validated
// address, lists the server's models through the main process, sends a key but only ever shows whether one is set.
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import StatsLine from '../../renderer/src/components/StatsLine.svelte';
import SettingsView from '../../renderer/src/views/SettingsView.svelte';
import { FakeApi, serverStats, stats, status } from './fake-api.js';

let fake: FakeApi;
beforeEach(() => {
  fake = new FakeApi();
  fake.pushStatus(status());
});
afterEach(() => fake.dispose());

const settle = () => new Promise((r) => setTimeout(r, 80));

describe('Where answers come from', () => {
  it('this computer by default: no server fields; choosing a server saves it and shows them', async () => {
    render(SettingsView, { props: { api: fake.api, saveDelayMs: 10 } });
    const backend = (await screen.findByRole('combobox', { name: 'Answers come from' })) as HTMLSelectElement;
    expect(backend.value).toBe('local');
    expect(screen.queryByTestId('server-settings')).toBeNull();
    await fireEvent.change(backend, { target: { value: 'server' } });
    await settle();
    expect(fake.callsTo('setSettings')).toContainEqual({ backend: 'server' });
    expect(await screen.findByTestId('server-settings')).toBeTruthy();
    expect(screen.getByTestId('server-privacy').textContent).toMatch(/capture .* go to\s+this server/);
  });

  it('refuses an address with a password in it, saves a valid one in one spelling', async () => {
    fake.settings = { ...fake.settings, backend: 'server' };
    render(SettingsView, { props: { api: fake.api, saveDelayMs: 10 } });
    const address = (await screen.findByRole('textbox', { name: 'Server address' })) as HTMLInputElement;
    await fireEvent.input(address, { target: { value: 'http://me:pw@gpu-box:8000/v1' } });
    await settle();
    expect(address.getAttribute('aria-invalid')).toBe('true');
    expect(fake.callsTo('setSettings')).toEqual([]);
    await fireEvent.change(address, { target: { value: 'http://GPU-box:8000/v1/' } });
    await settle();
    expect(fake.callsTo('setSettings')).toEqual([{ serverUrl: 'http://gpu-box:8000/v1' }]);
  });

  it('lists the models through the main process and saves the one chosen', async () => {
    fake.settings = { ...fake.settings, backend: 'server', serverUrl: 'http://gpu-box:8000/v1' };
    fake.serverModelsReply = ['Qwen/Qwen2.5-VL-7B-Instruct', 'Qwen/Qwen2.5-VL-72B-Instruct'];
    render(SettingsView, { props: { api: fake.api, saveDelayMs: 10 } });
    await fireEvent.click(await screen.findByRole('button', { name: 'List models' }));
    const model = (await screen.findByRole('combobox', { name: 'Server model' })) as HTMLSelectElement;
    await waitFor(() => expect(within(model).getAllByRole('option').map((o) => o.textContent)).toContain('Qwen/Qwen2.5-VL-72B-Instruct'));
    expect(fake.callsTo('listServerModels')).toEqual([{ serverUrl: 'http://gpu-box:8000/v1' }]);
    await fireEvent.change(model, { target: { value: 'Qwen/Qwen2.5-VL-72B-Instruct' } });
    await settle();
    expect(fake.callsTo('setSettings')).toContainEqual({ serverModel: 'Qwen/Qwen2.5-VL-72B-Instruct' });
  });

  it('a server that cannot be listed: its one-line error by the field', async () => {
    fake.settings = { ...fake.settings, backend: 'server', serverUrl: 'http://gpu-box:8000/v1' };
    fake.serverModelsReply = new Error('The server at http://gpu-box:8000/v1 refused the API key (401): check the key in Settings.');
    render(SettingsView, { props: { api: fake.api, saveDelayMs: 10 } });
    await fireEvent.click(await screen.findByRole('button', { name: 'List models' }));
    expect(await screen.findByText(/refused the API key \(401\)/)).toBeTruthy();
  });

  it('sends the key to the main process, clears the box, and shows only that one is set, and where it is kept', async () => {
    fake.settings = { ...fake.settings, backend: 'server', serverUrl: 'http://gpu-box:8000/v1' };
    fake.serverKeyState = { set: false, kept: 'until-quit', note: 'No keyring (GNOME Keyring, KWallet) was found: …' };
    render(SettingsView, { props: { api: fake.api, saveDelayMs: 10 } });
    const key = (await screen.findByLabelText('API key')) as HTMLInputElement;
    expect(await screen.findByRole('note')).toHaveProperty('textContent', 'No keyring (GNOME Keyring, KWallet) was found: …');
    await fireEvent.input(key, { target: { value: 'sk-secret-42' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save key' }));
    await settle();
    expect(fake.callsTo('setServerKey')).toEqual([{ apiKey: 'sk-secret-42' }]);
    expect(key.value).toBe('');
    expect(document.body.textContent).not.toContain('sk-secret-42');
    expect(document.body.textContent).toContain('A key is set for this server (kept in memory until you quit).');
    await fireEvent.click(screen.getByRole('button', { name: 'Forget key' }));
    await settle();
    expect(fake.callsTo('setServerKey')).toEqual([{ apiKey: 'sk-secret-42' }, { apiKey: null }]);
  });
});

describe("the 'answered by' figure", () => {
  it('an answer from a server names the model and host in its figures line; a local answer does not', () => {
    render(StatsLine, { props: { stats: serverStats() } });
    expect(screen.getByTestId('stats').textContent).toBe('9 tokens · first token 610 ms · 41 tokens/s · answered by Qwen/Qwen2.5-VL-7B-Instruct on gpu-box:8000');
  });

  it('a local answer keeps its own figures', () => {
    render(StatsLine, { props: { stats: stats() } });
    expect(screen.getByTestId('stats').textContent).not.toContain('answered by');
    expect(screen.getByTestId('stats').textContent).toContain('CPU');
  });
});
