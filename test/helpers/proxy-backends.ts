/**
 * Backends for the proxy's operational tests: raw `net` servers speaking minimal HTTP/1.1, the
 * nginx-tests way. Every response names the backend (`x-backend`), the connection it came on
 * (`x-connection-id`, 1, 2, ... in accept order) and echoes the request id (`x-request-id`).
 *
 * Why raw bytes: the race needs a backend whose idle close is exact and sends no `Keep-Alive`
 * hint, and the kill/restart test needs a backend that can drop every socket at once and come
 * back on the same port. The server counts accepted connections and, for POST, how many times
 * it received each request id (the `id=` field of the body), so a test can prove a POST was
 * never delivered twice.
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { once } from 'node:events';

export interface BackendRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  connectionId: number;
}

export interface RawBackendOptions {
  /** Name sent in `x-backend`. */
  name: string;
  /** Port to listen on; 0 (default) for any free port. */
  port?: number;
  /** Address to listen on. Default 127.0.0.1 (127.0.0.2, .3, ... also route to lo on Linux). */
  host?: string;
  /**
   * Close a connection when it has been idle (after a response, with no new request) for a
   * random time in [min, max] ms, drawn anew for each idle period. No `Keep-Alive` hint is ever
   * sent. Undefined: never close.
   */
  idleCloseMs?: { min: number; max: number } | undefined;
  /** Called for each request received (not `/healthz`), before it is answered. */
  onRequest?: (req: BackendRequest) => void;
  /** Wait this long before answering each request (not `/healthz`). */
  responseDelayMs?: number | ((req: BackendRequest) => number);
}

export interface RawBackend {
  readonly name: string;
  readonly port: number;
  /** Connections accepted since start (across restarts). */
  readonly accepted: number;
  /** Requests answered (not counting `/healthz`). */
  readonly requests: number;
  /** Open sockets now. */
  readonly open: number;
  /** POST request id -> times received. */
  readonly postIds: Map<string, number>;
  /** Drop the listener and every connection at once (a crashed process). */
  kill(): Promise<void>;
  /** Listen again on the same port after `kill`. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

interface Head {
  method: string;
  path: string;
  headers: Record<string, string>;
}

function parseHead(text: string): Head {
  const lines = text.split('\r\n');
  const [method = '', path = ''] = (lines[0] ?? '').split(' ');
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { method, path, headers };
}

/**
 * A whole chunked body at the start of `buf`: its decoded bytes and its encoded length, or
 * undefined while incomplete. Only what the tests send (no trailers, no extensions).
 */
function chunkedBody(buf: Buffer): { body: Buffer; length: number } | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol === -1) return undefined;
    const size = Number.parseInt(buf.subarray(at, eol).toString('latin1').split(';')[0] ?? '', 16);
    if (!Number.isFinite(size)) throw new Error('bad chunk size');
    const start = eol + 2;
    if (size === 0) {
      if (buf.length < start + 2) return undefined;
      return { body: Buffer.concat(parts), length: start + 2 };
    }
    if (buf.length < start + size + 2) return undefined;
    parts.push(buf.subarray(start, start + size));
    at = start + size + 2;
  }
}

function listenOn(server: Server, port: number, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen({ port, host, backlog: 1024 }, () => {
      server.off('error', onError);
      const address = server.address();
      if (address === null || typeof address === 'string') reject(new Error('no address'));
      else resolve(address.port);
    });
  });
}

/**
 * @example
 *   const a = await startRawBackend({ name: 'a', idleCloseMs: { min: 200, max: 2000 } });
 *   // ... a.accepted, a.postIds
 *   await a.close();
 */
export async function startRawBackend(options: RawBackendOptions): Promise<RawBackend> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const postIds = new Map<string, number>();
  let accepted = 0;
  let requests = 0;
  let closed = false;

  const onConnection = (socket: Socket): void => {
    const connectionId = ++accepted;
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    let buffer: Buffer = Buffer.alloc(0);
    let idle: NodeJS.Timeout | undefined;
    let busy = false;
    const clearIdle = (): void => {
      if (idle !== undefined) {
        clearTimeout(idle);
        timers.delete(idle);
        idle = undefined;
      }
    };
    socket.once('close', () => {
      sockets.delete(socket);
      clearIdle();
    });
    const armIdle = (): void => {
      const range = options.idleCloseMs;
      if (range === undefined || socket.destroyed) return;
      const ms = range.min + Math.random() * (range.max - range.min);
      idle = setTimeout(() => {
        if (idle !== undefined) timers.delete(idle);
        idle = undefined;
        socket.destroy();
      }, ms);
      timers.add(idle);
    };
    const answer = (req: BackendRequest): void => {
      const isHealth = req.path === '/healthz';
      const rid = req.headers['x-request-id'] ?? '';
      const text = isHealth ? 'ok\n' : `${options.name} ${connectionId} ${rid} ${req.method} ${req.body.length}\n`;
      const head =
        `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(text)}\r\n` +
        `x-backend: ${options.name}\r\nx-connection-id: ${connectionId}\r\nx-request-id: ${rid}\r\n\r\n`;
      if (!socket.destroyed) socket.write(head + text);
      busy = false;
      if (buffer.length > 0) parse();
      else armIdle();
    };
    const parse = (): void => {
      if (busy) return;
      const end = buffer.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = parseHead(buffer.subarray(0, end).toString('latin1'));
      const rest = buffer.subarray(end + 4);
      let body: Buffer;
      let used: number;
      if ((head.headers['transfer-encoding'] ?? '').toLowerCase() === 'chunked') {
        const chunked = chunkedBody(rest);
        if (chunked === undefined) return;
        body = chunked.body;
        used = chunked.length;
      } else {
        const length = Number(head.headers['content-length'] ?? 0);
        if (rest.length < length) return;
        body = rest.subarray(0, length);
        used = length;
      }
      buffer = Buffer.from(rest.subarray(used));
      busy = true;
      const req: BackendRequest = { ...head, body, connectionId };
      if (req.path !== '/healthz') {
        requests += 1;
        options.onRequest?.(req);
        if (req.method === 'POST') {
          const id = /(?:^|&)id=([^&]*)/.exec(body.toString('latin1'))?.[1] ?? '';
          postIds.set(id, (postIds.get(id) ?? 0) + 1);
        }
      }
      const delay = req.path === '/healthz' ? 0 : typeof options.responseDelayMs === 'function' ? options.responseDelayMs(req) : (options.responseDelayMs ?? 0);
      if (delay > 0) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          answer(req);
        }, delay);
        timers.add(timer);
      } else answer(req);
    };
    socket.on('data', (chunk: Buffer) => {
      clearIdle();
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      parse();
    });
  };

  let server = createServer(onConnection);
  const port = await listenOn(server, options.port ?? 0, options.host);

  const kill = async (): Promise<void> => {
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    for (const socket of sockets) socket.destroy();
    if (server.listening) {
      server.close();
      await once(server, 'close');
    }
  };

  return {
    name: options.name,
    port,
    get accepted() {
      return accepted;
    },
    get requests() {
      return requests;
    },
    get open() {
      return sockets.size;
    },
    postIds,
    kill,
    async restart() {
      if (closed) throw new Error('closed');
      server = createServer(onConnection);
      await listenOn(server, port, options.host);
    },
    async close() {
      closed = true;
      await kill();
    },
  };
}
