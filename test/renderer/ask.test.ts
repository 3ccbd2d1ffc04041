import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import AskView from '../../renderer/src/views/AskView.svelte';
import { FakeApi, stats, status } from './fake-api.js';

let fake: FakeApi;
beforeEach(() => {
  fake = new FakeApi();
  fake.pushStatus(status());
});
afterEach(() => {
  fake.dispose();
  vi.restoreAllMocks();
});

function questionBox(): HTMLTextAreaElement {
  return screen.getByRole('textbox', { name: 'Question' }) as HTMLTextAreaElement;
}

async function askQuestion(text: string, how: 'enter' | 'button' = 'enter') {
  await fireEvent.input(questionBox(), { target: { value: text } });
  if (how === 'enter') await fireEvent.keyDown(questionBox(), { key: 'Enter' });
  else await fireEvent.click(screen.getByRole('button', { name: 'Ask' }));
}

/** Waits until the view has claimed the stream (the Stop button shows while an answer is live). */
async function answered(askId: string, text: string, statsCache: 'on' | 'off' = 'on') {
  fake.emit(askId, { type: 'token', text });
  fake.emit(askId, { type: 'done', stats: stats({ cache: statsCache }) });
}

describe('AskView', () => {
  it('never navigates on a link in an answer: a click asks the app to open it (which asks the user)', async () => {
    render(AskView, { props: { api: fake.api } });
    await askQuestion('Where are the docs?');
    await waitFor(() => expect(fake.callsTo('ask')).toHaveLength(1));
    await answered('ask-1', 'See [the handbook](https://docs.example/handbook#errors) or [this](javascript:alert(1)).');
    const link = await screen.findByRole('link', { name: 'the handbook' });
    const click = new MouseEvent('click', { bubbles: true, cancelable: true });
    link.dispatchEvent(click);
    expect(click.defaultPrevented).toBe(true);
    expect(fake.callsTo('openLink')).toEqual([{ url: 'https://docs.example/handbook#errors' }]);
    // The javascript: link lost its href in the sanitizer: nothing to open.
    expect(screen.queryByRole('link', { name: 'this' })).toBeNull();
  });

  it('asks, streams tokens as Markdown, and shows the stats line when done', async () => {
    render(AskView, { props: { api: fake.api } });
    await askQuestion('What is on the screen?');
    await waitFor(() => expect(fake.callsTo('ask')).toEqual([{ question: 'What is on the screen?' }]));
    expect(questionBox().value).toBe('');

    fake.emit('ask-1', { type: 'progress', stage: 'reading-prompt' });
    expect(await screen.findByText('Reading your question…')).toBeTruthy();

    fake.emit('ask-1', { type: 'token', text: 'A **terminal** with' });
    fake.emit('ask-1', { type: 'token', text: ' `ls` output' });
    await waitFor(() => {
      const answer = screen.getByTestId('answer');
      expect(answer.querySelector('strong')?.textContent).toBe('terminal');
      expect(answer.querySelector('code')?.textContent).toBe('ls');
    });
    expect(screen.queryByTestId('stats')).toBeNull();
    expect(screen.getByRole('button', { name: 'Stop' })).toBeTruthy();

    fake.emit('ask-1', {
      type: 'done',
      stats: stats({ cache: 'off', timeToFirstTokenMs: 840, decodeTokensPerSecond: 23.5, generatedTokens: 12 }),
    });
    const line = await screen.findByTestId('stats');
    expect(line.textContent).toBe('12 tokens · first token 840 ms · 24 tokens/s · cache off · CPU · q8');
    expect(screen.queryByRole('button', { name: 'Stop' })).toBeNull();
  });

  it('shows the screen being read while the question is typed, then how much was read ahead in the stats', async () => {
    render(AskView, { props: { api: fake.api } });
    fake.trigger({ captureId: 'cap-1', width: 1920, height: 1080 });
    fake.readAhead({ captureId: 'cap-1', progress: { stage: 'encoding', done: 5, total: 13 } });
    expect((await screen.findByTestId('read-ahead')).textContent).toBe('Reading the screen… 5/13');
    // Another capture's progress is not this window's.
    fake.readAhead({ captureId: 'cap-0', progress: { stage: 'ready', tokens: 880 } });
    fake.readAhead({ captureId: 'cap-1', progress: { stage: 'prefill', tokens: 880 } });
    await waitFor(() => expect(screen.getByTestId('read-ahead').textContent).toBe('Reading the screen… almost done'));
    // The question box stays usable all along.
    expect(questionBox().disabled).toBe(false);
    fake.readAhead({ captureId: 'cap-1', progress: { stage: 'ready', tokens: 880 } });
    await waitFor(() => expect(screen.getByTestId('read-ahead').textContent).toMatch(/^Screen read/));

    await askQuestion('What does this error mean?');
    await waitFor(() => expect(fake.callsTo('ask')).toEqual([{ question: 'What does this error mean?', captureId: 'cap-1' }]));
    expect(screen.queryByTestId('read-ahead')).toBeNull();
    fake.emit('ask-1', { type: 'token', text: 'It means…' });
    fake.emit('ask-1', { type: 'done', stats: stats({ generatedTokens: 3, timeToFirstTokenMs: 90, readAhead: { tokens: 880, ms: 6200 } }) });
    expect((await screen.findByTestId('stats')).textContent).toContain('first token 90 ms · screen read ahead (880 tokens, 6.2 s)');
  });

  it('says "cache on" when the answer used the KV cache', async () => {
    render(AskView, { props: { api: fake.api } });
    await askQuestion('Hi', 'button');
    await waitFor(() => expect(fake.callsTo('ask')).toHaveLength(1));
    await answered('ask-1', 'Hello', 'on');
    expect((await screen.findByTestId('stats')).textContent).toContain('cache on');
  });

  it('sends on Enter but not on Shift+Enter', async () => {
    render(AskView, { props: { api: fake.api } });
    await fireEvent.input(questionBox(), { target: { value: 'line one' } });
    const shiftEnter = await fireEvent.keyDown(questionBox(), { key: 'Enter', shiftKey: true });
    // Not prevented: the textarea inserts its newline as usual.
    expect(shiftEnter).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(fake.callsTo('ask')).toEqual([]);
    expect(questionBox().value).toBe('line one');

    const enter = await fireEvent.keyDown(questionBox(), { key: 'Enter' });
    expect(enter).toBe(false);
    await waitFor(() => expect(fake.callsTo('ask')).toEqual([{ question: 'line one' }]));
  });

  it('Stop cancels the running answer and marks it stopped, not failed', async () => {
    render(AskView, { props: { api: fake.api } });
    await askQuestion('Long answer please');
    await waitFor(() => expect(fake.callsTo('ask')).toHaveLength(1));
    fake.emit('ask-1', { type: 'token', text: 'Once upon' });
    await fireEvent.click(await screen.findByRole('button', { name: 'Stop' }));
    expect(fake.callsTo('cancel')).toEqual([{ askId: 'ask-1' }]);
    // The main process ends a cancelled answer with an error message "cancelled".
    fake.emit('ask-1', { type: 'error', message: 'cancelled' });
    expect(await screen.findByText('Stopped.')).toBeTruthy();
    expect(screen.queryByRole('alert')).toBeNull();
    expect(screen.getByTestId('answer').textContent).toContain('Once upon');
  });

  it('follow-ups name the conversation by the first ask’s id; a new trigger starts a new conversation', async () => {
    render(AskView, { props: { api: fake.api } });
    fake.trigger({ captureId: 'cap-1', width: 1920, height: 1080 });
    const img = (await screen.findByRole('img')) as HTMLImageElement;
    expect(img.alt).toContain('1920 by 1080');
    expect(fake.callsTo('capturePreview')).toEqual([{ captureId: 'cap-1' }]);

    await askQuestion('What app is this?');
    await waitFor(() => expect(fake.callsTo('ask')).toEqual([{ question: 'What app is this?', captureId: 'cap-1' }]));
    await answered('ask-1', 'A browser.');
    await screen.findByTestId('stats');

    await askQuestion('Which site?');
    await waitFor(() => expect(fake.callsTo('followUp')).toEqual([{ askId: 'ask-1', question: 'Which site?' }]));
    await answered('ask-2', 'A news site.');
    await waitFor(() => expect(screen.getAllByTestId('stats')).toHaveLength(2));

    await askQuestion('And the headline?');
    await waitFor(() => expect(fake.callsTo('followUp')).toHaveLength(2));
    expect(fake.callsTo('followUp')[1]).toEqual({ askId: 'ask-1', question: 'And the headline?' });
    await answered('ask-3', 'Rain.');
    await waitFor(() => expect(screen.getAllByTestId('answer')).toHaveLength(3));
    // The turns read as a list of questions, each with its answer.
    const conversation = screen.getByRole('region', { name: 'Conversation' });
    expect(within(conversation).getAllByRole('article').map((a) => a.querySelector('h2')?.textContent)).toEqual([
      'Question 1: What app is this?',
      'Question 2: Which site?',
      'Question 3: And the headline?',
    ]);

    fake.trigger({ captureId: 'cap-2', width: 800, height: 600 });
    await waitFor(() => expect(screen.queryAllByTestId('answer')).toHaveLength(0));
    await askQuestion('Now what?');
    await waitFor(() => expect(fake.callsTo('ask')).toHaveLength(2));
    expect(fake.callsTo('ask')[1]).toEqual({ question: 'Now what?', captureId: 'cap-2' });
    expect(fake.callsTo('followUp')).toHaveLength(2);
  });

  it('works when the stream port arrives after ask() resolved', async () => {
    fake.portBeforeReply = false;
    render(AskView, { props: { api: fake.api } });
    await askQuestion('Text only?');
    await waitFor(() => expect(fake.callsTo('ask')).toEqual([{ question: 'Text only?' }]));
    await new Promise((r) => setTimeout(r, 20));
    await answered('ask-1', 'Yes.');
    await waitFor(() => expect(screen.getByTestId('answer').textContent).toContain('Yes.'));
  });

  it('sanitizes the streamed answer and never navigates on link clicks', async () => {
    render(AskView, { props: { api: fake.api } });
    await askQuestion('Read the page');
    await waitFor(() => expect(fake.callsTo('ask')).toHaveLength(1));
    fake.emit('ask-1', {
      type: 'token',
      text: 'It says <img src=x onerror=alert(1)> <script>alert(2)</script> [click](javascript:alert(3)) [site](https://example.com)',
    });
    fake.emit('ask-1', { type: 'done' });
    await waitFor(() => expect(screen.getByTestId('answer').textContent).toContain('site'));
    const answer = screen.getByTestId('answer');
    expect(answer.querySelector('img, script')).toBeNull();
    expect(Array.from(answer.querySelectorAll('*')).some((el) => el.hasAttribute('onerror') || el.hasAttribute('onclick'))).toBe(false);
    const links = within(answer).getAllByRole('link');
    expect(links.map((a) => a.getAttribute('href'))).toEqual(['https://example.com']);
    const site = links[0] as HTMLAnchorElement;
    expect(await fireEvent.click(site)).toBe(false);
  });

  it('shows warnings in plain words and errors in one line', async () => {
    render(AskView, { props: { api: fake.api } });
    await askQuestion('Hi');
    await waitFor(() => expect(fake.callsTo('ask')).toHaveLength(1));
    fake.emit('ask-1', {
      type: 'warning',
      message: 'generation_config.json set use_cache: false, a training-time flag that gradient checkpointing saves…',
    });
    fake.emit('ask-1', { type: 'warning', message: 'Something unusual happened.' });
    fake.emit('ask-1', { type: 'error', message: 'The model process stopped: out of memory.' });
    await waitFor(() => expect(screen.getAllByTestId('warning')).toHaveLength(2));
    const warnings = screen.getAllByTestId('warning');
    expect(warnings[0]?.textContent).toMatch(/kept the cache on/);
    expect(warnings[1]?.textContent).toContain('Something unusual happened.');
    expect((await screen.findByRole('alert')).textContent).toBe('The model process stopped: out of memory.');
  });

  it('shows the model status and a call to action when no model is ready', async () => {
    render(AskView, { props: { api: fake.api } });
    await waitFor(() => expect(screen.getByText('SmolVLM-256M-Instruct')).toBeTruthy());
    expect(screen.getByText('SmolVLM-256M-Instruct').closest('[role="status"]')?.textContent).toMatch(/ready/);
    expect(screen.queryByRole('button', { name: 'Open settings' })).toBeNull();

    fake.pushStatus(status({ model: { state: 'error', message: 'model.onnx is missing' } }));
    await fireEvent.click(await screen.findByRole('button', { name: 'Open settings' }));
    expect(screen.getByText(/model\.onnx is missing/)).toBeTruthy();
    expect(fake.callsTo('openSettings')).toHaveLength(1);
  });

  it('Copy copies the raw text of the last answer; Esc closes the window', async () => {
    const writeText = vi.fn(async (_text: string) => {});
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    const close = vi.spyOn(window, 'close').mockImplementation(() => {});
    render(AskView, { props: { api: fake.api } });
    expect((screen.getByRole('button', { name: 'Copy' }) as HTMLButtonElement).disabled).toBe(true);
    await askQuestion('Hi');
    await waitFor(() => expect(fake.callsTo('ask')).toHaveLength(1));
    await answered('ask-1', '**Bold** answer');
    await screen.findByTestId('stats');
    await fireEvent.click(screen.getByRole('button', { name: 'Copy' }));
    expect(writeText).toHaveBeenCalledWith('**Bold** answer');

    await fireEvent.keyDown(window, { key: 'Escape' });
    expect(close).toHaveBeenCalledTimes(1);
  });
});
