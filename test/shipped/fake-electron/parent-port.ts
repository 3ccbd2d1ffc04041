// Loaded with `--import` into a utility process the fake forks: gives it Electron's `process.parentPort` (an emitter
// of { data, ports } message events, and postMessage) over Node's IPC channel, and takes away what Electron's utility
// processes do not have (process.send), so the entry runs the path it runs under Electron.
import { EventEmitter } from 'node:events';

const send = process.send?.bind(process);
if (!send) throw new Error('parent-port shim: no IPC channel');

class ParentPort extends EventEmitter {
  postMessage(message: unknown): void {
    send!(message as object);
  }
}
const parentPort = new ParentPort();
process.on('message', (data) => parentPort.emit('message', { data, ports: [] }));
// Electron ends a utility process whose parent is gone.
process.on('disconnect', () => process.exit(0));
Object.assign(process, { type: 'utility', parentPort, send: undefined });
Object.assign(process.versions, { electron: '45.4.1' });
