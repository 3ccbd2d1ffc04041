// The web harness's server guards what Electron's IPC guards, and a little more because it listens on a socket: only
// its own Host names, only same-origin writes from a page it knows, the sender check and payload schemas of the real
// registerIpc, and no files outside the built renderer.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IpcChannel } from '../../electron/shared/ipc.js';
import { startHarness, type Harness } from '../../harness/server.js';
import { CLIENT_HEADER, EVENTS_PATH, IPC_PATH } from '../../harness/protocol.js';

let root: string;
let harness: Harness;
let origin: string;
const clientId = crypto.randomUUID();
const events = new AbortController();
let firstEvents: Promise<string>;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-harness-'));
  const rendererDir = path.join(root, 'renderer');
  await mkdir(rendererDir);
  await writeFile(path.join(rendererDir, 'index.html'), '<html><head></head><body>app</body></html>');
  await writeFile(path.join(root, 'secret.txt'), 'outside the renderer');
  harness = await startHarness({ rendererDir, userDataDir: path.join(root, 'data'), modelsDir: path.join(root, 'models'), log: () => undefined });
  origin = new URL(harness.url).origin;
  // A page's event stream: the server knows the client from here on.
  const response = await fetch(`${origin}${EVENTS_PATH}?client=${clientId}`, { signal: events.signal });
  const reader = response.body!.getReader();
  firstEvents = reader.read().then(({ value }) => new TextDecoder().decode(value));
  await firstEvents;
});

afterAll(async () => {
  events.abort();
  await harness?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

function invoke(channel: string, args: unknown[], headers: Record<string, string> = {}) {
  return fetch(`${origin}${IPC_PATH}${encodeURIComponent(channel)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin, referer: `${origin}/`, [CLIENT_HEADER]: clientId, ...headers },
    body: JSON.stringify(args),
  });
}

describe('web harness server', () => {
  it('serves the renderer with the bridge injected and the app\'s CSP', async () => {
    const response = await fetch(harness.url);
    expect(response.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(await response.text()).toMatch(/<head>\s*<script src="\/harness\/bridge\.js"><\/script>/);
  });

  it('answers only under its own host name (no DNS rebinding)', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(harness.url, { headers: { host: 'attacker.example:80' } }, (res) => resolve(res.statusCode ?? 0));
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(403);
  });

  it('serves nothing outside the built renderer', async () => {
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt']) {
      const response = await fetch(`${origin}${p}`);
      expect(response.status).toBe(404);
    }
  });

  it('invokes a channel for a known page and returns the main process\'s answer', async () => {
    const reply = (await (await invoke(IpcChannel.getSettings, [])).json()) as { ok: boolean; result: { useCache: boolean } };
    expect(reply.ok).toBe(true);
    expect(reply.result.useCache).toBe(true);
  });

  it('refuses writes from another origin or from an unknown page', async () => {
    expect((await invoke(IpcChannel.getSettings, [], { origin: 'http://evil.example' })).status).toBe(403);
    expect((await invoke(IpcChannel.getSettings, [], { [CLIENT_HEADER]: crypto.randomUUID() })).status).toBe(403);
  });

  it('applies registerIpc\'s sender check and payload schemas', async () => {
    const foreign = (await (await invoke(IpcChannel.getSettings, [], { referer: 'http://evil.example/' })).json()) as { ok: boolean; error: string };
    expect(foreign).toEqual({ ok: false, error: expect.stringMatching(/sender not allowed/) });
    const malformed = (await (await invoke(IpcChannel.pullModel, [{ id: '../../etc', precision: 'fp32' }])).json()) as { ok: boolean; error: string };
    expect(malformed).toEqual({ ok: false, error: expect.stringMatching(/malformed message/) });
    expect((await invoke('screenask:no-such-channel', [])).status).toBe(404);
  });
});
