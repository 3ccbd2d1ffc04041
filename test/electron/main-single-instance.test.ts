import { describe, expect, it, vi } from 'vitest';
import { askModeFromArgv, setupSingleInstance } from '../../electron/main/single-instance.js';
import { FakeApp } from './fakes.js';

describe('single instance', () => {
  it('parses --ask from a command line', () => {
    expect(askModeFromArgv(['/usr/bin/screenask', '--ask'])).toBe('screen');
    expect(askModeFromArgv(['screenask', '--ask=region'])).toBe('region');
    expect(askModeFromArgv(['screenask', '--asking'])).toBeNull();
    expect(askModeFromArgv(['screenask'])).toBeNull();
  });

  it('a second launch with --ask asks in the running instance; without it, activates it', () => {
    const app = new FakeApp();
    const onAsk = vi.fn();
    const onActivate = vi.fn();
    expect(setupSingleInstance(app, { onAsk, onActivate })).toBe(true);
    app.emit('second-instance', {}, ['screenask', '--ask'], '/home/u');
    app.emit('second-instance', {}, ['screenask', '--ask=region'], '/home/u');
    app.emit('second-instance', {}, ['screenask'], '/home/u');
    expect(onAsk.mock.calls).toEqual([['screen'], ['region']]);
    expect(onActivate).toHaveBeenCalledTimes(1);
  });

  it('returns false when another instance holds the lock', () => {
    const app = new FakeApp();
    app.lockHeld = true;
    expect(setupSingleInstance(app, { onAsk: vi.fn(), onActivate: vi.fn() })).toBe(false);
    expect(app.listenerCount('second-instance')).toBe(0);
  });
});
