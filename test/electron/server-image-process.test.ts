/**
 * Captures for a server, sized by the model process (the engine protocol's prepare-server-image): the app's main
 * process may not load sharp, so its remote client asks the model process, a real child process here. What a server
 * receives must be, byte for byte, what the CLI sends for the same picture (prepareServerImage in its own process).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineSupervisor } from '../../electron/main/engine-supervisor.js';
import { createNodeLauncher } from '../../electron/main/process-launcher.js';
import { modelProcessImagePreparer, remoteClient } from '../../electron/main/remote-client.js';
import { RemoteEngine } from '../../electron/main/remote-engine.js';
import { PROTOCOL_VERSION, parseReply, reply } from '../../electron/shared/engine-protocol.js';
import { loadImage } from '../../native-models/image/load-image.js';
import { prepareServerImage } from '../../native-models/remote/server-image.js';
import { writeScreenshotLike } from '../support/images.js';
import { startStandIn, type StandIn } from '../support/openai-stand-in.js';

let root: string;
let capture: Uint8Array;
let supervisor: EngineSupervisor;
let standIn: StandIn;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-server-image-'));
  capture = new Uint8Array(await readFile(await writeScreenshotLike(path.join(root, 'screen.png'), 1500, 900)));
  supervisor = new EngineSupervisor({ launcher: createNodeLauncher() });
  standIn = await startStandIn({ mode: 'vllm', answer: 'It is a terminal.' });
});

afterAll(async () => {
  await supervisor?.stop();
  await standIn?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

/** What `npm run ask -- --server` sends for this picture: decoded in its process, sized and encoded there. */
const cliImage = async (detail: 'low' | 'high', maxPixels?: number) => prepareServerImage(await loadImage(capture), detail, maxPixels);

describe('a capture sized by the model process', () => {
  it('is the CLI’s image, byte for byte, at each detail and with a pixel limit; no model needs to be loaded', async () => {
    const prepare = modelProcessImagePreparer(supervisor);
    for (const [detail, maxPixels] of [['low', undefined], ['high', undefined], ['high', 200_000]] as const) {
      const [fromProcess, fromCli] = await Promise.all([prepare(capture, detail, maxPixels), cliImage(detail, maxPixels)]);
      expect({ ...fromProcess, ms: 0 }).toEqual({ ...fromCli, ms: 0 });
    }
    // Sized, not passed through: the pixel limit and the detail each changed the picture.
    const [low, high, limited] = await Promise.all([cliImage('low'), cliImage('high'), cliImage('high', 200_000)]);
    expect(new Set([low.width * low.height, high.width * high.height, limited.width * limited.height]).size).toBe(3);
    expect(limited.width * limited.height).toBeLessThanOrEqual(200_000);
    expect(supervisor.status.state).toBe('idle');
  });

  it('reaches the server unchanged: the remote engine over the app’s client sends the CLI’s data URL', async () => {
    const engine = new RemoteEngine({
      client: remoteClient(modelProcessImagePreparer(supervisor)),
      server: () => ({ baseUrl: standIn.baseUrl, model: 'Qwen/Qwen2.5-VL-7B-Instruct' }),
      apiKey: () => undefined,
    });
    const messages = [];
    const ask = { conversationId: 'c1', followUp: false, question: 'What is this?', image: capture, detail: 'low' as const, options: { maxNewTokens: 8 } };
    for await (const message of engine.ask(ask, new AbortController().signal)) messages.push(message);
    expect(messages.at(-1)).toMatchObject({ type: 'done', stats: { provider: 'remote', image: { width: expect.any(Number) } } });
    const chat = standIn.requests.find((r) => r.path.endsWith('/chat/completions'))!;
    const sent = JSON.stringify(chat.body);
    expect(sent).toContain(JSON.stringify((await cliImage('low')).url));
  });

  it('refuses what the model process cannot decode, in one line, and leaves the process up', async () => {
    const prepare = modelProcessImagePreparer(supervisor);
    const notPng = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
    await expect(prepare(notPng, 'low')).rejects.toThrow(/^[^\n]+$/);
    await expect(prepare(new Uint8Array([1, 2, 3]), 'low')).rejects.toThrow(/malformed prepare-server-image message: image.bytes: not PNG data/);
    await expect(prepare({ width: 1, height: 1, data: new Uint8Array(3) }, 'low')).rejects.toThrow(/encode the image as PNG/);
    expect((await prepare(capture, 'low')).width).toBeGreaterThan(0);
  });
});

describe('the protocol', () => {
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]);
  it('accepts a server-image reply of PNG bytes and a size, and rejects anything else naming the field', () => {
    expect(parseReply(reply({ type: 'server-image', requestId: 'r1', png, width: 28, height: 56 })).ok).toBe(true);
    expect(parseReply(reply({ type: 'server-image', requestId: 'r1', png: new Uint8Array([1]), width: 28, height: 56 }))).toMatchObject({ ok: false, error: expect.stringMatching(/server-image message: png: not PNG data/) });
    expect(parseReply(reply({ type: 'server-image', requestId: 'r1', png, width: 0, height: 56 }))).toMatchObject({ ok: false, error: expect.stringMatching(/width/) });
    // From a model process of the build before this request existed: refused as a version skew.
    const older = { ...reply({ type: 'server-image', requestId: 'r1', png, width: 28, height: 56 }), v: 2 };
    expect(parseReply(older)).toMatchObject({ ok: false, error: `protocol version 2 is not ${PROTOCOL_VERSION} (the app and its model process are from different builds)` });
  });
});
