/**
 * PoolTable: the keep-alive pool's bookkeeping as an explicit state machine, with no socket and
 * no request in it, so every rule of it runs under a FakeClock in unit tests.
 *
 * States of a pooled connection (`SOCKET_TRANSITIONS` is the whole table):
 * - `connecting`: dialled for a request, not yet handed to it;
 * - `active`: carrying a request;
 * - `reserved`: idle socket held for a request while the pool checks, one event-loop turn, that
 *   no FIN or RST is already waiting in the kernel;
 * - `idle`: kept for reuse, with an absolute deadline on the timer wheel;
 * - `closing`: the pool destroyed it and waits for its `'close'`;
 * - `closed`: gone (terminal, on no list).
 *
 * One `StateTable` per pool key (Node's agent name), so each key's idle list is that key's LRU
 * (`head`) / MRU (`tail`) order for free; `move()` is the one place a state is written and it
 * rejects a move the table does not allow. Requests that wait for a socket are kept per key in
 * arrival order; a cancelled one (aborted before it got a socket) leaves the queue at once, so no
 * socket is ever dialled for it (Go's `wantConn.cancel`).
 *
 * Counting for the caps (`maxSockets` per key, `maxTotalSockets` over all): every connection that
 * is neither closing nor closed.
 */
import type { Clock } from '../../core/clock.js';
import { StateTable } from '../../core/state-table.js';
import type { StateItem } from '../../core/state-table.js';
import { TimerWheel } from '../../core/timer-wheel.js';
import type { CloseReason } from './agent-stats.js';

export type SocketState = 'connecting' | 'active' | 'reserved' | 'idle' | 'closing' | 'closed';

/** For each state, the states it may move to. */
export const SOCKET_TRANSITIONS: Readonly<Record<SocketState, readonly SocketState[]>> = {
  connecting: ['active', 'closing', 'closed'],
  active: ['idle', 'reserved', 'closing', 'closed'],
  reserved: ['active', 'closing', 'closed'],
  idle: ['reserved', 'closing', 'closed'],
  closing: ['closed'],
  closed: [],
};

const LISTED: readonly SocketState[] = ['connecting', 'active', 'reserved', 'idle', 'closing'];
const COUNTED: readonly SocketState[] = ['connecting', 'active', 'reserved', 'idle'];

/** What the table keeps per connection (the agent's SocketMeta extends it). */
export interface PoolEntry extends StateItem<SocketState> {
  /** Pool key: Node's agent name (`getName`). */
  readonly key: string;
  /** Absolute clock ms after which the idle entry must not be reused (0: never idle yet). */
  idleDeadline: number;
  /** The rule that set `idleDeadline`: idle_timeout, hint_expiry or max_age. */
  idleReason: CloseReason;
  /** Clock ms when it last went idle (for least-recently-used eviction across keys). */
  idleSince: number;
  /** Timer wheel id of the idle deadline, -1 when none. */
  timerId: number;
}

/** A request waiting for a connection of `key`. */
export interface Waiter {
  readonly key: string;
}

export interface PoolTableOptions<T extends PoolEntry> {
  clock: Clock;
  maxSockets: number;
  maxTotalSockets: number;
  /** Which idle entry a request gets: the most recently used (`lifo`) or the oldest (`fifo`). */
  scheduling: 'lifo' | 'fifo';
  /** An idle entry's deadline passed (its timer fired); the owner closes it. */
  onIdleExpire: (entry: T, reason: CloseReason) => void;
  /** Called after every move, for the owner's side effects (mirrors, ref/unref). */
  onMove?: (entry: T, from: SocketState, to: SocketState) => void;
}

/**
 * @example
 *   const pool = new PoolTable<Entry, Waiter>({ clock, maxSockets: 1, maxTotalSockets: Infinity, scheduling: 'lifo', onIdleExpire });
 *   pool.add(entry); pool.move(entry, 'active'); pool.enterIdle(entry, 4000, 'idle_timeout');
 */
export class PoolTable<T extends PoolEntry, W extends Waiter> {
  readonly #o: PoolTableOptions<T>;
  readonly #wheel: TimerWheel;
  /** One table per key, kept for the pool's life (as the agent's origins are). */
  readonly #tables = new Map<string, StateTable<SocketState, T>>();
  /** Waiting requests per key in arrival order (a Set: cancel removes from the middle in O(1));
   * only keys with waiters, so serving waiters never walks idle keys. */
  readonly #waiters = new Map<string, Set<W>>();
  #total = 0;

  constructor(options: PoolTableOptions<T>) {
    this.#o = options;
    this.#wheel = new TimerWheel({ resolutionMs: 10, slots: 1024, clock: options.clock });
  }

  /** Start tracking a new connection, in `connecting`. */
  add(entry: T): void {
    entry.timerId = -1;
    this.#table(entry.key).add(entry, 'connecting');
    this.#total++;
  }

