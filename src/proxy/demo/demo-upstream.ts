/**
 * The demo backends that `npm start` runs beside the proxy: small HTTP servers that answer with
 * JSON naming themselves and the connection the request came on (the nginx-tests pattern), so a
 * user can watch the proxy balance and reuse connections with nothing but curl.
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressConfig } from '../config/index.js';

export class DemoUpstreams {
  readonly servers: http.Server[] = [];

  static async start(addresses: readonly AddressConfig[]): Promise<DemoUpstreams> {
    const demo = new DemoUpstreams();
    try {
      for (const address of addresses) {
        let nextId = 1;
        const ids = new WeakMap<object, number>();
        const server = http.createServer((req, res) => {
          let id = ids.get(req.socket);
          if (id === undefined) ids.set(req.socket, (id = nextId++));
          if (req.url === '/healthz') {
            res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
            return;
          }
          req.resume();
          req.on('end', () => {
            const body = `${JSON.stringify({ upstream: address.address, connection: id, method: req.method, url: req.url, forwardedFor: req.headers['x-forwarded-for'] ?? null })}\n`;
            res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': address.address, 'x-connection-id': String(id) }).end(body);
          });
        });
        // Longer than the proxy's pool idle time, and advertised, as a well-behaved backend does.
        server.keepAliveTimeout = 65_000;
        server.headersTimeout = 66_000;
        server.listen(address.port, address.host);
        await once(server, 'listening');
        demo.servers.push(server);
      }
    } catch (error) {
      await demo.close();
      throw error;
    }
    return demo;
  }

  async close(): Promise<void> {
    await Promise.all(
      this.servers.map(async (server) => {
        server.closeAllConnections();
        if (server.listening) {
          server.close();
          await once(server, 'close');
        }
      }),
    );
  }
}
