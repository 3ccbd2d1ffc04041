import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { devices, generationOptionsSchema, precisions } from '../../native-models/index.js';
import { parseAccelerator } from '../../electron/shared/accelerator.js';
import { normaliseBaseUrl } from '../../native-models/remote/base-url.js';
import {
  SETTINGS_VERSION,
  defaultSettings,
  deviceSettings,
  generationOptionsFrom,
  numericRanges,
  pageSettingsPatchSchema,
  precisionSettings,
  settingsSchema,
  validateSettingsPatch,
} from '../../electron/shared/settings.js';

function errorsOf(patch: unknown) {
  const result = validateSettingsPatch(patch);
  if (result.ok) throw new Error(`expected errors for ${JSON.stringify(patch)}`);
  return result.errors;
}

describe('settings schema', () => {
  it('has valid defaults: no model yet, auto precision and device, model generation defaults, cache on', () => {
    expect(settingsSchema.parse(defaultSettings)).toEqual(defaultSettings);
    expect(defaultSettings).toMatchObject({
      model: null,
      precision: 'auto',
      device: 'auto',
      maxNewTokens: null,
      temperature: null,
      useCache: true,
      imageDetail: 'low',
      hotkey: 'CommandOrControl+Shift+Space',
      saveScreenshotsInHistory: false,
    });
    expect(Object.isFrozen(defaultSettings)).toBe(true);
    expect(SETTINGS_VERSION).toBe(4);
    // Answers come from this computer until the user names a server.
    expect(defaultSettings).toMatchObject({ backend: 'local', serverUrl: null, serverModel: null, confirmedServers: [] });
    // Nothing listens until the user switches serving on.
    expect(defaultSettings).toMatchObject({ serveModel: false, servePort: 8080 });
  });

  it('lists exactly the engine precisions (plus auto) and devices', () => {
    expect([...precisionSettings]).toEqual(['auto', ...precisions]);
    expect([...deviceSettings]).toEqual([...devices]);
  });

  it('takes its numeric ranges from the engine schema', () => {
    for (const [name, range] of Object.entries(numericRanges)) {
      const engine = generationOptionsSchema.shape[name as keyof typeof numericRanges];
      expect(engine.safeParse(range.max).success, name).toBe(true);
      expect(engine.safeParse(range.max + 1).success, name).toBe(false);
      expect(engine.safeParse(range.min).success, name).toBe(!range.minExclusive);
    }
    expect(numericRanges.topP).toMatchObject({ min: 0, max: 1, minExclusive: true, integer: false });
    expect(numericRanges.maxNewTokens.integer).toBe(true);
    // Whatever the engine refuses, the settings refuse, and the other way round.
    for (const temperature of [-1, 0, 2.5, 5, 5.01, 9]) {
      expect(validateSettingsPatch({ temperature }).ok).toBe(generationOptionsSchema.safeParse({ temperature }).success);
    }
  });

  it('rejects temperature 9 with a message naming the field and the limit', () => {
    expect(errorsOf({ temperature: 9 })).toEqual([{ field: 'temperature', message: 'Temperature must be at most 5 (got 9).' }]);
  });

  it('reports every invalid field once, in words', () => {
    const errors = errorsOf({
      maxNewTokens: 0,
      topK: 1.5,
      topP: 0,
      repetitionPenalty: 'high',
      device: 'gpu',
      useCache: 'yes',
      hotkey: 'A',
      colour: 'blue',
    });
    const byField = Object.fromEntries(errors.map((e) => [e.field, e.message]));
    expect(byField).toEqual({
      maxNewTokens: 'Max new tokens must be at least 1 (got 0).',
      topK: 'Top-k must be a whole number (got 1.5).',
      topP: 'Top-p must be more than 0 (got 0).',
      repetitionPenalty: 'Repetition penalty must be a number or empty for the model default (got "high").',
      device: 'Device must be one of auto, cpu, webgpu, cuda, dml, coreml (got "gpu").',
      useCache: 'KV cache must be on or off (true or false) (got "yes").',
      hotkey: expect.stringMatching(/^Hotkey: Add CommandOrControl, Alt or Super: a shortcut on A alone/),
      '': '"colour" is not a setting ScreenAsk knows.',
    });
  });

  it('accepts a partial patch without filling in the other fields, and null for "model default" / "no hotkey"', () => {
    expect(validateSettingsPatch({ topK: 40 })).toEqual({ ok: true, patch: { topK: 40 } });
    expect(validateSettingsPatch({ temperature: null, hotkey: null })).toEqual({
      ok: true,
      patch: { temperature: null, hotkey: null },
    });
    expect(validateSettingsPatch({})).toEqual({ ok: true, patch: {} });
  });

  it('normalises the hotkey in a patch', () => {
    expect(validateSettingsPatch({ hotkey: 'shift + ctrl + space' })).toEqual({
      ok: true,
      patch: { hotkey: 'Control+Shift+Space' },
    });
  });

  it('accepts catalogue ids and absolute folders as the model, not relative paths', () => {
    for (const model of ['HuggingFaceTB/SmolVLM-256M-Instruct', 'smolvlm-256m', '/home/me/models/x', 'C:\\Models\\x', 'D:/m', '\\\\nas\\models\\x']) {
      expect(validateSettingsPatch({ model }).ok, model).toBe(true);
    }
    for (const model of ['models/../x', './x', '~/models/x', '', 'a/b/c']) {
      expect(errorsOf({ model })[0]?.field, model).toBe('model');
    }
  });

  it('refuses a patch that is not an object', () => {
    for (const patch of [null, 3, 'x', [1]]) {
      expect(errorsOf(patch)).toEqual([{ field: '', message: 'Settings must be an object of named values.' }]);
    }
  });

  it('gives the engine only the options the user set', () => {
    expect(generationOptionsFrom(defaultSettings)).toEqual({ useCache: true });
    expect(generationOptionsFrom({ ...defaultSettings, temperature: 0, topK: 5, useCache: false })).toEqual({
      temperature: 0,
      topK: 5,
      useCache: false,
    });
    expect(generationOptionsSchema.strict().safeParse(generationOptionsFrom(defaultSettings)).success).toBe(true);
  });
});

