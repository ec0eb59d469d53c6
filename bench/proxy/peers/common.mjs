// Shared by the peer scripts: load packages from bench/.peers (installed by ../install.sh, never
// from the project's own node_modules), and start an http.Server the same way for every peer.
// Every Node peer gets the client-side settings the other proxies get in run.ts: 75 s idle
// keep-alive, no cap on requests per connection.
import http from 'node:http';
import { createRequire } from 'node:module';

export const peerRequire = createRequire(new URL('../../.peers/package.json', import.meta.url));

/** `node <peer>.mjs <listenPort> <backendPort> [mode]` */
export function args() {
  const [port = '0', backend = '0', mode = ''] = process.argv.slice(2);
  return { port: Number(port), backend: Number(backend), mode, upstream: `http://127.0.0.1:${backend}` };
}

export function tuneServer(server) {
  server.keepAliveTimeout = 75_000;
  server.headersTimeout = 76_000;
  server.maxRequestsPerSocket = 0;
  server.maxHeadersCount = 100;
}

export function serve(port, handler) {
  const server = http.createServer(handler);
  tuneServer(server);
  server.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${port}\n`));
  return server;
}

export function badGateway(res) {
  if (res.headersSent) res.destroy();
  else {
    res.writeHead(502, { 'content-length': '0' });
    res.end();
  }
}

process.on('SIGTERM', () => process.exit(0));
