/**
 * The tunnel's admin endpoint: `GET /status` (JSON), `GET /metrics` (Prometheus text), and a live
 * page at `/` fed by `GET /events` (Server-Sent Events: the status about once a second while a
 * page is open).
 *
 * Why a separate small HTTP server: status must be readable while the tunnel is busy, without a
 * client certificate or token, from localhost only by default. It holds no state: each request
 * asks the owner for a fresh snapshot. `close()` ends open streams and destroys admin connections.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface AdminSources {
  status(): unknown;
  /** Prometheus text (the owner's prom-client registry). */
  metrics(): Promise<string>;
}

/** How often an open page gets the status. */
export const STATUS_EVENT_INTERVAL_MS = 1_000;

/** The page's files, from the package's `assets/dashboard` (the nearest above this module). */
function pageAssets(): Map<string, { type: string; body: Buffer }> {
  let dir = dirname(fileURLToPath(import.meta.url));
  const files = new Map<string, { type: string; body: Buffer }>();
  for (let i = 0; i < 6; i++) {
    const assets = join(dir, 'assets', 'dashboard');
    if (existsSync(join(assets, 'tunnel.html'))) {
      files.set('/', { type: 'text/html; charset=utf-8', body: readFileSync(join(assets, 'tunnel.html')) });
      files.set('/tunnel.js', { type: 'text/javascript; charset=utf-8', body: readFileSync(join(assets, 'tunnel.js')) });
      files.set('/dashboard.css', { type: 'text/css; charset=utf-8', body: readFileSync(join(assets, 'dashboard.css')) });
      return files;
    }
    dir = dirname(dir);
  }
  return files;
}

/**
 * @example
 *   const admin = await AdminServer.listen('127.0.0.1', 9180, { status: () => server.status(), metrics: () => server.metrics() });
 *   await admin.close();
 */
export class AdminServer {
  readonly server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #streams = new Set<ServerResponse>();
  readonly #sources: AdminSources;
  #timer: NodeJS.Timeout | undefined;

  private constructor(server: Server, sources: AdminSources) {
    this.server = server;
    this.#sources = sources;
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  static async listen(host: string, port: number, sources: AdminSources): Promise<AdminServer> {
    const assets = pageAssets();
    const server = createServer();
    const admin = new AdminServer(server, sources);
    server.on('request', (req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const asset = assets.get(path);
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
      } else if (path === '/status') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(sources.status(), null, 2)}\n`);
      } else if (path === '/metrics') {
        sources.metrics().then(
          (text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text),
          (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(error)}\n`),
        );
      } else if (path === '/events') {
        admin.#attach(res);
      } else if (asset !== undefined) {
        res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache', 'content-security-policy': "default-src 'self'; img-src 'self' data:" }).end(asset.body);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('GET /, /status, /events or /metrics\n');
      }
    });
    server.keepAliveTimeout = 5000;
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

  /** An open page's stream: the status now, then every interval until it goes away. */
  #attach(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.write(`retry: 2000\nevent: status\ndata: ${JSON.stringify(this.#sources.status())}\n\n`);
    this.#streams.add(res);
    res.on('close', () => {
      this.#streams.delete(res);
      if (this.#streams.size === 0 && this.#timer !== undefined) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    });
    if (this.#timer === undefined) {
      // Only while a page is open: the tunnel pays nothing for a page nobody watches.
      this.#timer = setInterval(() => {
        const message = `event: status\ndata: ${JSON.stringify(this.#sources.status())}\n\n`;
        for (const stream of this.#streams) stream.write(message);
      }, STATUS_EVENT_INTERVAL_MS);
      this.#timer.unref();
    }
  }

  close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const stream of this.#streams) stream.end();
    this.#streams.clear();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const socket of this.#sockets) socket.destroy();
    });
  }
}
