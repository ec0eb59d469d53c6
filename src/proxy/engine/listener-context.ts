/**
 * What a client connection needs from its listener and proxy: the policy, the shared timer
 * wheel and read buffer, the connection table, and the hooks that keep the listener's books.
 */
import type { BufferPool } from '../../transport/write-batcher.js';
import type { Socket } from 'node:net';
import type { Clock } from '../../core/clock.js';
import type { TimerWheel } from '../../core/timer-wheel.js';
import type { StateTable } from '../../core/state-table.js';
import type { CloseReason } from '../../core/close-reason.js';
import type { RequestHead } from '../../http/wire/index.js';
import type { ClientConfig } from '../config/index.js';
import type { Router } from './router.js';
import type { Cluster } from './cluster.js';
import type { ExchangeContext } from './exchange.js';
import type { Http1Connection } from './http1-connection.js';
import type { Http1State } from './http1-states.js';

export interface ListenerContext extends ExchangeContext {
  readonly protocol: 'http' | 'https';
  readonly client: ClientConfig;
  readonly router: Router<Cluster>;
  readonly wheel: TimerWheel;
  readonly clock: Clock;
  /** The listener's connections, one list per state (`idle` is its LRU). */
  readonly table: StateTable<Http1State, Http1Connection>;
  /** Draining: every response closes its connection. */
  readonly draining: boolean;
  /** `Keep-Alive: timeout=` sent on kept-alive responses, whole seconds (0: none). */
  readonly hintSeconds: number;
  /** Idle timeout of an upgraded (WebSocket) connection, both directions, ms. */
  readonly tunnelIdleTimeoutMs: number;
  /** The proxy's own WebSocket pings, both ways (websocket-pinger.ts); intervalMs 0 = off. */
  readonly tunnelPing: { readonly intervalMs: number; readonly timeoutMs: number };
  /** Plain-TCP listeners: the buffer client sockets read into (transport/user-read-buffer.ts). */
  readonly readBuffer: Buffer | undefined;
  /** Buffers borrowed bytes are copied into for a client write (borrowed-bytes.ts `writeOwned`). */
  readonly writePool: BufferPool;
  /**
   * The keep-alive decision for a response to `head` on a connection that has begun `requests`
   * requests since `openedAtMs`: the reason it must close after it, or undefined to keep it.
   */
  closeAfter(head: RequestHead, requests: number, openedAtMs: number): CloseReason | undefined;
  /** A cleartext connection may turn out to be HTTP/2 with prior knowledge (its preface). */
  readonly http2PriorKnowledge: boolean;
  /** Serve `socket` as HTTP/2 from here on; `read` are the bytes already read from it. */
  handOffHttp2(socket: Socket, read: Buffer): void;
  /** The connection stopped serving (lingering for the client's FIN, or gone). */
  closed(conn: Http1Connection, reason: CloseReason): void;
}
