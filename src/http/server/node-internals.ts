/**
 * Every Node internal the server policy relies on, in one place, each with its fallback for when
 * Node changes it (or the runtime is not Node). `test/server-node-internals.test.ts` has a canary
 * for each (fails if the current Node no longer has it) and runs each fallback.
 *
 * 1. `socket.parser.duration()`: Node's HTTP parser stamps the first byte of every message; the
 *    clock behind Node's own headersTimeout. Fallback: sample `socket.bytesRead`.
 * 2. `socket.parser` is null once the socket left HTTP (an upgrade or CONNECT handed it over).
 *    Fallback: none needed; a socket without the field is treated as still HTTP.
 * 3. `res._keepAliveTimeout`, `res._maxRequestsPerSocket`, `res._defaultKeepAlive` (Node 16.10+):
 *    the fields Node writes its own `Keep-Alive` header from. Fallback: `res.setHeader()`.
 * 4. The http.Server's connection listener is the function named `connectionListener`.
 *    Fallback: the first listener.
 * 5. The `http.server.connectionsCheckingInterval` symbol on the server (Node 18.10+), the
 *    interval `http.Server.close()` clears. Fallback: leave it (it is unref'd).
 * 6. `res.shouldKeepAlive` (undocumented): false when the request asked to close (`Connection:
 *    close`, or HTTP/1.0 without `Connection: keep-alive`). Fallback: read the request's headers.
 */
import type { Server } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Node's HTTP parser, as far as it is read here. */
interface Parser {
  duration?: () => number;
}
type WithParser = Socket & { parser?: Parser | null };

/** 1. Whether the socket's parser tells when the current message began. */
export function parserHasClock(socket: Socket): boolean {
  return typeof (socket as WithParser).parser?.duration === 'function';
}

/** 1. Ms since the current message's first byte; 0 between messages or without the parser's clock. */
export function parserDuration(socket: Socket): number {
  return (socket as WithParser).parser?.duration?.() ?? 0;
}

/** 2. False once Node took the parser off the socket (upgrade, CONNECT). */
export function socketInHttp(socket: Socket): boolean {
  const parser = (socket as WithParser).parser;
  return parser !== null && parser !== undefined;
}

/** 3. The fields of Node's ServerResponse its own Keep-Alive header is written from. */
interface NodeResponseFields {
  _keepAliveTimeout?: unknown;
  _maxRequestsPerSocket?: unknown;
  _defaultKeepAlive?: unknown;
}

/** 3. Whether Node writes the Keep-Alive header of this (fresh) response from its fields. */
export function nodeWritesKeepAliveHint(res: ServerResponse): boolean {
  const r = res as unknown as NodeResponseFields;
  return typeof r._keepAliveTimeout === 'number' && typeof r._maxRequestsPerSocket === 'number' && r._defaultKeepAlive === true;
}

/**
 * 3. Have Node write `Keep-Alive: timeout=<seconds>[, max=<left>]` on its own path (no header in
 * the response's store, which costs a keyed store and a lower-cased copy per response). Only
 * when {@link nodeWritesKeepAliveHint} said so.
 */
export function setNodeKeepAliveHint(res: ServerResponse, hintSeconds: number, left: number): void {
  const r = res as unknown as NodeResponseFields;
  r._keepAliveTimeout = hintSeconds * 1000;
  r._maxRequestsPerSocket = left;
}

type Listener = (...args: unknown[]) => void;

/** 4. Node's HTTP connection listener among a server's 'connection' listeners. */
export function findNodeConnectionListener(listeners: readonly Listener[]): Listener | undefined {
  return listeners.find((l) => l.name === 'connectionListener') ?? listeners[0];
}

/** 5. The (unref'd) interval of Node's headers/request timeout sweep, if it can be found. */
export function connectionsCheckingInterval(server: Server): NodeJS.Timeout | undefined {
  const key = Object.getOwnPropertySymbols(server).find((k) => k.description === 'http.server.connectionsCheckingInterval');
  if (key === undefined) return undefined;
  const interval = (server as unknown as Record<symbol, unknown>)[key];
  return interval === undefined || interval === null ? undefined : (interval as NodeJS.Timeout);
}

/** 6. The client asked to close the connection after this response. */
export function clientAskedToClose(req: IncomingMessage, res: ServerResponse): boolean {
  const keep = (res as { shouldKeepAlive?: unknown }).shouldKeepAlive;
  if (typeof keep === 'boolean') return !keep;
  const tokens = (req.headers.connection ?? '').toLowerCase().split(',').map((t) => t.trim());
  if (tokens.includes('close')) return true;
  return req.httpVersionMajor === 1 && req.httpVersionMinor === 0 && !tokens.includes('keep-alive');
}
