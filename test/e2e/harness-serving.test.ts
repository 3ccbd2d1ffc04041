// The web harness has the desktop app's "Serve this model to other apps": switched on from a page (the harness's IPC),
// its model process serves the loaded model on 127.0.0.1, the app's status gives the address, and off closes it.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { IpcChannel } from '../../electron/shared/ipc.js';
import { startHarness, type Harness } from '../../harness/server.js';
import { CLIENT_HEADER, EVENTS_PATH, IPC_PATH } from '../../harness/protocol.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';

let root: string;
let harness: Harness;
let origin: string;
const clientId = crypto.randomUUID();
const events = new AbortController();

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-harness-serving-'));
  const rendererDir = path.join(root, 'renderer');
  await mkdir(rendererDir);
  await writeFile(path.join(rendererDir, 'index.html'), '<html><head></head><body>app</body></html>');
  const modelDir = path.join(root, 'tiny-model');
  await writeSmolVlmModel(modelDir, { seed: 4, precisions: ['fp32'] });
  harness = await startHarness({ rendererDir, userDataDir: path.join(root, 'data'), modelsDir: path.join(root, 'models'), initialModel: modelDir, log: () => undefined });
  origin = new URL(harness.url).origin;
  const response = await fetch(`${origin}${EVENTS_PATH}?client=${clientId}`, { signal: events.signal });
  await response.body!.getReader().read();
  await vi.waitUntil(() => harness.app.status().model.state === 'ready', { timeout: 120_000, interval: 50 });
});

afterAll(async () => {
  events.abort();
  await harness?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

async function setSettings(patch: Record<string, unknown>) {
  const response = await fetch(`${origin}${IPC_PATH}${encodeURIComponent(IpcChannel.setSettings)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin, referer: `${origin}/`, [CLIENT_HEADER]: clientId },
    body: JSON.stringify([patch]),
  });
  return (await response.json()) as { ok: boolean; result?: { ok: boolean } };
}

describe('serving from the web harness', () => {
  it('is off by default; on, it serves the loaded model on 127.0.0.1; off, it refuses connections', async () => {
    expect(harness.app.status().serving).toEqual({ state: 'off' });
    expect(await setSettings({ serveModel: true, servePort: 0 })).toMatchObject({ ok: true, result: { ok: true } });
    await vi.waitUntil(() => harness.app.status().serving?.state === 'on' || harness.app.status().serving?.state === 'error', { timeout: 60_000, interval: 20 });
    const serving = harness.app.status().serving;
    expect(serving).toMatchObject({ state: 'on', port: 0, url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/v1$/) });
    const url = (serving as { url: string }).url;
    const client = new OpenAI({ baseURL: url, apiKey: 'unused', maxRetries: 0 });
    expect((await client.models.list()).data.map((m) => m.id)).toEqual(['tiny-model']);

    expect(await setSettings({ serveModel: false })).toMatchObject({ ok: true });
    await vi.waitUntil(() => harness.app.status().serving?.state === 'off', { timeout: 60_000, interval: 20 });
    await expect(client.models.list()).rejects.toBeInstanceOf(OpenAI.APIConnectionError);
  });
});
