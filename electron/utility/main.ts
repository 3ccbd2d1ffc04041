/**
 * Entry point of the process that hosts the engine. Inference runs here, never in the main process: a prefill holds
 * its thread for seconds (onnxruntime's `run` blocks the event loop), and a native crash must not take the app down.
 *
 * Two ways to be started, detected at runtime:
 * - Electron's `utilityProcess.fork`: messages arrive on `process.parentPort` as `{ data, ports }` events and leave
 *   by `parentPort.postMessage`. A MessagePort transferred with an ask (`ports[0]`) gets that answer's stream, so
 *   tokens go straight to the renderer without a hop through the main process (see `ReplyPort` in engine-host.ts).
 * - Node's `child_process.fork` (tests, and the Node fallback): `process.on('message')` / `process.send`, with
 *   `serialization: 'advanced'` so PNG bytes cross as a Uint8Array. Ports cannot be transferred there.
 */
import { createEngineHost, type ReplyPort } from './engine-host.js';
import { reply, type EngineReply } from '../shared/engine-protocol.js';

/** The parts of Electron's `process.parentPort` used here (typed locally: Node tests never load Electron's types). */
interface ParentPortLike {
  on(event: 'message', listener: (event: { data: unknown; ports?: readonly ReplyPort[] }) => void): unknown;
  postMessage(message: unknown): void;
}

interface Channel {
  send(message: EngineReply): void;
  listen(handler: (message: unknown, ports: readonly ReplyPort[]) => void): void;
}

function openChannel(): Channel {
  const parentPort = (process as unknown as { parentPort?: ParentPortLike | null }).parentPort;
  if (parentPort) {
    return {
      send: (message) => parentPort.postMessage(message),
      listen: (handler) => parentPort.on('message', (event) => handler(event.data, event.ports ?? [])),
    };
  }
  const send = process.send?.bind(process);
  if (send) {
    // Without a parent the process has no reason to live: exit instead of holding a model's memory as an orphan.
    process.on('disconnect', () => process.exit(0));
    return {
      send: (message) => void send(message),
      listen: (handler) => process.on('message', (message) => handler(message, [])),
    };
  }
  throw new Error('The ScreenAsk model process must be started by the app (no parentPort and no IPC channel).');
}

const channel = openChannel();
const host = createEngineHost((message) => channel.send(message));
channel.listen((message, ports) => void host.handle(message, ports));

// A bug that escapes the host must not leave a half-alive process: report it on stderr and exit, so the supervisor
// sees an exit, fails what was in flight and restarts a clean process.
process.on('uncaughtException', (error) => {
  console.error('screenask model process: uncaught exception:', error);
  process.exit(70);
});
process.on('unhandledRejection', (error) => {
  console.error('screenask model process: unhandled rejection:', error);
  process.exit(70);
});

channel.send(reply({ type: 'ready', pid: process.pid }));
