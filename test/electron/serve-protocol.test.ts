/** The engine protocol's serve / stop-serving requests and serving reply: what each side accepts and refuses. */
import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, parseReply, parseRequest } from '../../electron/shared/engine-protocol.js';

const v = PROTOCOL_VERSION;

describe('serve requests', () => {
  it.each([0, 1024, 8080, 65535])('accepts port %d', (port) => {
    expect(parseRequest({ v, type: 'serve', requestId: 's1', port })).toEqual({ ok: true, message: { v, type: 'serve', requestId: 's1', port } });
  });

  it.each([
    ['a privileged port', { port: 80 }, 'serve message: port:'],
    ['port 1023', { port: 1023 }, 'serve message: port:'],
    ['a port out of range', { port: 65536 }, 'serve message: port:'],
    ['a fractional port', { port: 8080.5 }, 'serve message: port:'],
    ['a port as text', { port: '8080' }, 'serve message: port:'],
    ['no port', {}, 'serve message: port:'],
    // The address is not the sender's to choose: the model process serves on 127.0.0.1 only.
    ['a host', { port: 8080, host: '0.0.0.0' }, 'serve message: message: Unrecognized key: "host"'],
    ['an API key', { port: 8080, apiKey: 'sk-x' }, 'serve message: message: Unrecognized key: "apiKey"'],
  ])('refuses %s, naming the field', (_name, fields, error) => {
    const parsed = parseRequest({ v, type: 'serve', requestId: 's2', ...fields });
    expect(parsed).toMatchObject({ ok: false, requestId: 's2' });
    expect((parsed as { error: string }).error.startsWith(error)).toBe(true);
  });

  it('stop-serving takes nothing but its id', () => {
    expect(parseRequest({ v, type: 'stop-serving', requestId: 's3' })).toMatchObject({ ok: true });
    expect(parseRequest({ v, type: 'stop-serving', requestId: 's4', port: 8080 })).toMatchObject({ ok: false, requestId: 's4' });
  });

  it('an older model process version is refused by name', () => {
    expect(parseRequest({ v: 3, type: 'serve', requestId: 's5', port: 8080 })).toMatchObject({
      ok: false,
      error: `protocol version 3 is not ${v} (the app and its model process are from different builds)`,
    });
  });
});

describe('serving replies', () => {
  it.each(['http://127.0.0.1:8080/v1', 'http://127.0.0.1:1/v1', null])('accept %s', (url) => {
    expect(parseReply({ v, type: 'serving', requestId: 's6', url })).toMatchObject({ ok: true, message: { url } });
  });

  it.each(['http://0.0.0.0:8080/v1', 'http://192.168.1.2:8080/v1', 'http://localhost:8080/v1', 'http://127.0.0.1:8080', 'https://127.0.0.1:8080/v1', undefined])(
    'refuse %s: the app only ever serves on 127.0.0.1',
    (url) => {
      expect(parseReply({ v, type: 'serving', requestId: 's7', url })).toMatchObject({ ok: false, requestId: 's7' });
    },
  );
});
