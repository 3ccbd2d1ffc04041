import { describe, expect, it } from 'vitest';
import { recordKey, type KeyLike } from '../../renderer/src/lib/hotkey.js';

function key(code: string, key: string, mods: Partial<Pick<KeyLike, 'ctrlKey' | 'metaKey' | 'altKey' | 'shiftKey'>> = {}): KeyLike {
  return { code, key, ctrlKey: false, metaKey: false, altKey: false, shiftKey: false, ...mods };
}

describe('recordKey (key event → accelerator)', () => {
  it('produces the canonical accelerator, CommandOrControl for Ctrl off a Mac and for ⌘ on one', () => {
    expect(recordKey(key('Space', ' ', { ctrlKey: true, shiftKey: true }), false)).toEqual({
      kind: 'done',
      accelerator: 'CommandOrControl+Shift+Space',
    });
    expect(recordKey(key('Space', ' ', { metaKey: true, shiftKey: true }), true)).toEqual({
      kind: 'done',
      accelerator: 'CommandOrControl+Shift+Space',
    });
    // ⌃ on a Mac is Control, the Windows key elsewhere is Super.
    expect(recordKey(key('KeyK', 'k', { ctrlKey: true, altKey: true }), true)).toEqual({ kind: 'done', accelerator: 'Control+Alt+K' });
    expect(recordKey(key('KeyK', 'k', { metaKey: true, altKey: true }), false)).toEqual({ kind: 'done', accelerator: 'Alt+Super+K' });
  });

  it('reads the physical key, not the shifted character (Shift+1 is "1", not "!")', () => {
    expect(recordKey(key('Digit1', '!', { ctrlKey: true, shiftKey: true }), false)).toEqual({
      kind: 'done',
      accelerator: 'CommandOrControl+Shift+1',
    });
    expect(recordKey(key('ArrowUp', 'ArrowUp', { altKey: true }), false)).toEqual({ kind: 'done', accelerator: 'Alt+Up' });
    expect(recordKey(key('Enter', 'Enter', { ctrlKey: true }), false)).toEqual({ kind: 'done', accelerator: 'CommandOrControl+Return' });
    expect(recordKey(key('Slash', '/', { ctrlKey: true }), false)).toEqual({ kind: 'done', accelerator: 'CommandOrControl+/' });
  });

  it('allows a bare function key but explains why a bare letter or Shift+letter is refused', () => {
    expect(recordKey(key('F9', 'F9'), false)).toEqual({ kind: 'done', accelerator: 'F9' });
    const bare = recordKey(key('KeyA', 'a'), false);
    expect(bare.kind).toBe('invalid');
    expect(bare.kind === 'invalid' && bare.message).toMatch(/CommandOrControl, Alt or Super/);
    expect(recordKey(key('KeyA', 'A', { shiftKey: true }), false)).toMatchObject({ kind: 'invalid', display: 'Shift+A' });
  });

  it('shows modifiers while they are held, and lets Tab and Escape through', () => {
    expect(recordKey(key('ControlLeft', 'Control', { ctrlKey: true }), false)).toEqual({ kind: 'pending', display: 'CommandOrControl+…' });
    expect(recordKey(key('ShiftLeft', 'Shift', { ctrlKey: true, shiftKey: true }), false)).toEqual({
      kind: 'pending',
      display: 'CommandOrControl+Shift+…',
    });
    expect(recordKey(key('Tab', 'Tab'), false)).toEqual({ kind: 'pass' });
    expect(recordKey(key('Tab', 'Tab', { shiftKey: true }), false)).toEqual({ kind: 'pass' });
    expect(recordKey(key('Escape', 'Escape'), false)).toEqual({ kind: 'pass' });
  });
});
