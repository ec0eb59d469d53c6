/**
 * `keepAlive(server, options)`: attach the keep-alive policy to a Node server and get its
 * controller. HTTP/1 (`http.Server`, `https.Server`, and so Express, Fastify and Koa apps, which
 * run on one) gets the {@link KeepAliveController}; an HTTP/2 server gets the
 * {@link Http2KeepAliveController}. Anything else is an InvalidOptionError naming `server`.
 */
import { Server as HttpServer } from 'node:http';
import type { Http2SecureServer, Http2Server } from 'node:http2';
import { Server as HttpsServer } from 'node:https';
import { Server as NetServer } from 'node:net';
import { InvalidOptionError } from '../../core/errors.js';
import { Http2KeepAliveController } from './http2-keep-alive-controller.js';
import type { Http2KeepAliveOptions } from './http2-keep-alive-controller.js';
import { KeepAliveController } from './keep-alive-controller.js';
import type { KeepAliveOptions } from './keep-alive-options.js';

/**
 * @example
 *   import http from 'node:http';
 *   import { keepAlive } from 'lifeline/server';
 *   const server = http.createServer(app);
 *   const policy = keepAlive(server, { idleTimeoutMs: 75_000, maxConnections: 10_000 });
 *   server.listen(8080);
 *   process.once('SIGTERM', () => void policy.drain({ timeoutMs: 30_000, spreadMs: 5_000 }));
 */
export function keepAlive(server: Http2Server | Http2SecureServer, options?: Http2KeepAliveOptions): Http2KeepAliveController;
export function keepAlive(server: HttpServer | HttpsServer, options?: KeepAliveOptions): KeepAliveController;
export function keepAlive(
  server: HttpServer | HttpsServer | Http2Server | Http2SecureServer,
  options?: KeepAliveOptions | Http2KeepAliveOptions,
): KeepAliveController | Http2KeepAliveController {
  if (server instanceof HttpServer || server instanceof HttpsServer) {
    return new KeepAliveController(server, options);
  }
  const name = (server as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  if (server instanceof NetServer && (name === 'Http2Server' || name === 'Http2SecureServer')) {
    return new Http2KeepAliveController(server, options);
  }
  throw new InvalidOptionError('server', 'keepAlive(server) needs an http.Server, https.Server or http2 server');
}
