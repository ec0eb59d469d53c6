/**
 * The admin listener: `/healthz` (200, or 503 while draining), `/stats` (JSON) and `/metrics`
 * (Prometheus text). Plain `http.Server`: its traffic is a scrape every few seconds, so clarity
 * wins over the data path's raw parser here.
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressConfig } from '../config/index.js';

export interface AdminSource {
  draining(): boolean;
  stats(): unknown;
  metricsText(): Promise<string>;
  metricsContentType: string;
  /** Extra handlers (the lease API mounts here); return true when the request was handled. */
  extra?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
}

export async function startAdmin(address: AddressConfig, source: AdminSource): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (source.extra?.(req, res) === true) return;
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/healthz') {
      const draining = source.draining();
      res.writeHead(draining ? 503 : 200, { 'content-type': 'text/plain' }).end(draining ? 'draining\n' : 'ok\n');
    } else if (path === '/stats') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(source.stats(), null, 2)}\n`);
    } else if (path === '/metrics') {
      source.metricsText().then(
        (text) => res.writeHead(200, { 'content-type': source.metricsContentType }).end(text),
        (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(error)}\n`),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz, /stats or /metrics\n');
    }
  });
  server.keepAliveTimeout = 65_000;
  server.listen(address.port, address.host);
  await once(server, 'listening');
  return server;
}
