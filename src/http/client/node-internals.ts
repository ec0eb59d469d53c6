/**
 * The few internals of Node's `http.Agent` and `ClientRequest` that the keep-alive pool relies on.
 *
 * Why: an agent that must stay a drop-in for `http.request`, axios, got and node-fetch has to be
 * an `http.Agent` and speak the protocol ClientRequest speaks with its agent: `addRequest()`,
 * `createSocket()`, the `'free'` socket event, `req.onSocket()`, `socket._httpMessage`, and the
 * `sockets` / `freeSockets` / `requests` dictionaries. These names have been stable from Node 14
 * through Node 22; they are declared here, in one place, so that a change in Node shows up as a
 * failing test here and nowhere else. Read against Node 20's lib/_http_agent.js and
 * lib/_http_client.js.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { Socket } from 'node:net';
import type { SocketState } from './pool-table.js';

/** Connection options as Node's agent passes them around (request options merged with the agent's). */
export type ConnectOptions = Record<string, unknown> & {
  host?: string;
  port?: number | string;
  servername?: string;
  socketPath?: string;
  path?: string | null;
  _agentKey?: string;
};

/** One buffered write of an OutgoingMessage. */
export interface OutputChunk {
  data: string | Uint8Array;
  encoding: BufferEncoding | null | undefined;
  callback: ((error?: Error | null) => void) | null;
}

/** ClientRequest fields used by the pool and the reuse guard. */
export interface RequestInternals {
  socket: Socket | null;
  parser: unknown;
  reusedSocket: boolean;
  timeoutCb: unknown;
  outputData: OutputChunk[];
  outputSize: number;
  finished: boolean;
  destroyed: boolean;
  method: string;
  res: IncomingMessage | null;
  shouldKeepAlive: boolean;
  timeout: number | undefined;
  onSocket(socket: Socket | null | undefined, err?: Error): void;
}

/** Socket fields Node's HTTP client sets. */
export interface SocketInternals {
  _httpMessage: ClientRequest | null | undefined;
  parser: unknown;
  _readableState?: { ended?: boolean };
}

/** Node's `http.Agent` state and internal methods. */
export interface AgentInternals {
  sockets: Record<string, Socket[] | undefined>;
  freeSockets: Record<string, Socket[] | undefined>;
  requests: Record<string, ClientRequest[] | undefined>;
  totalSocketCount: number;
  protocol: string;
  defaultPort: number;
  options: Record<string, unknown>;
  getName(options: ConnectOptions): string;
  createSocket(req: ClientRequest, options: ConnectOptions, cb: (err: Error | null, socket?: Socket) => void): void;
}

export function requestInternals(req: ClientRequest): RequestInternals {
  return req as unknown as RequestInternals;
}

export function socketInternals(socket: Socket): SocketInternals {
  return socket as unknown as SocketInternals;
}

/** Node's normalizeServerName: the SNI name from the Host header or host, '' for an IP. */
export function normalizeServerName(options: ConnectOptions, req: ClientRequest): void {
  if (options.servername !== undefined && options.servername !== null && options.servername !== '') return;
  if (options.servername === '') return;
  let servername = typeof options.host === 'string' ? options.host : '';
  const hostHeader = req.getHeader('host');
  if (typeof hostHeader === 'string' && hostHeader !== '') {
    if (hostHeader.startsWith('[')) {
      const index = hostHeader.indexOf(']');
      servername = index === -1 ? hostHeader : hostHeader.slice(1, index);
    } else {
      servername = hostHeader.split(':', 1)[0] ?? '';
    }
  }
  options.servername = isIP(servername) === 0 ? servername : '';
}

/** Remove `item` from `dict[name]`, deleting the entry when it empties (as Node does). */
export function removeFrom<T>(dict: Record<string, T[] | undefined>, name: string, item: T): boolean {
  const list = dict[name];
  if (list === undefined) return false;
  const index = list.indexOf(item);
  if (index === -1) return false;
  list.splice(index, 1);
  if (list.length === 0) delete dict[name];
  return true;
}

/** A pooled socket as `mirrorMove` sees it. */
interface Mirrored {
  readonly socket: Socket;
  readonly key: string;
  readonly onIdleData: () => void;
}

/** Node's `sockets` dictionary holds a socket in these states; `freeSockets` in `idle`. */
function inNodeSockets(state: SocketState): boolean {
  return state === 'connecting' || state === 'active' || state === 'reserved';
}

/**
 * Keep Node's `sockets` / `freeSockets` equal to the pool's states after a move (the socket is
 * already in `sockets` when it is created: Node's createSocket puts it there), and do what
 * entering or leaving idle means for the socket: unref'd while idle, watched for stray bytes.
 */
export function mirrorMove(agent: AgentInternals, meta: Mirrored, from: SocketState, to: SocketState): void {
  const socket = meta.socket;
  if (from === 'idle') {
    removeFrom(agent.freeSockets, meta.key, socket);
    socket.off('data', meta.onIdleData);
  }
  if (inNodeSockets(from) && !inNodeSockets(to)) removeFrom(agent.sockets, meta.key, socket);
  if (!inNodeSockets(from) && inNodeSockets(to)) (agent.sockets[meta.key] ??= []).push(socket);
  if (to === 'idle') {
    (agent.freeSockets[meta.key] ??= []).push(socket);
    socket.unref();
    socket.on('data', meta.onIdleData);
  } else if (to === 'active' || to === 'reserved') {
    socket.ref();
  }
}
