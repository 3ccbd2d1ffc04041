import { describe, expect, it } from 'vitest';
import { coalesce } from '../../electron/main/coalesce.js';

describe('coalesce', () => {
  it('never overlaps runs: calls during a run cause exactly one more, which their promises wait for', async () => {
    const log: string[] = [];
    let state = 0;
    const releases: Array<() => void> = [];
    const run = coalesce(async () => {
      const seen = state;
      log.push(`start ${seen}`);
      await new Promise<void>((resolve) => releases.push(resolve));
      log.push(`end ${seen}`);
    });
    const first = run();
    state = 1;
    const second = run();
    state = 2;
    const third = run();
    let secondSettled = false;
    void second.then(() => (secondSettled = true));
    releases.shift()!();
    await new Promise((r) => setTimeout(r, 0));
    // The first run is over, but the calls made during it wait for the run that reads the latest state.
    expect(secondSettled).toBe(false);
    releases.shift()!();
    await Promise.all([first, second, third]);
    expect(log).toEqual(['start 0', 'end 0', 'start 2', 'end 2']);
    // Idle again: the next call runs at once.
    const fourth = run();
    expect(log.at(-1)).toBe('start 2');
    releases.shift()!();
    await fourth;
    expect(log).toHaveLength(6);
  });
});
