// The server's public API, for hosts other than `npm run serve` (the app's Settings switch):
//   const server = new ChatServer({ model, apiKey, detail: 'high' });
//   const url = await server.listen('127.0.0.1', 0);   // http://127.0.0.1:PORT/v1
//   …
//   await server.close();                              // stops answers; the model can then be disposed
export { ChatServer, defaultLimits, type ServerLimits, type ServerOptions } from './server.js';
export type { CompletionRecord } from './chat.js';
export { baseUrl, isLoopbackHost } from './host.js';
