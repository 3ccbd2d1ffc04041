/** node:dns functions that configure the resolver and never touch the network (the sentinel leaves them alone). */
export const DNS_CONFIGURATION: readonly string[];
/** net.Server#listen and dgram.Socket#bind as they were before the sentinel: only for a test's own probe targets. */
export function listenUnwatched(server: import('node:net').Server, ...args: unknown[]): import('node:net').Server;
export function bindUnwatched(socket: import('node:dgram').Socket, ...args: unknown[]): import('node:dgram').Socket;
