// The hotkey recorder: a keydown → an Electron accelerator. Keys are read from `code` (the physical key) rather than
// `key`, because `key` changes with the modifiers held: Shift+1 reports "!", Alt+S on a Mac reports "ß". The result
// goes through the shared parseAccelerator, so the recorder only ever proposes what the settings store accepts, in
// the same canonical spelling.
import { parseAccelerator } from '../../../electron/shared/accelerator.js';

export interface KeyLike {
  readonly key: string;
  readonly code: string;
  readonly ctrlKey: boolean;
  readonly metaKey: boolean;
  readonly altKey: boolean;
  readonly shiftKey: boolean;
}

export type Recording =
  /** Not for the recorder (Tab, Shift+Tab, Escape alone): let the browser handle it, so focus never gets trapped. */
  | { readonly kind: 'pass' }
  /** Only modifiers so far: show them while the user reaches for the key. */
  | { readonly kind: 'pending'; readonly display: string }
  | { readonly kind: 'done'; readonly accelerator: string }
  | { readonly kind: 'invalid'; readonly display: string; readonly message: string };

const codeNames: Readonly<Record<string, string>> = {
  Space: 'Space',
  Tab: 'Tab',
  Enter: 'Return',
  NumpadEnter: 'Return',
  Escape: 'Escape',
  Backspace: 'Backspace',
  Delete: 'Delete',
  Insert: 'Insert',
  Home: 'Home',
  End: 'End',
  PageUp: 'PageUp',
  PageDown: 'PageDown',
  ArrowUp: 'Up',
  ArrowDown: 'Down',
  ArrowLeft: 'Left',
  ArrowRight: 'Right',
  PrintScreen: 'PrintScreen',
  CapsLock: 'Capslock',
  NumLock: 'Numlock',
  ScrollLock: 'Scrolllock',
  Minus: '-',
  Equal: '=',
  BracketLeft: '[',
  BracketRight: ']',
  Backslash: '\\',
  Semicolon: ';',
  Quote: "'",
  Comma: ',',
  Period: '.',
  Slash: '/',
  Backquote: '`',
  NumpadAdd: 'numadd',
  NumpadSubtract: 'numsub',
  NumpadMultiply: 'nummult',
  NumpadDivide: 'numdiv',
  NumpadDecimal: 'numdec',
  AudioVolumeUp: 'VolumeUp',
  AudioVolumeDown: 'VolumeDown',
  AudioVolumeMute: 'VolumeMute',
  MediaTrackNext: 'MediaNextTrack',
  MediaTrackPrevious: 'MediaPreviousTrack',
  MediaStop: 'MediaStop',
  MediaPlayPause: 'MediaPlayPause',
};

const modifierKeys = new Set(['Control', 'Shift', 'Alt', 'AltGraph', 'Meta', 'OS', 'Super', 'Hyper']);

/** The accelerator name of the key pressed (without modifiers), or undefined for keys Electron cannot bind. */
export function keyName(event: Pick<KeyLike, 'key' | 'code'>): string | undefined {
  const { code, key } = event;
  let m = /^Key([A-Z])$/.exec(code);
  if (m) return m[1];
  m = /^Digit([0-9])$/.exec(code);
  if (m) return m[1];
  m = /^Numpad([0-9])$/.exec(code);
  if (m) return `num${m[1]}`;
  if (/^F([1-9]|1[0-9]|2[0-4])$/.test(code)) return code;
  const named = codeNames[code];
  if (named) return named;
  // An unknown physical key that types one visible character: use the character (Electron binds by character).
  if (key.length === 1 && key !== ' ' && key !== '+') return key.toUpperCase();
  if (key === '+') return 'Plus';
  return undefined;
}

/**
 * On macOS ⌘ is CommandOrControl and ⌃ is Control; elsewhere Ctrl is CommandOrControl and the Windows/Super key is
 * Super. Storing CommandOrControl keeps a settings file meaningful on both.
 */
export function modifiersOf(event: KeyLike, mac: boolean): string[] {
  const mods: string[] = [];
  if (mac ? event.metaKey : event.ctrlKey) mods.push('CommandOrControl');
  if (mac && event.ctrlKey) mods.push('Control');
  if (event.altKey) mods.push('Alt');
  if (event.shiftKey) mods.push('Shift');
  if (!mac && event.metaKey) mods.push('Super');
  return mods;
}

export function recordKey(event: KeyLike, mac: boolean): Recording {
  const mods = modifiersOf(event, mac);
  const plain = mods.length === 0 || (mods.length === 1 && mods[0] === 'Shift');
  if (plain && (event.key === 'Tab' || event.key === 'Escape')) return { kind: 'pass' };
  if (modifierKeys.has(event.key)) return { kind: 'pending', display: mods.length ? `${mods.join('+')}+…` : '' };
  const key = keyName(event);
  const display = [...mods, key ?? event.key].join('+');
  if (key === undefined) {
    return { kind: 'invalid', display, message: `Hotkey: the ${event.key || event.code} key cannot be used in a shortcut.` };
  }
  const parsed = parseAccelerator([...mods, key].join('+'));
  return parsed.ok
    ? { kind: 'done', accelerator: parsed.accelerator }
    : { kind: 'invalid', display, message: `Hotkey: ${parsed.message}` };
}

export function isMac(): boolean {
  const nav = navigator as Navigator & { userAgentData?: { platform?: string } };
  return /mac/i.test(nav.userAgentData?.platform ?? nav.platform ?? '');
}
