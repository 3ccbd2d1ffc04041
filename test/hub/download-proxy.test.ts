/**
 * HTTP_PROXY is honoured for the Hub, and loopback bypasses it. The "remote" Hub is a host name under `.invalid` (which
 * never resolves): only the proxy, a loopback server here that forwards to the fake hub, knows where it is.
 */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { downloadFiles } from '../../native-models/hub/download.js';
import { resolveRevision } from '../../native-models/hub/hub-api.js';
import { fakeBytes, fakeSha, startFakeHub, type FakeHub } from '../support/fake-hub.js';

const body = fakeBytes(200 * 1024, 11);
let hub: FakeHub;
let proxy: http.Server;
const proxied: string[] = [];
const tunnels: net.Socket[] = [];
const saved = { HTTP_PROXY: process.env.HTTP_PROXY, NO_PROXY: process.env.NO_PROXY, no_proxy: process.env.no_proxy };

beforeAll(async () => {
  hub = await startFakeHub({ repos: { 'screenask/tiny': { sha: fakeSha('p'), files: { 'onnx/model.onnx': body } } } });
  const target = new URL(hub.endpoint);
  proxy = http.createServer((req, res) => {
    proxied.push(req.url ?? '');
    const url = new URL(req.url ?? '/'); // absolute-form, as clients send to a proxy
    const upstream = http.request(
      { host: target.hostname, port: target.port, path: url.pathname + url.search, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  // undici tunnels through proxies with CONNECT (as it must for https); the tunnel leads to the fake hub.
  proxy.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    proxied.push(`CONNECT ${req.url ?? ''}`);
    tunnels.push(socket);
    const upstream = net.connect(Number(target.port), target.hostname, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  process.env.HTTP_PROXY = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  process.env.NO_PROXY = '';
  process.env.no_proxy = '';
});

afterAll(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  for (const socket of tunnels) socket.destroy();
  proxy.closeAllConnections();
  await new Promise((resolve) => proxy.close(resolve));
  await hub.close();
});

it('goes through HTTP_PROXY to a remote hub, and straight to a loopback CDN', async () => {
  const endpoint = 'http://hub.screenask.invalid';
  const revision = await resolveRevision('screenask/tiny', 'main', { endpoint, token: '' });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'screenask-proxy-'));
  try {
    await downloadFiles(revision, revision.files, dir, { endpoint, token: '' });
    expect(Buffer.compare(await readFile(path.join(dir, 'onnx/model.onnx')), Buffer.from(body))).toBe(0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // One tunnel (kept alive) carried the listing and the resolve request; the CDN on loopback was reached directly.
  expect(proxied).toEqual(['CONNECT hub.screenask.invalid:80']);
  expect(hub.requests.filter((r) => r.server === 'hub').map((r) => r.url)).toEqual([
    '/api/models/screenask/tiny/revision/main?blobs=true',
    `/screenask/tiny/resolve/${revision.sha}/onnx/model.onnx`,
  ]);
  expect(hub.requests.filter((r) => r.server === 'cdn').length).toBe(1);
});
