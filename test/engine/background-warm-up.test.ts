/**
 * The vision warm-up runs after the load, not inside it (issue 17: load time): loadModel resolves while the warm-up
 * call is still running, and dispose waits for it before releasing the sessions.
 */
import ort from 'onnxruntime-node';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadModel } from '../../native-models/index.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-warm-up-'));
  await writeSmolVlmModel(root, { seed: 3, precisions: ['fp32'] });
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

it('load does not wait for the vision warm-up; dispose does', async () => {
  // Every session's run goes through the prototype (the class is typed as a factory: its prototype is there).
  const sessions = (ort.InferenceSession as unknown as { prototype: ort.InferenceSession }).prototype;
  const events: string[] = [];
  const run = sessions.run;
  const releaseSession = sessions.release;
  sessions.release = function (this: ort.InferenceSession) {
    events.push('released');
    return releaseSession.call(this);
  };
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let started!: () => void;
  const warmUpStarted = new Promise<void>((resolve) => (started = resolve));
  sessions.run = async function (this: ort.InferenceSession, feeds: ort.InferenceSession.FeedsType, ...rest: unknown[]) {
    if ((feeds as Record<string, unknown>).pixel_values) {
      started();
      await gate;
      events.push('warm-up ran');
    }
    return (run as (...args: unknown[]) => ReturnType<typeof run>).call(this, feeds, ...rest);
  } as typeof run;
  try {
    // The gate holds the warm-up's vision call: a load that waited for it would never resolve.
    const model = await loadModel(root, { precision: 'fp32' });
    events.push('loaded');
    await warmUpStarted;
    // Closing asks for no release while the call runs (a closeModel that did not wait would release at once).
    const disposed = model.dispose();
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual(['loaded']);
    release();
    await disposed;
    expect(events.slice(0, 2)).toEqual(['loaded', 'warm-up ran']);
    expect(events.slice(2)).toEqual(['released', 'released']); // vision and decoder (embeddings are a table)
  } finally {
    sessions.run = run;
    sessions.release = releaseSession;
  }
});
