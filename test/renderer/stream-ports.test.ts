import { afterEach, describe, expect, it } from 'vitest';
import { STREAM_PORT_MESSAGE } from '../../electron/shared/ipc-channels.js';
import { StreamPorts } from '../../renderer/src/lib/stream-ports.js';

const opened: MessagePort[] = [];
function channel(): MessageChannel {
  const c = new MessageChannel();
  opened.push(c.port1, c.port2);
  return c;
}
afterEach(() => {
  for (const p of opened.splice(0)) p.close();
});

function post(askId: string, port: MessagePort, source: unknown = window, type = STREAM_PORT_MESSAGE) {
  window.dispatchEvent(new MessageEvent('message', { data: { type, askId }, source: source as Window, ports: [port] }));
}

describe('StreamPorts', () => {
  it('keeps a port that arrives before its ask id is known, and hands it over when claimed', async () => {
    const ports = new StreamPorts();
    const stop = ports.listen(window);
    const c = channel();
    post('a1', c.port1);
    await expect(ports.claim('a1')).resolves.toBe(c.port1);
    stop();
  });

  it('waits for a port claimed before it arrives', async () => {
    const ports = new StreamPorts();
    const stop = ports.listen(window);
    const claimed = ports.claim('a2');
    const c = channel();
    post('a2', c.port1);
    await expect(claimed).resolves.toBe(c.port1);
    stop();
  });

  it('ignores messages that do not come from this window or are not stream ports', async () => {
    const ports = new StreamPorts({ claimTimeoutMs: 50 });
    const stop = ports.listen(window);
    const c = channel();
    post('a3', c.port1, null);
    post('a3', c.port1, window, 'something-else');
    await expect(ports.claim('a3')).rejects.toThrow(/did not start/);
    stop();
  });

  it('closes the oldest unclaimed port beyond its limit', async () => {
    const ports = new StreamPorts({ maxUnclaimed: 1, claimTimeoutMs: 50 });
    const first = channel();
    const second = channel();
    ports.offer('old', first.port1);
    ports.offer('new', second.port1);
    await expect(ports.claim('new')).resolves.toBe(second.port1);
    await expect(ports.claim('old')).rejects.toThrow();
  });
});
