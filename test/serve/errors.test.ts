/** Every refusal of the server: its status, an OpenAI-style error object with one line naming the problem and the fix. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../../native-models/index.js';
import { writeSmolVlmModel } from '../fixtures/smolvlm/generate.js';
import sharp from 'sharp';
import { writeSolid } from '../support/images.js';
import { noise } from '../support/synthetic-images.js';
import { dataUrl, raw, startServer, type RawBody, type RunningServer } from './harness.js';

let root: string;
let model: Model;
let served: RunningServer;
let small: string;
let large: string;

const limits = { bodyBytes: 64 * 1024, imageBytes: 8 * 1024, queue: 1 };

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'screenask-serve-errors-'));
  await writeSmolVlmModel(path.join(root, 'scripted'), { seed: 3, precisions: ['fp32'], scriptedAnswer: 'Fine.' });
  model = await loadModel(path.join(root, 'scripted'), { precision: 'fp32' });
  served = await startServer({ model, limits });
  small = await dataUrl(await writeSolid(path.join(root, 'small.png'), 32, 32, [200, 30, 30]));
  // Noise does not compress: about 30 KiB of PNG, over the 8 KiB limit.
  const pixels = noise(100, 100, 1);
  await sharp(pixels.data, { raw: { width: 100, height: 100, channels: 3 } }).png().toFile(path.join(root, 'large.png'));
  large = await dataUrl(path.join(root, 'large.png'));
});

afterAll(async () => {
  await served?.close();
  await model?.dispose();
  if (root) await rm(root, { recursive: true, force: true });
});

const post = (body: unknown, headers: Record<string, string> = {}) =>
  raw(served.url, '/chat/completions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

const ask = (extra: Record<string, unknown> = {}, content: unknown = 'Hi') => ({ model: 'scripted', messages: [{ role: 'user', content }], ...extra });
const image = (url: string, detail?: string) => ({ type: 'image_url', image_url: { url, ...(detail ? { detail } : {}) } });

function expectError(body: RawBody, expected: { type?: string; code?: string | null; param?: string | null; message: RegExp }): void {
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error!).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(body.error!.message).not.toContain('\n');
  expect(body.error).toMatchObject({ type: expected.type ?? 'invalid_request_error', ...(expected.code !== undefined ? { code: expected.code } : {}), ...(expected.param !== undefined ? { param: expected.param } : {}) });
  expect(body.error!.message).toMatch(expected.message);
}

describe('400: a request the server cannot answer as asked', () => {
  it.each<[string, unknown, { param?: string | null; code?: string; message: RegExp }]>([
    ['a body that is not JSON', '{"model": "scripted", ', { message: /^The request body is not JSON \(.*\): send a JSON object/ }],
    ['a body that is not an object', '[1, 2]', { message: /must be a JSON object with model and messages/ }],
    ['no messages', { model: 'scripted' }, { param: 'messages', message: /^Invalid messages: / }],
    ['an empty message list', { model: 'scripted', messages: [] }, { param: 'messages', message: /must hold at least one message/ }],
    ['content of the wrong type', ask({}, 42), { param: 'messages[0].content', message: /^Invalid messages\[0\]\.content: expected string or array\.$/ }],
    ['an audio part', ask({}, [{ type: 'input_audio', input_audio: { data: '', format: 'wav' } }]), { message: /must be a part of type text or image_url/ }],
    ['a tool message', { model: 'scripted', messages: [{ role: 'tool', content: 'x', tool_call_id: '1' }] }, { param: 'messages[0].role', message: /tool and function messages are not supported/ }],
    ['a temperature out of range', ask({ temperature: 9 }), { param: 'temperature', message: /^Invalid temperature: must be a number from 0 to 5 \(got 9\)\.$/ }],
    ['max_tokens 0', ask({ max_tokens: 0 }), { param: 'max_tokens', message: /^Invalid max_tokens: must be a whole number from 1 to 8192 \(got 0\)/ }],
    ['max_completion_tokens too large', ask({ max_completion_tokens: 10_000 }), { param: 'max_completion_tokens', message: /^Invalid max_completion_tokens/ }],
    ['top_p 0', ask({ top_p: 0 }), { param: 'top_p', message: /must be a number above 0 and at most 1/ }],
    ['a negative seed', ask({ seed: -1 }), { param: 'seed', message: /^Invalid seed: must be a whole number from 0 to 4294967295/ }],
    ['a repetition penalty out of range', ask({ repetition_penalty: 9 }), { param: 'repetition_penalty', message: /^Invalid repetition_penalty/ }],
    ['n above 1', ask({ n: 2 }), { param: 'n', message: /^n must be 1 \(got 2\): the server gives one answer per request/ }],
    ['max_tokens and max_completion_tokens that disagree', ask({ max_tokens: 5, max_completion_tokens: 6 }), { message: /disagree: send one of them/ }],
    ['an empty stop sequence', ask({ stop: ['x', ''] }), { param: 'stop', message: /empty string/ }],
    ['five stop sequences', ask({ stop: ['a', 'b', 'c', 'd', 'e'] }), { param: 'stop', message: /at most 4 sequences/ }],
    ['tools', ask({ tools: [{ type: 'function', function: { name: 'f' } }] }), { param: 'tools', code: 'unsupported_parameter', message: /^tools is not supported: / }],
    ['a presence penalty', ask({ presence_penalty: 0.5 }), { param: 'presence_penalty', message: /use repetition_penalty/ }],
    ['a JSON response format', ask({ response_format: { type: 'json_object' } }), { param: 'response_format', message: /answers are plain text/ }],
    ['an assistant message last', { model: 'scripted', messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }] }, { param: 'messages[1].role', message: /^The last message is from the assistant: end messages with the user's question/ }],
    ['an assistant message without content', { model: 'scripted', messages: [{ role: 'assistant', content: null }, { role: 'user', content: 'Hi' }] }, { message: /tool calls are not supported/ }],
  ])('%s', async (_, body, expected) => {
    const response = await post(body);
    expect(response.status).toBe(400);
    expectError(response.body, expected);
  });

  it.each<[string, () => unknown[], { code: string; param: string; message: RegExp }]>([
    ['a remote image URL (the server never fetches)', () => [image('https://example.com/screen.png')], { code: 'remote_image_refused', param: 'messages[0].content[0].image_url.url', message: /is a remote URL: the server never fetches images/ }],
    ['an image URL that is not a data URL', () => [image('screen.png')], { code: 'invalid_image_url', param: 'messages[0].content[0].image_url.url', message: /is not a data URL/ }],
    ['a data URL without base64', () => [image('data:image/png,abc')], { code: 'invalid_image_url', param: 'messages[0].content[0].image_url.url', message: /without ;base64/ }],
    ['an image that does not decode', () => [image(`data:image/png;base64,${Buffer.from('not a picture at all').toString('base64')}`)], { code: 'invalid_image', param: 'messages[0].content[0].image_url.url', message: /^The image in messages\[0\]\.content\[0\] does not decode: / }],
    ['two images in one message', () => [image(small), image(small), { type: 'text', text: 'Compare' }], { code: 'too_many_images', param: 'messages[0].content[1]', message: /the engine holds one image per conversation/ }],
    ['an unknown detail level', () => [image(small, 'ultra')], { code: 'invalid_request', param: 'messages[0].content[0].image_url.detail', message: /^Invalid messages\[0\]\.content\[0\]\.image_url\.detail/ }],
  ])('%s', async (_, content, expected) => {
    const response = await post(ask({}, content()));
    expect(response.status).toBe(400);
    expectError(response.body, expected);
  });

  it('two images across the conversation, and an image outside a user message', async () => {
    const twice = await post({
      model: 'scripted',
      messages: [{ role: 'user', content: [image(small)] }, { role: 'assistant', content: 'Red.' }, { role: 'user', content: [image(small), { type: 'text', text: 'And this?' }] }],
    });
    expect(twice.status).toBe(400);
    expectError(twice.body, { code: 'too_many_images', param: 'messages[2].content[0]', message: /second image: the engine holds one image per conversation \(the first is messages\[0\]\.content\[0\]\); ask about another picture in a new conversation/ });
    const system = await post({ model: 'scripted', messages: [{ role: 'system', content: [image(small)] }, { role: 'user', content: 'Hi' }] });
    expect(system.status).toBe(400);
    expectError(system.body, { message: /only user messages may hold the image/ });
  });

  it('a question longer than the context, also when streaming (the stream opens only once the answer starts)', async () => {
    const long = 'zq'.repeat(12_000);
    for (const stream of [false, true]) {
      const response = await post(ask({ stream }, long));
      expect(response.status).toBe(400);
      expectError(response.body, { message: /too long for the model/ });
    }
  });

  it('reaches the openai client as a BadRequestError with the param', async () => {
    const error = await served.client.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: 'Hi' }], n: 3 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error).toMatchObject({ status: 400, param: 'n', type: 'invalid_request_error' });
  });
});

describe('403, 404, 405', () => {
  it('refuses requests a web page made (Origin header)', async () => {
    const response = await post(ask(), { Origin: 'https://example.com' });
    expect(response.status).toBe(403);
    expectError(response.body, { type: 'permission_error', code: 'origin_refused', message: /call the server from a program/ });
  });

  it('names the routes for an unknown one, and the model for an unknown model', async () => {
    const route = await raw(served.url, '/completions', { method: 'POST', body: '{}' });
    expect(route.status).toBe(404);
    expectError(route.body, { code: 'unknown_url', message: /^Unknown route POST \/v1\/completions: this server offers GET \/v1\/models and POST \/v1\/chat\/completions\.$/ });
    const error = await served.client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error).toMatchObject({ status: 404, code: 'model_not_found', param: 'model' });
    expect((error as Error).message).toMatch(/The model "gpt-4o" does not exist here: this server has "scripted"/);
    await expect(served.client.models.retrieve('other')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('says which method a route takes', async () => {
    const get = await raw(served.url, '/chat/completions');
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expectError(get.body, { code: 'method_not_allowed', message: /^GET is not allowed on \/v1\/chat\/completions: use POST\.$/ });
    const postModels = await raw(served.url, '/models', { method: 'POST', body: '{}' });
    expect(postModels.status).toBe(405);
    expect(postModels.headers.get('allow')).toBe('GET');
  });
});

describe('413: too large', () => {
  it('a body over the limit, named in the message (declared or streamed)', async () => {
    const response = await post(ask({}, 'x'.repeat(100 * 1024)));
    expect(response.status).toBe(413);
    expectError(response.body, { code: 'request_too_large', message: /^The request body is over the server's limit of 64 KiB: send a smaller image or fewer messages\.$/ });
    // Without a Content-Length: the limit is counted as the body arrives.
    const chunked = await raw(served.url, '/chat/completions', {
      method: 'POST',
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 20; i++) controller.enqueue(new TextEncoder().encode(' '.repeat(8 * 1024)));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    // The server still answers afterwards.
    expect((await post(ask())).status).toBe(200);
  });

  it('an image over the limit, named with its size and the limit', async () => {
    const response = await post(ask({}, [image(large), { type: 'text', text: 'What is it?' }]));
    expect(response.status).toBe(413);
    expectError(response.body, { code: 'image_too_large', param: 'messages[0].content[0].image_url.url', message: /^The image in messages\[0\]\.content\[0\] is [\d.]+ KiB, over the server's limit of 8 KiB: send a smaller picture/ });
  });
});

describe('429: the queue is full', () => {
  it('refuses with Retry-After while the model is busy and the line is full; the waiting request is answered after', async () => {
    let release!: () => void;
    const busy = served.server.queue.run(() => new Promise<void>((resolve) => (release = resolve)));
    const waiting = served.client.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: 'Hi' }] });
    await expect.poll(() => served.server.queue.waiting).toBe(1);
    const refused = await post(ask());
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expectError(refused.body, { type: 'rate_limit_error', code: 'queue_full', message: /^The model is busy and 1 request\(s\) already wait: try again in about \d+ s\.$/ });
    const viaClient = await served.client.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e);
    expect(viaClient).toBeInstanceOf(OpenAI.RateLimitError);
    release();
    await busy;
    expect((await waiting).choices[0]!.message.content).toBe('Fine.');
  });

  it('a client that leaves while waiting gives its place up', async () => {
    let release!: () => void;
    const busy = served.server.queue.run(() => new Promise<void>((resolve) => (release = resolve)));
    const controller = new AbortController();
    const gone = fetch(`${served.url}/chat/completions`, { method: 'POST', body: JSON.stringify(ask()), signal: controller.signal }).catch(() => 'aborted');
    await expect.poll(() => served.server.queue.waiting).toBe(1);
    controller.abort();
    expect(await gone).toBe('aborted');
    await expect.poll(() => served.server.queue.waiting).toBe(0);
    release();
    await busy;
  });
});

describe('500', () => {
  it('says only that it happened; the details go to the server\'s log', async () => {
    const broken = new Proxy(model, {
      get: (target, key, receiver) =>
        key === 'startConversation'
          ? () => {
              throw new Error('secret internal detail at /home/user/models');
            }
          : Reflect.get(target, key, receiver),
    });
    const server = await startServer({ model: broken, modelId: 'scripted' });
    try {
      const response = await raw(server.url, '/chat/completions', { method: 'POST', body: JSON.stringify(ask()) });
      expect(response.status).toBe(500);
      expectError(response.body, { type: 'server_error', code: 'internal_error', message: /^The server failed to answer \(an internal error; the details are in the server's log\)\.$/ });
      expect(JSON.stringify(response.body)).not.toContain('secret');
      expect(server.internalErrors.map((e) => (e as Error).message)).toEqual(['secret internal detail at /home/user/models']);
      // The model is free again.
      expect(server.server.queue.busy).toBe(false);
    } finally {
      await server.close();
    }
  });
});
