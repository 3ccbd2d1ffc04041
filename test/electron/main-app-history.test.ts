// The app and the history: every finished turn is recorded (with the capture only when the user keeps screenshots),
// cut-short answers are marked, a failing history never breaks an answer, and the History view's requests.
import { describe, expect, it } from 'vitest';
import { IpcChannel, IpcEvent, type AskReply, type HistoryEntry, type TriggerMessage } from '../../electron/shared/ipc.js';
import { INSTALLED_ID, answerStats, received, settle, setup } from './app-stubs.js';

const png = (label: string) => new TextEncoder().encode(label);

/** Captures the screen (as the hotkey does) and asks about it; returns the conversation's id. */
async function askAboutScreen(t: ReturnType<typeof setup>, question: string): Promise<string> {
  await t.screenAsk.trigger('screen');
  const { captureId } = received<TriggerMessage>(t.windowContents, IpcEvent.trigger).at(-1)!;
  const { askId } = (await t.invoke(IpcChannel.ask, { question, captureId })) as AskReply;
  await settle();
  return askId;
}

describe('history', () => {
  it('records each finished turn; the first carries the capture when screenshots are kept, follow-ups never do', async () => {
    const t = setup({ settings: { saveScreenshotsInHistory: true } });
    await t.start();
    const stats = answerStats();
    t.engine.stats = stats;
    const conversationId = await askAboutScreen(t, 'What does this error mean?');
    await t.invoke(IpcChannel.followUp, { askId: conversationId, question: 'How do I fix it?' });
    await settle();
    expect(t.history.records).toEqual([
      { conversationId, model: INSTALLED_ID, question: 'What does this error mean?', answer: 'It is an error.', stats, screenshot: png('frame') },
      { conversationId, model: INSTALLED_ID, question: 'How do I fix it?', answer: 'It is an error.', stats },
    ]);
  });

  it('keeps no screenshot unless the user opted in, and none for a question without a capture', async () => {
    const t = setup();
    await t.start();
    await askAboutScreen(t, 'What is this?');
    await t.invoke(IpcChannel.setSettings, { saveScreenshotsInHistory: true });
    await t.invoke(IpcChannel.ask, { question: 'Text only?' });
    await settle();
    expect(t.history.records.map((r) => [r.question, 'screenshot' in r])).toEqual([
      ['What is this?', false],
      ['Text only?', false],
    ]);
  });

  it('marks answers cut short as incomplete, with the text streamed so far', async () => {
    const t = setup();
    await t.start();
    // Stopped by the user (the stub engine throws on abort).
    let release!: () => void;
    t.engine.gate = new Promise((r) => (release = r));
    const { askId } = (await t.invoke(IpcChannel.ask, { question: 'Stopped?' })) as AskReply;
    await t.invoke(IpcChannel.cancel, { askId });
    release();
    await settle();
    // Stopped, the way the real engine ends it: done with stopReason 'cancelled' and the partial answer.
    t.engine.gate = Promise.resolve();
    const cancelled = answerStats({ stopReason: 'cancelled' });
    t.engine.stats = cancelled;
    await t.invoke(IpcChannel.ask, { question: 'Cancelled?' });
    await settle();
    // Failed in the engine.
    t.engine.ask = async function* () {
      yield { type: 'token', text: 'Par' };
      throw new Error('The model process stopped unexpectedly (killed by SIGKILL); restarting it.\nmore');
    };
    await t.invoke(IpcChannel.ask, { question: 'Failed?' });
    await settle();
    expect(t.history.records).toEqual([
      { conversationId: askId, model: INSTALLED_ID, question: 'Stopped?', answer: 'It is ', incomplete: true },
      { conversationId: 'id2', model: INSTALLED_ID, question: 'Cancelled?', answer: 'It is an error.', stats: cancelled, incomplete: true },
      { conversationId: 'id3', model: INSTALLED_ID, question: 'Failed?', answer: 'Par', incomplete: true },
    ]);
    expect(t.streams.get('id3')?.at(-1)).toEqual({ type: 'error', message: 'The model process stopped unexpectedly (killed by SIGKILL); restarting it.' });
  });

  it('drops the kept screenshots when the user turns keeping them off, and only then', async () => {
    const t = setup({ settings: { saveScreenshotsInHistory: true } });
    await t.start();
    await t.invoke(IpcChannel.setSettings, { temperature: 0.5 });
    expect(t.history.dropScreenshots).not.toHaveBeenCalled();
    await t.invoke(IpcChannel.setSettings, { saveScreenshotsInHistory: false });
    await t.invoke(IpcChannel.setSettings, { saveScreenshotsInHistory: false });
    await t.invoke(IpcChannel.setSettings, { saveScreenshotsInHistory: true });
    await settle();
    expect(t.history.dropScreenshots).toHaveBeenCalledTimes(1);
  });

  it('stores no screenshot when keeping them was turned off before the turn was written', async () => {
    const t = setup({ settings: { saveScreenshotsInHistory: true } });
    await t.start();
    let release!: () => void;
    t.engine.gate = new Promise((r) => (release = r));
    await t.screenAsk.trigger('screen');
    await t.invoke(IpcChannel.ask, { question: 'q', captureId: 'id1' });
    await t.invoke(IpcChannel.setSettings, { saveScreenshotsInHistory: false });
    release();
    await settle();
    expect(t.history.records).toHaveLength(1);
    expect(t.history.records[0]).not.toHaveProperty('screenshot');
  });

  it('a failing history is logged and never breaks an answer; later turns are still recorded', async () => {
    const t = setup();
    await t.start();
    t.history.record.mockRejectedValueOnce(new Error('ENOSPC: no space left on device\n    at write'));
    const { askId } = (await t.invoke(IpcChannel.ask, { question: 'first' })) as AskReply;
    await settle();
    expect(t.streams.get(askId)?.at(-1)).toEqual({ type: 'done' });
    expect(t.log).toHaveBeenCalledWith('history: could not record an answer: ENOSPC: no space left on device');
    t.history.dropScreenshots.mockRejectedValueOnce(new Error('EACCES'));
    await t.invoke(IpcChannel.setSettings, { saveScreenshotsInHistory: true });
    await t.invoke(IpcChannel.setSettings, { saveScreenshotsInHistory: false });
    await t.invoke(IpcChannel.followUp, { askId, question: 'second' });
    await settle();
    expect(t.log).toHaveBeenCalledWith('history: could not drop the kept screenshots: EACCES');
    expect(t.history.records.map((r) => r.question)).toEqual(['second']);
  });

  it('answers the History view: list (with a search), delete, clear, screenshot', async () => {
    const t = setup();
    await t.start();
    const entry: HistoryEntry = { id: 'h1', askedAt: '2026-01-01T00:00:00.000Z', model: INSTALLED_ID, turns: [{ question: 'q', answer: 'a' }], hasScreenshot: true };
    t.history.list.mockResolvedValue([entry]);
    t.history.screenshot.mockResolvedValue('data:image/png;base64,AAAA');
    expect(await t.invoke(IpcChannel.listHistory, { query: 'error' })).toEqual([entry]);
    expect(t.history.list).toHaveBeenLastCalledWith('error');
    expect(await t.invoke(IpcChannel.listHistory, {})).toEqual([entry]);
    expect(t.history.list).toHaveBeenLastCalledWith(undefined);
    expect(await t.invoke(IpcChannel.historyScreenshot, { id: 'h1' })).toBe('data:image/png;base64,AAAA');
    expect(t.history.screenshot).toHaveBeenCalledWith('h1');
    await t.invoke(IpcChannel.deleteHistory, { id: 'h1' });
    expect(t.history.delete).toHaveBeenCalledWith('h1');
    await t.invoke(IpcChannel.clearHistory);
    expect(t.history.clear).toHaveBeenCalledTimes(1);
    t.history.delete.mockRejectedValueOnce(new Error('No history entry h2: it was deleted already.\ndetails'));
    await expect(t.invoke(IpcChannel.deleteHistory, { id: 'h2' })).rejects.toThrow(/^No history entry h2: it was deleted already\.$/);
  });
});
