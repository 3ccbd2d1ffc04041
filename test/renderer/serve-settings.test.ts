// Settings → Serve this model to other apps: off by default; the switch and a valid port are saved, a bad port is
// explained and never sent; while it serves, the base URL on 127.0.0.1 with a Copy button and one line of status.
import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ServingView } from '../../electron/shared/ipc.js';
import SettingsView from '../../renderer/src/views/SettingsView.svelte';
import { FakeApi, status } from './fake-api.js';

let fake: FakeApi;
beforeEach(() => {
  fake = new FakeApi();
  fake.pushStatus(status());
});
afterEach(() => fake.dispose());

const settle = () => new Promise((r) => setTimeout(r, 80));
const withServing = (serving: ServingView) => fake.pushStatus({ ...status(), serving });

describe('Serve this model to other apps', () => {
  it('is off by default, says nothing listens, and shows no address', async () => {
    render(SettingsView, { props: { api: fake.api, saveDelayMs: 10 } });
    const box = (await screen.findByRole('checkbox', { name: 'Serve this model to other apps' })) as HTMLInputElement;
    expect(box.checked).toBe(false);
    expect((screen.getByRole('spinbutton', { name: 'Port' }) as HTMLInputElement).value).toBe('8080');
    expect(screen.getByTestId('serve-status').textContent).toBe('Off: nothing listens.');
    expect(screen.queryByTestId('serve-url')).toBeNull();
    // The page says where it listens and who can reach it.
    expect(screen.getByTestId('serve-settings').textContent).toMatch(/Only on 127\.0\.0\.1: other computers cannot reach it/);
  });

  it('switching it on saves it; once serving, the base URL and Copy show, and Copy copies it', async () => {
    const writeText = vi.fn(async (_text: string) => {});
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    render(SettingsView, { props: { api: fake.api, saveDelayMs: 10 } });
    await fireEvent.click(await screen.findByRole('checkbox', { name: 'Serve this model to other apps' }));
    await settle();
    expect(fake.callsTo('setSettings')).toEqual([{ serveModel: true }]);
    withServing({ state: 'starting', port: 8080 });
    await settle();
    expect(screen.getByTestId('serve-status').textContent).toBe('Starting on port 8080…');
    withServing({ state: 'on', port: 8080, url: 'http://127.0.0.1:8080/v1' });
    await settle();
    expect(screen.getByTestId('serve-url').textContent).toBe('http://127.0.0.1:8080/v1');
    expect(screen.getByTestId('serve-status').textContent).toMatch(/^Serving on 127\.0\.0\.1, port 8080/);
    const section = screen.getByTestId('serve-settings');
    await fireEvent.click(within(section).getByRole('button', { name: 'Copy' }));
    await settle();
    expect(writeText).toHaveBeenCalledWith('http://127.0.0.1:8080/v1');
    expect(within(section).getByText('Copied.')).toBeTruthy();
  });

  it('a port in use is shown as its one line; the address is not', async () => {
    fake.settings = { ...fake.settings, serveModel: true };
    render(SettingsView, { props: { api: fake.api, saveDelayMs: 10 } });
    const message = 'Port 8080 on 127.0.0.1 is in use (another program listens there): choose another port in Settings → Serve this model to other apps, or 0 for any free port.';
    withServing({ state: 'error', message });
    await settle();
    expect((await screen.findByTestId('serve-status')).textContent).toBe(message);
    expect(screen.queryByTestId('serve-url')).toBeNull();
  });

  it('saves a valid port (0 included), explains a bad one and never sends it', async () => {
    render(SettingsView, { props: { api: fake.api, saveDelayMs: 10 } });
    const port = (await screen.findByRole('spinbutton', { name: 'Port' })) as HTMLInputElement;
    await fireEvent.input(port, { target: { value: '80' } });
    await settle();
    expect(port.getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByText('Port: must be from 1024 to 65535, or 0 for any free port.')).toBeTruthy();
    await fireEvent.input(port, { target: { value: '70000' } });
    await settle();
    expect(fake.callsTo('setSettings')).toEqual([]);
    await fireEvent.change(port, { target: { value: '0' } });
    await settle();
    expect(fake.callsTo('setSettings')).toEqual([{ servePort: 0 }]);
    expect(port.getAttribute('aria-invalid')).toBeNull();
  });

  it('waiting for a model says so', async () => {
    fake.settings = { ...fake.settings, serveModel: true };
    render(SettingsView, { props: { api: fake.api, saveDelayMs: 10 } });
    withServing({ state: 'waiting' });
    await settle();
    expect((await screen.findByTestId('serve-status')).textContent).toBe('Waiting for the model to load: it is served as soon as it is.');
  });
});