/** Runtime (non-type) imports of a module and everything it imports relatively, transitively. */
function runtimeImports(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const source = readFileSync(file, 'utf8');
  for (const match of source.matchAll(/^import\s+(?!type\b)[^'"]*from\s+'([^']+)'/gm)) {
    const specifier = match[1]!;
    if (specifier.startsWith('.')) runtimeImports(path.resolve(path.dirname(file), specifier.replace(/\.js$/, '.ts')), seen);
    else seen.add(specifier);
  }
  return seen;
}

describe('renderer safety', () => {
  it('the shared settings load nothing from Node, Electron or the native engine at run time', () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
    const imports = [...runtimeImports(path.join(root, 'electron/shared/settings.ts'))];
    const packages = imports.filter((i) => !i.startsWith('/'));
    expect(packages).toEqual(['zod']);
    const modules = imports.filter((i) => i.startsWith('/')).map((i) => path.relative(root, i)).sort();
    expect(modules).toEqual([
      'electron/shared/accelerator.ts',
      'electron/shared/settings.ts',
      'native-models/families/family.ts',
      'native-models/generation/settings.ts',
      'native-models/model/errors.ts',
      'native-models/model/precision.ts',
      'native-models/model/use-cache-flag.ts',
      'native-models/remote/base-url.ts',
      'native-models/runtime/devices.ts',
    ]);
  });
});

describe('accelerator', () => {
  it.each([
    ['CommandOrControl+Shift+Space', 'CommandOrControl+Shift+Space'],
    ['cmdorctrl+shift+space', 'CommandOrControl+Shift+Space'],
    ['Shift+Ctrl+A', 'Control+Shift+A'],
    ['ctrl + alt + k', 'Control+Alt+K'],
    ['Cmd+Option+1', 'Command+Alt+1'],
    ['Meta+Up', 'Super+Up'],
    ['Alt+F4', 'Alt+F4'],
    ['f12', 'F12'],
    ['F24', 'F24'],
    ['Control+Plus', 'Control+Plus'],
    ['Alt+/', 'Alt+/'],
    ['Ctrl+Enter', 'Control+Return'],
    ['Ctrl+esc', 'Control+Escape'],
    ['Ctrl+pagedown', 'Control+PageDown'],
    ['Alt+num5', 'Alt+num5'],
    ['Super+Tab', 'Super+Tab'],
  ])('%s → %s', (input, expected) => {
    expect(parseAccelerator(input)).toEqual({ ok: true, accelerator: expected });
  });

  it.each([
    ['', /Type a shortcut/],
    ['A', /Add CommandOrControl, Alt or Super: a shortcut on A alone/],
    ['Space', /on Space alone/],
    ['Shift+A', /Shift\+A alone would take that key away/],
    ['Ctrl+Shift', /has only modifiers: add a key/],
    ['Ctrl+A+B', /one key after its modifiers; "Ctrl\+A\+B" has A and B/],
    ['Ctrl++', /empty part.*Plus/],
    ['Ctrl+Foo', /"Foo" is not a key Electron knows/],
    ['Ctrl+F25', /"F25" is not a key/],
    ['A+Ctrl', /Put the modifier Ctrl before the key A/],
    ['Ctrl+Control+A', /Control appears twice/],
  ])('rejects %j', (input, message) => {
    const result = parseAccelerator(input);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.message).toMatch(message);
      expect(result.message).not.toContain('\n');
    }
  });
});

