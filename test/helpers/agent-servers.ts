/**
 * Test servers for the agent tests: a raw-byte HTTP/1.1 server (closes idle connections after
 * exactly `idleCloseMs`, optionally sends a `Keep-Alive` header that may lie, lets a test decide
 * per request to answer, close, or reset) and an `http.Server` that echoes its connection id.
 *
 * Why raw bytes: the race needs a server whose close time is exact and whose headers are chosen
 * byte for byte; Node's http.Server adds its own Keep-Alive handling. Every response carries
 * `x-connection-id` (as nginx-tests do) so a test can tell reuse from a new connection.
 */
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

export interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  /** 1, 2, ... in accept order. */
  connectionId: number;
  /** 1 for the first request on its connection. */
  requestOnConnection: number;
}

/** What the server does with one request. */
export type RawAction =
  /** `close`: send `Connection: close` and close. `endAfter`: claim keep-alive, then close anyway. */
  | { respond: true; status?: number; headers?: Record<string, string>; body?: string; close?: boolean; endAfter?: boolean }
  /** Read the request, then close (FIN, or RST when unread data) without a byte of response;
   * or `hang`: never answer. */
  | { respond: false; how: 'end' | 'destroy' | 'hang' };

export interface RawServerOptions {
  /** Close a connection this many ms after its last response when no request came. 0 = never.
   * A new connection is not timed before its first request (that would be a header timeout). */
  idleCloseMs?: number;
  /** `Keep-Alive` header value added to every response (omitted when undefined). */
  keepAliveHeader?: string | undefined;
  handle?: (req: RawRequest) => RawAction;
}

export interface TestServer {
  port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

function listen(server: Server | HttpServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') reject(new Error('no address'));
      else resolve(address.port);
    });
  });
}

function parseHead(head: string): { method: string; path: string; headers: Record<string, string> } {
  const lines = head.split('\r\n');
  const [method = '', path = ''] = (lines[0] ?? '').split(' ');
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { method, path, headers };
}

/**
 * A raw HTTP/1.1 server on 127.0.0.1 (port 0). Default action: 200 "ok".
 * @example const server = await startRawServer({ idleCloseMs: 60, keepAliveHeader: 'timeout=5' });
 */
export async function startRawServer(options: RawServerOptions = {}): Promise<TestServer> {
  const open = new Set<Socket>();
  let connections = 0;
  const server = createServer((socket) => {
    const connectionId = ++connections;
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    socket.on('error', () => undefined);
    let buffer = Buffer.alloc(0);
    let served = 0;
    let idle: NodeJS.Timeout | undefined;
    const armIdle = (): void => {
      if (options.idleCloseMs !== undefined && options.idleCloseMs > 0) {
        idle = setTimeout(() => socket.destroy(), options.idleCloseMs);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      if (idle !== undefined) clearTimeout(idle);
      idle = undefined;
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        const head = end === -1 ? undefined : parseHead(buffer.subarray(0, end).toString('latin1'));
        const length = Number(head?.headers['content-length'] ?? 0);
        if (head === undefined || buffer.length < end + 4 + length) {
          if (buffer.length === 0) armIdle();
          return;
        }
        const body = buffer.subarray(end + 4, end + 4 + length);
        buffer = buffer.subarray(end + 4 + length);
        served++;
        const action = options.handle?.({ ...head, body, connectionId, requestOnConnection: served }) ?? { respond: true };
        if (!action.respond) {
          if (action.how === 'end') socket.end();
          else if (action.how === 'destroy') socket.destroy();
          return;
        }
        const text = action.body ?? 'ok';
        const headers: Record<string, string> = {
          'content-length': String(Buffer.byteLength(text)),
          'x-connection-id': String(connectionId),
          connection: action.close === true ? 'close' : 'keep-alive',
          ...(options.keepAliveHeader === undefined ? {} : { 'keep-alive': options.keepAliveHeader }),
          ...action.headers,
        };
        const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
        socket.write(`HTTP/1.1 ${action.status ?? 200} OK\r\n${lines}\r\n${text}`);
        if (action.close === true || action.endAfter === true) {
          socket.end();
          return;
        }
      }
    });
  });
  const port = await listen(server);
  return {
    port,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * An http.Server that answers every request with its connection id (`x-connection-id` and body).
 * @example const server = await startEchoServer(); // GET / -> "3"
 */
export async function startEchoServer(handler?: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  let connections = 0;
  const ids = new WeakMap<Socket, number>();
  const server = createHttpServer((req, res) => {
    if (handler !== undefined) {
      handler(req, res);
      return;
    }
    req.resume();
    const id = String(ids.get(req.socket) ?? 0);
    res.setHeader('x-connection-id', id);
    res.end(id);
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', (socket: Socket) => ids.set(socket, ++connections));
  const port = await listen(server);
  return {
    port,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** One GET through `agent`, resolving with status, connection id and reusedSocket, or the error. */
export interface GetResult {
  status: number;
  connectionId: string | undefined;
  reused: boolean;
  error: (Error & { code?: string }) | undefined;
}
