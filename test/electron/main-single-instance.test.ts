import { describe, expect, it, vi } from 'vitest';
import { askModeFromArgv, claimSingleInstance } from '../../electron/main/single-instance.js';
import { FakeApp } from './fakes.js';

describe('single instance', () => {
  it('parses --ask from a command line', () => {
    expect(askModeFromArgv(['/usr/bin/screenask', '--ask'])).toBe('screen');
    expect(askModeFromArgv(['screenask', '--ask=region'])).toBe('region');
    expect(askModeFromArgv(['screenask', '--asking'])).toBeNull();
    expect(askModeFromArgv(['screenask'])).toBeNull();
  });

  it('a second launch with --ask asks in the running instance; without it, activates it; early ones wait', () => {
    const app = new FakeApp();
    const onAsk = vi.fn();
    const onActivate = vi.fn();
    const instances = claimSingleInstance(app);
    expect(instances).not.toBeNull();
    // Before the app routes them (it is still starting), launches are held, not lost.
    app.emit('second-instance', {}, ['screenask', '--ask'], '/home/u');
    expect(onAsk).not.toHaveBeenCalled();
    instances!.route({ onAsk, onActivate });
    expect(onAsk.mock.calls).toEqual([['screen']]);
    app.emit('second-instance', {}, ['screenask', '--ask=region'], '/home/u');
    app.emit('second-instance', {}, ['screenask'], '/home/u');
    expect(onAsk.mock.calls).toEqual([['screen'], ['region']]);
    expect(onActivate).toHaveBeenCalledTimes(1);
  });

  it('returns null when another instance holds the lock, and listens to nothing', () => {
    const app = new FakeApp();
    app.lockHeld = true;
    expect(claimSingleInstance(app)).toBeNull();
    expect(app.listenerCount('second-instance')).toBe(0);
  });
});
