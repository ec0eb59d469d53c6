/**
 * The server's connections, one collection per state (Envoy's lists per state), and the one place
 * where a connection's state changes.
 *
 * States: `idle` (no request in progress and no byte of a new one seen), `active` (a request is
 * being read or answered), `draining` (its last response carries, or carried, `Connection: close`;
 * it closes when that response is done), `closed` (ended or left HTTP; on no list). The idle set is kept in least-recently-used order: a
 * connection that becomes idle is re-inserted at the end, so the first one is the eviction victim.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { StateTable } from '../../core/state-table.js';
import type { StateItem, StateList } from '../../core/state-table.js';
import type { ServerCloseReason } from './server-stats.js';

export type ConnectionState = 'idle' | 'active' | 'draining' | 'closed';

/** Per-connection record. Times are the clock's monotonic ms. */
export class Connection {
  readonly id: number;
  readonly socket: Socket;
  readonly openedAt: number;
  /** openedAt + maxConnectionAgeMs, or Infinity without an age limit. */
  readonly closeAt: number;
  state: ConnectionState = 'idle';
  /** Requests received so far. */
  requests = 0;
  /** Requests received whose response has not ended (pipelining makes this > 1). */
  inFlight = 0;
  /** The latest request and its response while any is in flight (HTTP/1 reads requests in order,
   * so only the latest can still be arriving, and its response is the last to be written). */
  lastReq: IncomingMessage | undefined;
  lastRes: ServerResponse | undefined;
  /** Timer wheel id of this connection's one deadline, or -1. */
  deadline = -1;
  /** The timeout (ms) that deadline was last set with. */
  deadlineMs = -1;
  /** Clock time the deadline is for (the wheel may fire up to a tick early; we re-check). */
  dueAt = 0;
  /** When the connection last became ready for a request (accept, or the end of a response). */
  waitStart: number;
  /** Last time the connection was checked for a request begun (a deadline wake or a response end). */
  checkAt: number;
  /** `socket.bytesRead` at accept (and, without the parser's clock, at every response end). */
  bytesAtCheck = 0;
  /** When the latest request began (for requestTimeoutMs). */
  requestStart = 0;
  /** Earliest time the request being read could have begun, or -1 when none is being read. */
  headersStart = -1;
  /** Why it will close (set by the first cause known). */
  reason: ServerCloseReason | undefined;
  /** The response that carries our `Connection: close` while draining. */
  closeOn: ServerResponse | undefined;
  /** drain() reached this connection. */
  drainMarked = false;
  /** Links of the state list it is on (see ConnectionTable). */
  prev: this | undefined;
  next: this | undefined;

  constructor(id: number, socket: Socket, now: number, maxAgeMs = 0) {
    this.id = id;
    this.socket = socket;
    this.openedAt = now;
    this.closeAt = maxAgeMs > 0 ? now + maxAgeMs : Infinity;
    this.waitStart = now;
    this.checkAt = now;
  }
}

/** The moves a connection may make; anything else is a bug and throws IllegalTransitionError.
 * idle -> idle re-lists it as the most recently used. */
const TRANSITIONS: Readonly<Record<ConnectionState, readonly ConnectionState[]>> = {
  idle: ['idle', 'active', 'draining', 'closed'],
  active: ['idle', 'draining', 'closed'],
  draining: ['closed'],
  closed: [],
};

/**
 * The table: a `StateTable` (one intrusive list per state, so a move is a few pointer writes and
 * no allocation, and the idle list is an LRU) over anything that carries `state`, `prev` and
 * `next`: the server policy's `Connection`, or a proxy's client-side connection.
 *
 * @example
 *   const table = new ConnectionTable<Connection>();
 *   table.add(conn);               // idle
 *   table.set(conn, 'active');
 *   table.set(conn, 'idle');       // back at the most recently used end
 *   table.remove(conn);            // closed
 */
export class ConnectionTable<T extends StateItem<ConnectionState> = Connection> {
  readonly #table: StateTable<ConnectionState, T>;
  /** Idle connections, least recently used first. */
  readonly idle: StateList<T>;
  readonly active: StateList<T>;
  readonly draining: StateList<T>;

  constructor(what = 'server connection') {
    this.#table = new StateTable<ConnectionState, T>(what, TRANSITIONS, ['idle', 'active', 'draining']);
    this.idle = this.#table.list('idle');
    this.active = this.#table.list('active');
    this.draining = this.#table.list('draining');
  }

  /** Open connections (closed ones are on no list). */
  get size(): number {
    return this.idle.size + this.active.size + this.draining.size;
  }

  /** Start tracking a newly accepted connection, idle. */
  add(conn: T): void {
    this.#table.add(conn, 'idle');
  }

  /**
   * Move to `next`. Becoming idle re-appends at the most-recently-used end; staying active or
   * draining is no move. A connection no longer tracked (closed) is left alone, since a late
   * event may still name it; any other illegal move throws.
   */
  set(conn: T, next: Exclude<ConnectionState, 'closed'>): void {
    if (conn.state === 'closed' || (conn.state === next && next !== 'idle')) return;
    this.#table.move(conn, next);
  }

  /** Stop tracking (the connection is closed or left HTTP). */
  remove(conn: T): void {
    if (conn.state !== 'closed') this.#table.move(conn, 'closed');
  }

  /** Every open connection (a snapshot, safe to close from). */
  all(): T[] {
    return this.#table.all();
  }

  clear(): void {
    for (const c of this.all()) this.remove(c);
  }
}
