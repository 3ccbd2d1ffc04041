import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import App from '../../renderer/src/App.svelte';
import OverlayView from '../../renderer/src/views/OverlayView.svelte';
import { FakeApi, status } from './fake-api.js';

let fake: FakeApi;
beforeEach(() => {
  fake = new FakeApi();
  fake.pushStatus(status());
  Object.defineProperty(window, 'screenask', { value: fake.api, configurable: true });
});
afterEach(() => {
  fake.dispose();
  Reflect.deleteProperty(window, 'screenask');
  location.hash = '';
  vi.restoreAllMocks();
});

describe('App routing', () => {
  it('defaults to the ask view', async () => {
    location.hash = '';
    render(App);
    expect(await screen.findByRole('textbox', { name: 'Question' })).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Ask' })).toBeTruthy();
  });

  it('the settings window switches tabs through the hash', async () => {
    location.hash = '#models';
    render(App);
    expect(await screen.findByRole('heading', { level: 1, name: 'Models' })).toBeTruthy();
    expect(screen.getByRole('link', { name: 'Models' }).getAttribute('aria-current')).toBe('page');
    expect(screen.getByRole('link', { name: 'Settings' }).getAttribute('href')).toBe('#settings');

    location.hash = '#history';
    window.dispatchEvent(new HashChangeEvent('hashchange'));
    expect(await screen.findByRole('heading', { level: 1, name: 'History' })).toBeTruthy();
    expect(screen.getByRole('searchbox', { name: 'Search history' })).toBeTruthy();
    expect(screen.getByRole('link', { name: 'History' }).getAttribute('aria-current')).toBe('page');
    expect(document.title).toBe('ScreenAsk — History');
  });

  it('says so when the app bridge is missing', async () => {
    Reflect.deleteProperty(window, 'screenask');
    render(App);
    expect(screen.getByRole('alert').textContent).toMatch(/only works inside the ScreenAsk app/);
  });
});

describe('OverlayView', () => {
  beforeEach(() => {
    // jsdom has no PointerEvent; a MouseEvent with a pointerId is what the view reads.
    if (!('PointerEvent' in window)) {
      class PointerEventShim extends MouseEvent {
        readonly pointerId = 1;
      }
      Object.defineProperty(window, 'PointerEvent', { value: PointerEventShim, configurable: true });
    }
  });

  it('sends the dragged rectangle in client coordinates', async () => {
    render(OverlayView, { props: { api: fake.api } });
    const surface = screen.getByRole('application', { name: 'Select a region of the screen' });
    await fireEvent.pointerDown(surface, { button: 0, clientX: 300, clientY: 200 });
    await fireEvent.pointerMove(surface, { clientX: 100, clientY: 120 });
    expect(screen.getByTestId('selection').style.width).toBe('200px');
    await fireEvent.pointerUp(surface, { clientX: 100, clientY: 120 });
    await waitFor(() =>
      expect(fake.callsTo('capture')).toEqual([{ mode: 'region', region: { x: 100, y: 120, width: 200, height: 80 } }]),
    );
  });

  it('ignores a click, and Esc closes the window', async () => {
    const close = vi.spyOn(window, 'close').mockImplementation(() => {});
    render(OverlayView, { props: { api: fake.api } });
    const surface = screen.getByRole('application');
    await fireEvent.pointerDown(surface, { button: 0, clientX: 10, clientY: 10 });
    await fireEvent.pointerUp(surface, { clientX: 11, clientY: 12 });
    expect(fake.callsTo('capture')).toEqual([]);
    await fireEvent.keyDown(window, { key: 'Escape' });
    expect(close).toHaveBeenCalledTimes(1);
  });
});