  /**
   * The one transition function: moves `entry` to `next` (throws IllegalTransitionError when
   * the table does not allow it). Leaving `idle` cancels the idle deadline.
   */
  move(entry: T, next: SocketState): void {
    const from = entry.state;
    this.#table(entry.key).move(entry, next);
    if (from === 'idle' && entry.timerId !== -1) {
      this.#wheel.cancel(entry.timerId);
      entry.timerId = -1;
    }
    if (COUNTED.includes(from) && !COUNTED.includes(next)) this.#total--;
    this.#o.onMove?.(entry, from, next);
  }

  /** Move to `idle` (the most recently used end) with a deadline `timeoutMs` from now. */
  enterIdle(entry: T, timeoutMs: number, reason: CloseReason): void {
    this.move(entry, 'idle');
    const now = this.#o.clock.now();
    entry.idleSince = now;
    entry.idleDeadline = now + timeoutMs;
    entry.idleReason = reason;
    entry.timerId = this.#wheel.add(Math.max(0, Math.ceil(timeoutMs)), this.#onExpire, entry);
  }

  /** The idle entry a request of `key` should get next (still idle; the caller moves it). */
  pickIdle(key: string): T | undefined {
    const list = this.#tables.get(key)?.list('idle');
    if (list === undefined) return undefined;
    return this.#o.scheduling === 'lifo' ? list.tail : list.head;
  }

  /** Whether a new connection for `key` fits under both caps. */
  canOpen(key: string): boolean {
    return this.count(key) < this.#o.maxSockets && this.#total < this.#o.maxTotalSockets;
  }

  /** Connections of `key` that count against the caps. */
  count(key: string): number {
    const table = this.#tables.get(key);
    if (table === undefined) return 0;
    let n = 0;
    for (const state of COUNTED) n += table.count(state);
    return n;
  }

  /** Connections of every key that count against the caps. */
  get total(): number {
    return this.#total;
  }

  idleCount(key: string): number {
    return this.#tables.get(key)?.count('idle') ?? 0;
  }

  /** The least recently used idle entry of any key but `key` (to evict under `maxTotalSockets`). */
  oldestIdleExcept(key: string): T | undefined {
    let oldest: T | undefined;
    for (const [other, table] of this.#tables) {
      if (other === key) continue;
      const head = table.list('idle').head;
      if (head !== undefined && (oldest === undefined || head.idleSince < oldest.idleSince)) oldest = head;
    }
    return oldest;
  }

  /** Queue a request until a connection of its key is free or may be opened. */
  enqueue(waiter: W): void {
    let waiters = this.#waiters.get(waiter.key);
    if (waiters === undefined) {
      waiters = new Set();
      this.#waiters.set(waiter.key, waiters);
    }
    waiters.add(waiter);
  }

  /** Take the oldest waiter of `key`, if any. */
  nextWaiter(key: string): W | undefined {
    const waiters = this.#waiters.get(key);
    if (waiters === undefined) return undefined;
    for (const waiter of waiters) {
      this.#remove(waiters, waiter);
      return waiter;
    }
    return undefined;
  }

  /** Remove a waiter that no longer wants a connection. True when it was still waiting. */
  cancel(waiter: W): boolean {
    const waiters = this.#waiters.get(waiter.key);
    return waiters !== undefined && this.#remove(waiters, waiter);
  }

  waiting(key: string): number {
    return this.#waiters.get(key)?.size ?? 0;
  }

  /** Keys with waiters: `first`, then the others in the order they started waiting. */
  keysWithWaiters(first: string): string[] {
    const out: string[] = [];
    if (this.waiting(first) > 0) out.push(first);
    for (const key of this.#waiters.keys()) if (key !== first) out.push(key);
    return out;
  }

  /** Every waiter of every key, taken out of the queues. */
  drainWaiters(): W[] {
    const out: W[] = [];
    for (const waiters of this.#waiters.values()) out.push(...waiters);
    this.#waiters.clear();
    return out;
  }

  /** Every tracked entry (not closed), a snapshot. */
  entries(): T[] {
    const out: T[] = [];
    for (const table of this.#tables.values()) out.push(...table.all());
    return out;
  }

  /** Stop the idle timers. Entries stay as they are; the owner closes them. */
  close(): void {
    this.#wheel.close();
  }

  readonly #onExpire = (id: number, data: unknown): void => {
    const entry = data as T;
    if (entry.timerId !== id) return;
    entry.timerId = -1;
    if (entry.state === 'idle') this.#o.onIdleExpire(entry, entry.idleReason);
  };

  #table(key: string): StateTable<SocketState, T> {
    let table = this.#tables.get(key);
    if (table === undefined) {
      table = new StateTable<SocketState, T>('agent socket', SOCKET_TRANSITIONS, LISTED);
      this.#tables.set(key, table);
    }
    return table;
  }

  #remove(waiters: Set<W>, waiter: W): boolean {
    if (!waiters.delete(waiter)) return false;
    if (waiters.size === 0) this.#waiters.delete(waiter.key);
    return true;
  }
}
