/**
 * A stand-alone HTTP server for the lease API (what `lifeline lease serve` runs). Anything the
 * API does not route gets a JSON 404. `close()` stops the server and ends idle keep-alive
 * connections; the store belongs to the caller.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLeaseHttpHandler } from './lease-http-handler.js';
import type { LeaseHttpOptions } from './lease-http-handler.js';

export interface LeaseServerOptions extends LeaseHttpOptions {
  /** Port (0 picks a free one). Default 0. */
  port?: number;
  /** Address to listen on. Default 127.0.0.1. */
  host?: string;
}

export interface LeaseServer {
  readonly server: http.Server;
  /** `http://host:port` */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * @example
 *   const api = await serveLeases({ store: new MemoryLeaseStore(), bearerToken: secret, port: 8080 });
 *   console.log(`leases at ${api.url}/leases`);
 *   await api.close();
 */
export async function serveLeases(options: LeaseServerOptions): Promise<LeaseServer> {
  const { port = 0, host = '127.0.0.1', ...apiOptions } = options;
  const handler = createLeaseHttpHandler(apiOptions);
  const server = http.createServer((req, res) => {
    if (!handler(req, res)) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'ERR_NOT_FOUND', message: `no route ${req.method ?? ''} ${req.url ?? ''}` } }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        handler.closeStreams();
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
