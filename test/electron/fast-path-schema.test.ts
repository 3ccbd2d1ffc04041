// The pages' schema for the loaded decoder's fast path (electron/shared/ipc.ts fastPathSchema): what the engine
// reports passes; anything else is refused before a page shows it.
import { describe, expect, it } from 'vitest';
import { fastPathSchema } from '../../electron/shared/ipc.js';

describe('fastPathSchema', () => {
  it('accepts the rewrites the engine reports, applied and skipped', () => {
    const all = { applied: ['shared-kv-buffer', 'new-kv-outputs', 'cache-read-in-place', 'last-row-logits', 'fused-projections', 'fused-rms-norms'], skipped: [] };
    expect(fastPathSchema.parse(all)).toEqual(all);
    const none = { applied: [], skipped: ['turned off', 'fused RMSNorms: not a float32 graph'] };
    expect(fastPathSchema.parse(none)).toEqual(none);
  });

  it.each([
    ['a missing list', { applied: [] }],
    ['an id with spaces or capitals', { applied: ['New KV'], skipped: [] }],
    ['an empty id', { applied: [''], skipped: [] }],
    ['an empty reason', { applied: [], skipped: [''] }],
    ['a reason too long to show', { applied: [], skipped: ['x'.repeat(2001)] }],
    ['too many entries', { applied: Array.from({ length: 33 }, () => 'new-kv-outputs'), skipped: [] }],
    ['a non-string', { applied: [1], skipped: [] }],
    ['an extra key', { applied: [], skipped: [], dir: '/models/secret' }],
  ])('rejects %s', (_name, value) => {
    expect(fastPathSchema.safeParse(value).success).toBe(false);
  });
});
