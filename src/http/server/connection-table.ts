/**
 * The server's connections, one collection per state (Envoy's lists per state), and the one place
 * where a connection's state changes.
 *
 * States: `idle` (no request in progress and no byte of a new one seen), `active` (a request is
 * being read or answered), `draining` (its last response carries, or carried, `Connection: close`;
 * it closes when that response is done). The idle set is kept in least-recently-used order: a
 * connection that becomes idle is re-inserted at the end, so the first one is the eviction victim.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { CloseReason } from './server-stats.js';

export type ConnectionState = 'idle' | 'active' | 'draining';

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
  reason: CloseReason | undefined;
  /** The response that carries our `Connection: close` while draining. */
  closeOn: ServerResponse | undefined;
  /** drain() reached this connection. */
  drainMarked = false;
  /** Links of the state list it is on (see ConnectionTable). */
  prev: Connection | undefined;
  next: Connection | undefined;
  listed = false;

  constructor(id: number, socket: Socket, now: number, maxAgeMs = 0) {
    this.id = id;
    this.socket = socket;
    this.openedAt = now;
    this.closeAt = maxAgeMs > 0 ? now + maxAgeMs : Infinity;
    this.waitStart = now;
    this.checkAt = now;
  }
}

/**
 * An intrusive doubly-linked list of connections (one per state): append, unlink and pop are a
 * few pointer writes, with no hashing and no allocation (a `Set` move cost ~100 ns a request,
 * measured). Iteration is in insertion order, so the idle list's head is the least recently used.
 */
class StateList {
  head: Connection | undefined;
  tail: Connection | undefined;
  size = 0;

  append(c: Connection): void {
    c.prev = this.tail;
    c.next = undefined;
    if (this.tail === undefined) this.head = c;
    else this.tail.next = c;
    this.tail = c;
    this.size += 1;
  }

  unlink(c: Connection): void {
    if (c.prev === undefined) this.head = c.next;
    else c.prev.next = c.next;
    if (c.next === undefined) this.tail = c.prev;
    else c.next.prev = c.prev;
    c.prev = c.next = undefined;
    this.size -= 1;
  }

  *[Symbol.iterator](): IterableIterator<Connection> {
    for (let c = this.head; c !== undefined; ) {
      const next = c.next; // c may be unlinked by the caller
      yield c;
      c = next;
    }
  }
}

export class ConnectionTable {
  readonly idle = new StateList();
  readonly active = new StateList();
  readonly draining = new StateList();

  get size(): number {
    return this.idle.size + this.active.size + this.draining.size;
  }

  add(conn: Connection): void {
    conn.state = 'idle';
    conn.listed = true;
    this.idle.append(conn);
  }

  /** Move to `next`. Becoming idle re-appends at the most-recently-used end. */
  set(conn: Connection, next: ConnectionState): void {
    if (!conn.listed || (conn.state === next && next !== 'idle')) return;
    this.#list(conn.state).unlink(conn);
    conn.state = next;
    this.#list(next).append(conn);
  }

  remove(conn: Connection): void {
    if (!conn.listed) return;
    conn.listed = false;
    this.#list(conn.state).unlink(conn);
  }

  /** Every connection (a snapshot, safe to close from). */
  all(): Connection[] {
    return [...this.idle, ...this.active, ...this.draining];
  }

  clear(): void {
    for (const c of this.all()) this.remove(c);
  }

  #list(state: ConnectionState): StateList {
    return state === 'idle' ? this.idle : state === 'active' ? this.active : this.draining;
  }
}
