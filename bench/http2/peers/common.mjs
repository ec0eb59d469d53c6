// Shared by the bench/http2 Node peers: an HTTP/2 server, h2c with prior knowledge or TLS with
// ALPN h2 (and http/1.1, `allowHTTP1`, as http2-proxy's README asks), with the settings the other
// fronts get in run.ts: 128 concurrent streams (nginx's default), 75 s idle.
// `node <peer>.mjs <listenPort> <h2c|tls> <certFile> <keyFile> [backendPort]`
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';

export function args() {
  const [port = '0', mode = 'h2c', cert = '', key = '', backend = '0'] = process.argv.slice(2);
  return { port: Number(port), mode, cert, key, backend: Number(backend) };
}

export function serveH2({ port, mode, cert, key }, handler) {
  const settings = { maxConcurrentStreams: 128 };
  const server =
    mode === 'tls'
      ? http2.createSecureServer({ allowHTTP1: true, settings, key: readFileSync(key), cert: readFileSync(cert) }, handler)
      : http2.createServer({ settings }, handler);
  server.setTimeout(75_000);
  server.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${port}\n`));
  return server;
}

process.on('SIGTERM', () => process.exit(0));
