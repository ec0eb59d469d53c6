/**
 * One drain: reach every connection at an instant spread over `spreadMs` (HAProxy's
 * `close-spread-time`; all at once when 0), force-close what is left at `timeoutMs`, resolve
 * with counts once nothing is open.
 *
 * Invariants: one clock timer for the spread (connections sorted by instant) and one for the
 * force-close; both are cancelled when the drain completes, so a drained process can exit.
 *
 * Shared: it needs of a connection only a `drainMarked` flag, and of its owner two callbacks
 * (`reach`, `force`) and two calls back (`closed()`, `empty()`), so the server policy's HTTP/1
 * connections, its HTTP/2 sessions and the proxy's client connections all drain through it, with
 * one `DrainResult`.
 */
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { CloseReason } from '../../core/close-reason.js';

/** What `drain()` resolves with. */
export interface DrainResult {
  /** Connections open when the drain began. */
  connections: number;
  /** Closed at their drain instant while idle. */
  closedIdle: number;
  /** Closed after their last response (which carried `Connection: close`). */
  closedAfterResponse: number;
  /** Still open at timeoutMs, destroyed. */
  forced: number;
  /** Ended otherwise during the drain (the client closed first, a timeout, an error). */
  closedOther: number;
  /** Time from drain() to the last close, ms. */
  durationMs: number;
}

/** A connection as the drain sees it (HTTP/1 connection or HTTP/2 session record). */
export interface Drainable {
  drainMarked: boolean;
}

export interface DrainRunOptions<C extends Drainable> {
  clock: Clock;
  timeoutMs: number;
  spreadMs: number;
  connections: C[];
  /** Reach one connection: close it if idle (true), else mark it to close after its response. */
  reach: (conn: C) => boolean;
  /** Destroy one connection at timeoutMs. */
  force: (conn: C) => void;
  /**
   * Whether a connection is idle when the drain begins. Given, only idle connections are spread
   * over spreadMs (HAProxy's close-spread-time): busy ones are reached at once, so their current
   * response is their last. Without it every connection is spread.
   */
  isIdle?: (conn: C) => boolean;
  random?: () => number;
}

export class DrainRun<C extends Drainable = Drainable> {
  readonly promise: Promise<DrainResult>;
  readonly #o: DrainRunOptions<C>;
  readonly #started: number;
  readonly #plan: { at: number; conn: C }[];
  readonly #result: DrainResult;
  /** Connections not yet accounted for, and whether drain has reached them. */
  readonly #open = new Map<C, boolean>();
  #next = 0;
  #spreadTimer: TimerHandle | undefined;
  #forceTimer: TimerHandle | undefined;
  #resolve: (r: DrainResult) => void = () => undefined;
  #done = false;

  constructor(o: DrainRunOptions<C>) {
    this.#o = o;
    this.#started = o.clock.now();
    this.promise = new Promise((resolve) => (this.#resolve = resolve));
    const random = o.random ?? Math.random;
    this.#result = { connections: o.connections.length, closedIdle: 0, closedAfterResponse: 0, forced: 0, closedOther: 0, durationMs: 0 };
    for (const c of o.connections) this.#open.set(c, false);
    const isIdle = o.isIdle ?? ((): boolean => true);
    this.#plan = o.connections.map((conn) => ({ at: o.spreadMs === 0 || !isIdle(conn) ? 0 : Math.floor(random() * o.spreadMs), conn }));
    this.#plan.sort((a, b) => a.at - b.at);
    this.#forceTimer = o.clock.setTimer(this.#onForce, o.timeoutMs);
    this.#step();
    if (this.#open.size === 0) this.empty();
  }

  /** Stop the timers without resolving counts further (the controller is closing). */
  close(): void {
    this.#finish();
  }

  /** The owner tells: `conn` ended for `reason` (a connection the drain does not know is ignored). */
  closed(conn: C, reason: CloseReason): void {
    const reached = this.#open.get(conn);
    if (reached === undefined) return;
    this.#open.delete(conn);
    if (reached && reason === 'drain') this.#result.closedAfterResponse += 1;
    else this.#result.closedOther += 1;
  }

  /** The owner tells: nothing is open any more. */
  empty(): void {
    if (this.#open.size === 0) this.#finish();
  }

  #step = (): void => {
    this.#spreadTimer = undefined;
    const elapsed = this.#o.clock.now() - this.#started;
    while (this.#next < this.#plan.length && (this.#plan[this.#next] as { at: number }).at <= elapsed) {
      const { conn } = this.#plan[this.#next++] as { conn: C };
      if (!this.#open.has(conn)) continue;
      if (this.#o.reach(conn)) {
        this.#open.delete(conn);
        this.#result.closedIdle += 1;
      } else {
        this.#open.set(conn, true);
      }
    }
    const next = this.#plan[this.#next];
    if (next !== undefined && !this.#done) this.#spreadTimer = this.#o.clock.setTimer(this.#step, next.at - elapsed);
  };

  readonly #onForce = (): void => {
    this.#forceTimer = undefined;
    for (const conn of [...this.#open.keys()]) {
      this.#open.delete(conn);
      this.#result.forced += 1;
      this.#o.force(conn);
    }
    this.#finish();
  };

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#spreadTimer?.cancel();
    this.#forceTimer?.cancel();
    this.#result.durationMs = this.#o.clock.now() - this.#started;
    this.#resolve(this.#result);
  }
}