describe('server settings', () => {
  it.each([
    ['ftp://gpu-box/v1', 'Server address: it must start with http:// or https:// (got ftp:).'],
    ['gpu-box:8000', 'Server address: it must start with http:// or https:// (got gpu-box:).'],
    ['not a url', 'Server address: it is not a web address: write it as http://host:port/v1.'],
    ['http://me:hunter2@gpu-box:8000/v1', 'Server address: it must not contain a user name or password: pass the key as the API key instead.'],
    ['http://gpu-box:8000/v1?key=1', 'Server address: it must not contain ? or #: give the server’s base address only, e.g. http://host:8000/v1.'],
  ])('refuses %s as a server address, saying why', (serverUrl, message) => {
    expect(errorsOf({ serverUrl })).toEqual([{ field: 'serverUrl', message }]);
  });

  it('accepts http and https addresses, in the remote client’s spelling (a bare origin gets /v1, as the client asks it)', () => {
    expect(validateSettingsPatch({ serverUrl: 'https://Models.Example.com/v1/' })).toEqual({ ok: true, patch: { serverUrl: 'https://models.example.com/v1' } });
    expect(validateSettingsPatch({ serverUrl: ' http://127.0.0.1:8080 ' })).toEqual({ ok: true, patch: { serverUrl: 'http://127.0.0.1:8080/v1' } });
    expect(validateSettingsPatch({ serverUrl: 'http://gpu-box:80/proxy/openai//' })).toEqual({ ok: true, patch: { serverUrl: 'http://gpu-box/proxy/openai' } });
    // Whatever the settings store is what the client asks: normalising again changes nothing.
    for (const input of ['https://Models.Example.com/v1/', 'http://127.0.0.1:8080', 'http://gpu-box:80/proxy/openai//']) {
      const stored = (validateSettingsPatch({ serverUrl: input }) as { patch: { serverUrl: string } }).patch.serverUrl;
      expect(normaliseBaseUrl(input)).toBe(stored);
      expect(normaliseBaseUrl(stored)).toBe(stored);
    }
    expect(validateSettingsPatch({ serverUrl: null, serverModel: null, backend: 'server' }).ok).toBe(true);
  });

  it('refuses an empty or multi-line model name and an unknown backend', () => {
    expect(errorsOf({ serverModel: '  ', backend: 'cloud' })).toEqual([
      { field: 'backend', message: 'Where answers come from must be one of local, server (got "cloud").' },
      { field: 'serverModel', message: 'Server model must name a model the server lists.' },
    ]);
    expect(errorsOf({ serverModel: 'qwen\nrm -rf' })).toEqual([{ field: 'serverModel', message: 'Server model must be one line of text.' }]);
  });

  it('pages cannot mark a server as confirmed: only the main process writes confirmedServers', () => {
    expect(pageSettingsPatchSchema.safeParse({ serverUrl: 'http://gpu-box:8000/v1' }).success).toBe(true);
    expect(pageSettingsPatchSchema.safeParse({ confirmedServers: ['http://evil.example/v1'] }).success).toBe(false);
    // The store itself (main process) may.
    expect(validateSettingsPatch({ confirmedServers: ['http://gpu-box:8000/v1/'] })).toEqual({ ok: true, patch: { confirmedServers: ['http://gpu-box:8000/v1'] } });
  });
});
