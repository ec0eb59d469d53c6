/**
 * A test server with the keep-alive policy: it answers every request with its connection id in
 * `x-connection-id` (the nginx-tests / HAProxy reg-tests pattern), so a test can assert reuse or
 * a new connection request by request. `?delay=ms` holds the response that long.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { keepAlive } from '../../src/http/server/index.js';
import type { KeepAliveController, KeepAliveOptions } from '../../src/http/server/index.js';

export interface Harness {
  server: http.Server;
  policy: KeepAliveController;
  port: number;
  url: string;
  /** Requests the handler has received. */
  received: () => number;
  /** Close the policy and the server, destroying what is left. */
  close: () => Promise<void>;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, id: number | undefined) => void;

export const defaultHandler: Handler = (req, res, id) => {
  const delay = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('delay') ?? 0);
  const answer = (): void => {
    res.setHeader('x-connection-id', String(id));
    res.setHeader('content-type', 'text/plain');
    res.end('ok');
  };
  req.resume();
  req.on('end', () => {
    if (delay > 0) setTimeout(answer, delay);
    else answer();
  });
};

export async function startServer(options: KeepAliveOptions = {}, handler: Handler = defaultHandler): Promise<Harness> {
  let received = 0;
  const server = http.createServer();
  const policy = keepAlive(server, options);
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    received += 1;
    handler(req, res, policy.connectionId(req));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    policy,
    port,
    url: `http://127.0.0.1:${port}`,
    received: () => received,
    close: async () => {
      policy.close();
      server.closeAllConnections();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Active handles of the kinds a server test could leak (sockets, servers, timers). */
export function openHandles(): string[] {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap' || r === 'Timeout');
}
