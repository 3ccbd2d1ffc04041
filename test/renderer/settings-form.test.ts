import { describe, expect, it } from 'vitest';
import { defaultSettings } from '../../electron/shared/settings.js';
import {
  checkField,
  formFromSettings,
  numberFromText,
  patchFromForm,
} from '../../renderer/src/lib/settings-form.js';

describe('settings form logic', () => {
  it('round-trips settings through the form: nulls become empty boxes and back', () => {
    const settings = { ...defaultSettings, maxNewTokens: 300, temperature: null, hotkey: null, model: 'org/model', backend: 'server' as const, serverUrl: 'http://gpu-box:8000/v1', serverModel: null };
    const form = formFromSettings(settings);
    expect(form.maxNewTokens).toBe('300');
    expect(form.temperature).toBe('');
    expect(form.hotkey).toBe('');
    expect(form.serverModel).toBe('');
    // The confirmed servers are not on the form: only the main process's confirmation dialog writes them.
    const { confirmedServers: _, ...onTheForm } = settings;
    expect(patchFromForm(form)).toEqual(onTheForm);
  });

  it('tells an empty box (model default) from text that is not a number', () => {
    expect(numberFromText('')).toBeNull();
    expect(numberFromText(' 0.7 ')).toBe(0.7);
    expect(numberFromText('abc')).toBe('abc');
  });

  it('validates one field with the shared schema, worded for the form', () => {
    expect(checkField('maxNewTokens', '512')).toEqual({ ok: true, patch: { maxNewTokens: 512 } });
    expect(checkField('maxNewTokens', '')).toEqual({ ok: true, patch: { maxNewTokens: null } });
    const tooBig = checkField('maxNewTokens', '99999');
    expect(tooBig).toEqual({ ok: false, message: 'Max new tokens must be at most 8192 (got 99999).' });
    expect(checkField('maxNewTokens', '1.5')).toMatchObject({ ok: false, message: expect.stringMatching(/whole number/) });
    expect(checkField('topP', '0')).toMatchObject({ ok: false, message: expect.stringMatching(/Top-p must be more than 0/) });
    expect(checkField('temperature', 'warm')).toMatchObject({ ok: false, message: expect.stringMatching(/must be a number/) });
    expect(checkField('hotkey', 'ctrl+shift+space')).toEqual({ ok: true, patch: { hotkey: 'Control+Shift+Space' } });
    expect(checkField('hotkey', '')).toEqual({ ok: true, patch: { hotkey: null } });
  });
});
