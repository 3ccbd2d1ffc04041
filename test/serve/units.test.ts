/** The server's pieces alone: stop sequences, the queue, the key check, hosts, the message mapping, the command line. */
import { describe, expect, it } from 'vitest';
import { parseServeArgs } from '../../native-models/cli/serve-options.js';
import { carriesKey } from '../../native-models/serve/auth.js';
import { ApiError } from '../../native-models/serve/errors.js';
import { baseUrl, isLoopbackHost } from '../../native-models/serve/host.js';
import { planConversation } from '../../native-models/serve/messages.js';
import { LeftQueueError, ModelQueue } from '../../native-models/serve/queue.js';
import type { RequestMessage } from '../../native-models/serve/schema.js';
import { StopMatcher } from '../../native-models/serve/stop.js';

describe('StopMatcher', () => {
  const run = (stops: string[], pieces: string[]) => {
    const matcher = new StopMatcher(stops);
    const sent: string[] = [];
    let stopped = false;
    for (const piece of pieces) {
      const step = matcher.push(piece);
      sent.push(step.text);
      if (step.stopped) {
        stopped = true;
        break;
      }
    }
    if (!stopped) sent.push(matcher.flush());
    return { sent, stopped, text: sent.join('') };
  };

  it('sends text at once when it cannot start a stop sequence', () => {
    expect(run(['END'], ['Hello', ' world']).sent).toEqual(['Hello', ' world', '']);
  });

  it('holds back a possible start, and stops before a sequence split across pieces', () => {
    const result = run(['END'], ['Hello E', 'N', 'D more']);
    expect(result.sent).toEqual(['Hello ', '', '']);
    expect(result).toMatchObject({ text: 'Hello ', stopped: true });
  });

  it('sends what it held once it turns out not to be a stop sequence, and at the end', () => {
    expect(run(['END'], ['a E', 'Nx'])).toMatchObject({ sent: ['a ', 'ENx', ''], stopped: false });
    expect(run(['END'], ['a EN'])).toMatchObject({ sent: ['a ', 'EN'], stopped: false });
  });

  it('stops at the earliest of several sequences', () => {
    expect(run(['world', 'lo w'], ['Hello world'])).toMatchObject({ text: 'Hel', stopped: true });
  });

  it('gives nothing after it stopped', () => {
    const matcher = new StopMatcher(['.']);
    expect(matcher.push('a.b')).toEqual({ text: 'a', stopped: true });
    expect(matcher.push('more')).toEqual({ text: '', stopped: true });
    expect(matcher.flush()).toBe('');
  });

  it('without stop sequences passes everything through', () => {
    expect(run([], ['a', 'b'])).toMatchObject({ sent: ['a', 'b', ''], stopped: false });
  });
});

describe('ModelQueue', () => {
  const gate = () => {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    return { open, opened };
  };

  it('runs one job at a time, in arrival order', async () => {
    const queue = new ModelQueue(5);
    const order: string[] = [];
    const first = gate();
    const jobs = [
      queue.run(async () => {
        order.push('a start');
        await first.opened;
        order.push('a end');
      }),
      queue.run(async () => void order.push('b')),
      queue.run(async () => void order.push('c')),
    ];
    expect(queue.waiting).toBe(2);
    first.open();
    await Promise.all(jobs);
    expect(order).toEqual(['a start', 'a end', 'b', 'c']);
    expect(queue.busy).toBe(false);
  });

  it('refuses one more than it may hold waiting, with Retry-After', async () => {
    const queue = new ModelQueue(1);
    const first = gate();
    const running = queue.run(() => first.opened);
    const waiting = queue.run(async () => 'served');
    const refused = await queue.run(async () => 'never').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).status).toBe(429);
    expect(Number((refused as ApiError).details.headers?.['Retry-After'])).toBeGreaterThanOrEqual(1);
    first.open();
    await running;
    expect(await waiting).toBe('served');
  });

  it('takes a request whose client left out of the line; idle() waits for the running job', async () => {
    const queue = new ModelQueue(3);
    const first = gate();
    const running = queue.run(() => first.opened);
    const controller = new AbortController();
    const leaving = queue.run(async () => 'never', controller.signal).catch((e: unknown) => e);
    const staying = queue.run(async () => 'served');
    expect(queue.waiting).toBe(2);
    controller.abort();
    expect(await leaving).toBeInstanceOf(LeftQueueError);
    expect(queue.waiting).toBe(1);
    let idle = false;
    const idled = queue.idle().then(() => (idle = true));
    await Promise.resolve();
    expect(idle).toBe(false);
    first.open();
    await running;
    expect(await staying).toBe('served');
    await idled;
    expect(idle).toBe(true);
  });

  it('a failing job frees the model for the next', async () => {
    const queue = new ModelQueue(2);
    const failing = queue.run(async () => {
      throw new Error('boom');
    });
    const next = queue.run(async () => 'next');
    await expect(failing).rejects.toThrow('boom');
    expect(await next).toBe('next');
  });
});

describe('carriesKey', () => {
  it.each<[string | undefined, boolean]>([
    ['Bearer sk-right', true],
    ['bearer   sk-right', true],
    [undefined, false],
    ['', false],
    ['Bearer ', false],
    ['Bearer sk-wrong', false],
    ['Bearer sk-righ', false],
    ['Bearer sk-right-and-more', false],
    ['Basic sk-right', false],
    ['sk-right', false],
  ])('%j → %s', (header, expected) => {
    expect(carriesKey(header, 'sk-right')).toBe(expected);
  });
});

