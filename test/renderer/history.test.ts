import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HistoryEntry } from '../../electron/shared/ipc.js';
import HistoryView from '../../renderer/src/views/HistoryView.svelte';
import { FakeApi, stats } from './fake-api.js';

const entries: HistoryEntry[] = [
  {
    id: 'h1',
    askedAt: '2025-01-01T10:00:00.000Z',
    model: 'SmolVLM-256M-Instruct',
    turns: [{ question: 'What is this cat doing?', answer: 'It is **sleeping**.', stats: stats() }],
    hasScreenshot: false,
  },
  {
    id: 'h2',
    askedAt: '2025-02-01T10:00:00.000Z',
    model: 'SmolVLM-256M-Instruct',
    turns: [
      { question: 'Read the error', answer: 'It says <img src=x onerror=alert(1)>' },
      { question: 'How to fix it?', answer: '1. Restart\n2. Retry', incomplete: true },
    ],
    hasScreenshot: true,
  },
];

let fake: FakeApi;
beforeEach(() => {
  fake = new FakeApi();
  fake.history = [...entries];
});
afterEach(() => fake.dispose());

describe('HistoryView', () => {
  it('lists conversations newest first, with sanitized answers and stats', async () => {
    render(HistoryView, { props: { api: fake.api, searchDelayMs: 10 } });
    await waitFor(() => expect(screen.getAllByRole('article')).toHaveLength(2));
    expect(fake.callsTo('listHistory')).toEqual([{}]);
    const [first, second] = screen.getAllByRole('article');
    expect(first?.querySelector('h2')?.textContent).toBe('Read the error');
    expect(second?.querySelector('h2')?.textContent).toBe('What is this cat doing?');
    expect(first?.querySelector('img')).toBeNull();
    expect(first?.textContent).toContain('How to fix it?');
    expect(first?.textContent).toContain('cut short');
    expect(within(second as HTMLElement).getByTestId('stats').textContent).toContain('cache on');
    expect(screen.getByRole('link', { name: 'Save screenshots in history' }).getAttribute('href')).toBe('#settings');
  });

  it('search is debounced and sends the query', async () => {
    render(HistoryView, { props: { api: fake.api, searchDelayMs: 10 } });
    await waitFor(() => expect(screen.getAllByRole('article')).toHaveLength(2));
    const search = screen.getByRole('searchbox', { name: 'Search history' });
    await fireEvent.input(search, { target: { value: 'c' } });
    await fireEvent.input(search, { target: { value: 'ca' } });
    await fireEvent.input(search, { target: { value: 'cat' } });
    await waitFor(() => expect(fake.callsTo('listHistory')).toEqual([{}, { query: 'cat' }]));
    await waitFor(() => expect(screen.getAllByRole('article')).toHaveLength(1));
    expect(screen.getByRole('article').querySelector('h2')?.textContent).toBe('What is this cat doing?');

    await fireEvent.input(search, { target: { value: 'zebra' } });
    expect(await screen.findByText('Nothing matches “zebra”.')).toBeTruthy();
  });

  it('deletes one conversation, and clears all after confirmation', async () => {
    render(HistoryView, { props: { api: fake.api, searchDelayMs: 10 } });
    await waitFor(() => expect(screen.getAllByRole('article')).toHaveLength(2));
    const target = screen.getAllByRole('article')[1] as HTMLElement;
    await fireEvent.click(within(target).getByRole('button', { name: 'Delete' }));
    await fireEvent.click(within(target).getByRole('button', { name: 'Yes, delete' }));
    expect(fake.callsTo('deleteHistory')).toEqual([{ id: 'h1' }]);
    await waitFor(() => expect(screen.getAllByRole('article')).toHaveLength(1));

    await fireEvent.click(screen.getByRole('button', { name: 'Clear history' }));
    expect(fake.callsTo('clearHistory')).toEqual([]);
    await fireEvent.click(screen.getByRole('button', { name: 'Yes, clear all' }));
    expect(fake.callsTo('clearHistory')).toHaveLength(1);
    expect(await screen.findByText('No conversations yet.')).toBeTruthy();
  });

  it('fetches a kept screenshot only on demand', async () => {
    render(HistoryView, { props: { api: fake.api, searchDelayMs: 10 } });
    await waitFor(() => expect(screen.getAllByRole('article')).toHaveLength(2));
    expect(screen.getAllByRole('button', { name: 'Show screenshot' })).toHaveLength(1);
    expect(fake.callsTo('historyScreenshot')).toEqual([]);
    await fireEvent.click(screen.getByRole('button', { name: 'Show screenshot' }));
    expect(fake.callsTo('historyScreenshot')).toEqual([{ id: 'h2' }]);
    const img = (await screen.findByRole('img')) as HTMLImageElement;
    expect(img.src).toMatch(/^data:image\/png;/);
  });
});
