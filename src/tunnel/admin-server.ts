/**
 * The tunnel's admin endpoint: `GET /status` (JSON) and `GET /metrics` (Prometheus text).
 *
 * Why a separate small HTTP server: status must be readable while the tunnel is busy, without a
 * client certificate or token, from localhost only by default. It holds no state: each request
 * asks the owner for a fresh snapshot. `close()` destroys open admin connections too.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface AdminSources {
  status(): unknown;
  /** Prometheus text (the owner's prom-client registry). */
  metrics(): Promise<string>;
}

/**
 * @example
 *   const admin = await AdminServer.listen('127.0.0.1', 9180, { status: () => server.status(), metrics: () => server.metrics() });
 *   await admin.close();
 */
export class AdminServer {
  readonly server: Server;
  readonly #sockets = new Set<Socket>();

  private constructor(server: Server) {
    this.server = server;
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  static async listen(host: string, port: number, sources: AdminSources): Promise<AdminServer> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
      } else if (path === '/status') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(sources.status(), null, 2)}\n`);
      } else if (path === '/metrics') {
        sources.metrics().then(
          (text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text),
          (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(error)}\n`),
        );
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('GET /status or /metrics\n');
      }
    });
    server.keepAliveTimeout = 5000;
    const admin = new AdminServer(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return admin;
  }

  get port(): number {
    const a = this.server.address();
    return a !== null && typeof a === 'object' ? a.port : 0;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const socket of this.#sockets) socket.destroy();
    });
  }
}