describe('hosts', () => {
  it.each<[string, boolean]>([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['localhost', true],
    ['::1', true],
    ['[::1]', true],
    ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false],
    ['::', false],
    ['192.168.1.2', false],
    ['10.0.0.1', false],
    ['example.com', false],
    ['localhost.example.com', false],
  ])('%s is loopback: %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });

  it('writes the base URL, an IPv6 address in brackets', () => {
    expect(baseUrl('127.0.0.1', 8080)).toBe('http://127.0.0.1:8080/v1');
    expect(baseUrl('::1', 9)).toBe('http://[::1]:9/v1');
    expect(baseUrl('localhost', 1)).toBe('http://localhost:1/v1');
  });
});

describe('planConversation', () => {
  const png = `data:image/png;base64,${Buffer.from('png bytes').toString('base64')}`;
  const options = { defaultDetail: 'high' as const, maxImageBytes: 1024 };

  it('the last user turn is the question; earlier turns the history, the image first in its turn, texts joined', () => {
    const messages: RequestMessage[] = [
      { role: 'developer', content: 'Be brief.' },
      { role: 'user', content: [{ type: 'text', text: 'Look:' }, { type: 'image_url', image_url: { url: png, detail: 'low' } }, { type: 'text', text: 'what is it?' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'A chart.' }] },
      { role: 'user', content: 'Which year?' },
    ];
    const plan = planConversation(messages, options);
    expect(plan.history).toEqual([
      { role: 'system', content: [{ type: 'text', text: 'Be brief.' }] },
      { role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'Look:\nwhat is it?' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'A chart.' }] },
    ]);
    expect(plan).toMatchObject({ question: 'Which year?', detail: 'low', imageInQuestion: false });
    expect(Buffer.from(plan.image!.bytes).toString()).toBe('png bytes');
    expect(plan.keys).toHaveLength(4);
  });

  it('keys: the same messages give the same keys; another image, detail or text another key', () => {
    const ask = (url: string, detail: 'low' | 'high' | 'auto', text: string) =>
      planConversation([{ role: 'user', content: [{ type: 'image_url', image_url: { url, detail } }, { type: 'text', text }] }], options).keys;
    const other = `data:image/png;base64,${Buffer.from('other bytes').toString('base64')}`;
    expect(ask(png, 'low', 'Hi')).toEqual(ask(png, 'low', 'Hi'));
    expect(ask(png, 'auto', 'Hi')).toEqual(ask(png, 'high', 'Hi')); // auto is the server's default
    expect(ask(png, 'low', 'Hi')).not.toEqual(ask(png, 'high', 'Hi'));
    expect(ask(png, 'low', 'Hi')).not.toEqual(ask(other, 'low', 'Hi'));
    expect(ask(png, 'low', 'Hi')).not.toEqual(ask(png, 'low', 'Hello'));
  });

  it('an image with the question is marked so', () => {
    const plan = planConversation([{ role: 'user', content: [{ type: 'image_url', image_url: { url: png } }, { type: 'text', text: 'Hi' }] }], options);
    expect(plan).toMatchObject({ history: [], question: 'Hi', imageInQuestion: true, detail: 'high' });
  });
});

describe('parseServeArgs', () => {
  it('defaults: loopback, port 8080, no key, auto precision on the CPU, high detail, a queue of 8', () => {
    expect(parseServeArgs(['--model', 'm'])).toEqual({
      model: 'm', host: '127.0.0.1', port: 8080, apiKey: undefined, precision: 'auto', device: 'cpu', threads: undefined, detail: 'high', queue: 8,
    });
  });

  it('reads every flag, and the key from the environment when not given', () => {
    const args = ['--model', 'm', '--host', '0.0.0.0', '--port', '0', '--precision', 'q8', '--threads', '2', '--detail', 'low', '--queue', '0'];
    expect(parseServeArgs([...args, '--api-key', 'k'])).toMatchObject({ host: '0.0.0.0', port: 0, apiKey: 'k', precision: 'q8', threads: 2, detail: 'low', queue: 0 });
    expect(parseServeArgs(args, { SCREENASK_API_KEY: 'from-env' }).apiKey).toBe('from-env');
    expect(parseServeArgs(['--model', 'm', '--api-key', 'flag'], { SCREENASK_API_KEY: 'env' }).apiKey).toBe('flag');
  });

  it('refuses a reachable host without a key, and bad numbers', () => {
    expect(() => parseServeArgs(['--model', 'm', '--host', '0.0.0.0'])).toThrow(/^--host 0\.0\.0\.0 lets other computers reach the model: add --api-key KEY/);
    expect(() => parseServeArgs(['--model', 'm', '--port', '8.5'])).toThrow(/--port: a whole number from 0 to 65535/);
    expect(() => parseServeArgs(['--model', 'm', '--port', 'x'])).toThrow(/--port: expected a number/);
    expect(() => parseServeArgs(['--model', 'm', '--threads', '0'])).toThrow(/--threads: a whole number from 1 to 256/);
  });
});
