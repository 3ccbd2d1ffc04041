/**
 * Electron accelerator strings (https://www.electronjs.org/docs/latest/api/accelerator): parsed, checked and written
 * back in one canonical spelling. Shared by the main process (globalShortcut) and the renderer (the hotkey field), so
 * this module imports nothing from Node or Electron.
 *
 * Why validate here rather than let globalShortcut.register fail: Electron throws a terse "conversion failure" for an
 * unknown name and silently accepts shortcuts that would break typing everywhere (a bare letter, Shift+A). The
 * settings page wants a sentence next to the field instead.
 */

export type AcceleratorResult = { ok: true; accelerator: string } | { ok: false; message: string };

/** Modifier spellings Electron accepts (lower case) → the canonical name we store. */
const modifierAliases: Readonly<Record<string, Modifier>> = {
  commandorcontrol: 'CommandOrControl',
  cmdorctrl: 'CommandOrControl',
  command: 'Command',
  cmd: 'Command',
  control: 'Control',
  ctrl: 'Control',
  alt: 'Alt',
  option: 'Alt', // macOS name of the same key; Electron maps it to Alt
  altgr: 'AltGr',
  shift: 'Shift',
  super: 'Super',
  meta: 'Super', // Electron documents Meta as an alias of Super
};

/** Canonical order, so that "Shift+Ctrl+A" and "Ctrl+Shift+A" are stored (and compared) as the same string. */
const modifierOrder = ['CommandOrControl', 'Command', 'Control', 'Alt', 'AltGr', 'Shift', 'Super'] as const;
type Modifier = (typeof modifierOrder)[number];

/** Named (non-character) keys, lower case → canonical spelling from Electron's documentation. */
const namedKeys: Readonly<Record<string, string>> = Object.fromEntries(
  [
    'Plus', 'Space', 'Tab', 'Capslock', 'Numlock', 'Scrolllock', 'Backspace', 'Delete', 'Insert', 'Return',
    'Up', 'Down', 'Left', 'Right', 'Home', 'End', 'PageUp', 'PageDown', 'Escape', 'PrintScreen',
    'VolumeUp', 'VolumeDown', 'VolumeMute', 'MediaNextTrack', 'MediaPreviousTrack', 'MediaStop', 'MediaPlayPause',
    ...Array.from({ length: 10 }, (_, i) => `num${i}`),
    'numdec', 'numadd', 'numsub', 'nummult', 'numdiv',
  ].map((name) => [name.toLowerCase(), name]),
);
/** Documented aliases that resolve to another key's canonical name. */
const keyAliases: Readonly<Record<string, string>> = { enter: 'Return', esc: 'Escape' };

/** Punctuation Electron accepts as the character itself ('+' is the separator, hence the named key Plus). */
const punctuation = new Set([...'~!@#$%^&*()_-={}[]|\\:;"\'<>,.?/`']);

const keyHelp =
  'use a letter, a digit, F1–F24, Space, Tab, Return, Escape, an arrow (Up, Down, Left, Right), Plus or a punctuation character';

function canonicalKey(part: string): string | undefined {
  if (/^[a-z0-9]$/i.test(part)) return part.toUpperCase();
  if (punctuation.has(part)) return part;
  const fKey = /^f([1-9]|1[0-9]|2[0-4])$/i.exec(part);
  if (fKey) return `F${fKey[1]}`;
  const lower = part.toLowerCase();
  return keyAliases[lower] ?? namedKeys[lower];
}

/**
 * Checks an accelerator and returns it in canonical form (aliases resolved, modifiers in a fixed order, letters upper
 * case), or a one-sentence message saying what to change.
 */
export function parseAccelerator(text: string): AcceleratorResult {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: false, message: 'Type a shortcut such as CommandOrControl+Shift+Space.' };
  const parts = trimmed.split('+').map((p) => p.trim());
  if (parts.some((p) => p === '')) {
    return { ok: false, message: `"${trimmed}" has an empty part: write the + key as Plus (e.g. Control+Plus).` };
  }
  const modifiers = new Set<Modifier>();
  const keys: string[] = [];
  for (const part of parts) {
    const modifier = modifierAliases[part.toLowerCase()];
    if (modifier) {
      if (keys.length > 0) return { ok: false, message: `Put the modifier ${part} before the key ${keys[0]}.` };
      if (modifiers.has(modifier)) return { ok: false, message: `${modifier} appears twice in "${trimmed}".` };
      modifiers.add(modifier);
      continue;
    }
    const key = canonicalKey(part);
    if (key === undefined) return { ok: false, message: `"${part}" is not a key Electron knows: ${keyHelp}.` };
    keys.push(key);
  }
  const [key, ...extra] = keys;
  if (key === undefined) {
    return { ok: false, message: `"${trimmed}" has only modifiers: add a key, e.g. ${trimmed}+Space.` };
  }
  if (extra.length > 0) {
    return { ok: false, message: `A shortcut has one key after its modifiers; "${trimmed}" has ${keys.join(' and ')}.` };
  }
  // A global shortcut takes its key away from every other application: a bare key (or Shift + a character, i.e. a
  // capital letter) would stop the user typing it anywhere. Function keys are rarely typed, so they may stand alone.
  const isFunctionKey = /^F\d+$/.test(key);
  const strongModifiers = [...modifiers].filter((m) => m !== 'Shift');
  if (!isFunctionKey && strongModifiers.length === 0) {
    const why = modifiers.size === 0 ? `a shortcut on ${key} alone` : `Shift+${key} alone`;
    return {
      ok: false,
      message: `Add CommandOrControl, Alt or Super: ${why} would take that key away from typing in every other app.`,
    };
  }
  const ordered = modifierOrder.filter((m) => modifiers.has(m));
  return { ok: true, accelerator: [...ordered, key].join('+') };
}
