// `npm run dev:web` as a real process: it builds the renderer, generates its demo model, prints its URL and serves the
// page with the bridge; Ctrl+C stops it cleanly; bad arguments end in one line.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, runScript } from '../support/run-script.js';

let data: string;

beforeAll(async () => {
  data = await mkdtemp(path.join(os.tmpdir(), 'screenask-dev-web-'));
});
afterAll(async () => {
  if (data) await rm(data, { recursive: true, force: true });
});

describe('npm run dev:web', () => {
  it('serves the interface on loopback with a generated model, and stops on Ctrl+C', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'harness/cli.ts', '--port', '0', '--data', data], { cwd: repoRoot });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /ScreenAsk web harness: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout);
        if (match) resolve(match[1]!);
      });
      child.on('exit', (code) => reject(new Error(`dev:web exited with ${code}: ${stderr}`)));
    });
    try {
      const html = await (await fetch(url)).text();
      expect(html).toContain('/harness/bridge.js');
      expect(html).toMatch(/<script defer src="\.\/assets\/[^"]+\.js"/);
      // The page names its icon and it is served (without one, a browser asks for /favicon.ico: a 404 in the console).
      const icon = /<link rel="icon" type="image\/png" href="([^"]+)"/.exec(html)?.[1];
      const iconResponse = await fetch(new URL(icon ?? '/favicon.ico', url));
      expect([iconResponse.status, iconResponse.headers.get('content-type')]).toEqual([200, 'image/png']);
      const screen = new Uint8Array(await (await fetch(`${url}harness/screen.png`)).arrayBuffer());
      expect([...screen.subarray(1, 4)]).toEqual([0x50, 0x4e, 0x47]);
      const code = await new Promise<number | null>((resolve) => {
        child.on('exit', (c) => resolve(c));
        child.kill('SIGINT');
      });
      expect(code).toBe(0);
    } finally {
      // A failed check above must not leave the harness and its model process running.
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    }
  });

  it('refuses a bad port or a missing model folder in one line', async () => {
    const port = await runScript('harness/cli.ts', ['--port', 'eighty', '--data', data]);
    expect(port.code).toBe(1);
    expect(port.stderr.split('\n')[0]).toBe('dev:web: --port must be a port number, got "eighty"');
    const model = await runScript('harness/cli.ts', ['--model', path.join(data, 'nowhere'), '--data', data]);
    expect(model.code).toBe(1);
    expect(model.stderr.split('\n')[0]).toMatch(/^dev:web: --model .*nowhere is not a folder: give a model folder/);
  });
});
