/**
 * Each HTTP/1 connection's one deadline, on one timer wheel (10 ms ticks): while it waits for a
 * request, the idle close or the next check for a request begun, whichever comes first; while a
 * request is read, its headers or request timeout.
 *
 * Why one deadline a connection: re-arming it at each response's end is a wheel touch (a few
 * array writes), where a Node timer per connection would be a heap insert and removal.
 *
 * Times are the wheel's tick clock on the per-request path, so deadlines hold to one tick; the
 * wheel can fire up to a tick early, so the handler re-checks `dueAt` before it acts.
 */
import type { Clock } from '../../core/clock.js';
import { TimerWheel } from '../../core/timer-wheel.js';
import type { Connection } from './connection-table.js';

export interface DeadlineTimes {
  idleTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
}

export class ConnectionDeadlines {
  readonly #wheel: TimerWheel;
  readonly #o: DeadlineTimes;
  /** How often a waiting connection is checked for a request begun (Infinity: never). */
  readonly checkMs: number;
  readonly #onDue: (conn: Connection) => void;

  /** @param onDue called with a connection whose deadline came (from the wheel's tick). */
  constructor(clock: Clock, o: DeadlineTimes, onDue: (conn: Connection) => void) {
    this.#wheel = new TimerWheel({ resolutionMs: 10, clock });
    this.#o = o;
    this.#onDue = onDue;
    const sampled = [o.headersTimeoutMs, o.requestTimeoutMs].filter((ms) => ms > 0);
    this.checkMs = sampled.length === 0 ? Infinity : Math.max(10, Math.min(5_000, Math.floor(Math.min(...sampled) / 8)));
  }

  get resolutionMs(): number {
    return this.#wheel.resolutionMs;
  }

  /** Monotonic ms, to a wheel tick (10 ms): the wheel's cached time while it runs, else the clock. */
  coarseNow(clock: Clock): number {
    return this.#wheel.size > 0 ? this.#wheel.epochMs + this.#wheel.tickNow : clock.now();
  }

  /** Waiting for a request: wake at the idle close or the next check, whichever first. */
  armWait(conn: Connection, now: number): void {
    const idleAt = this.#o.idleTimeoutMs > 0 ? conn.waitStart + this.#o.idleTimeoutMs : Infinity;
    const at = Math.min(idleAt, conn.checkAt + this.checkMs);
    if (at === Infinity) this.cancel(conn);
    else this.set(conn, at - now, now);
  }

  /** A request is being read: wake at its headers or request deadline. */
  armRequest(conn: Connection, now: number): void {
    const h = this.#o.headersTimeoutMs > 0 ? conn.headersStart + this.#o.headersTimeoutMs : Infinity;
    const r = this.#o.requestTimeoutMs > 0 ? conn.headersStart + this.#o.requestTimeoutMs : Infinity;
    const at = Math.min(h, r);
    if (at === Infinity) this.cancel(conn);
    else this.set(conn, at - now, now);
  }

  /** Due `ms` after `now` (the wheel's tick time: at most one 10 ms tick early, like the wheel). */
  set(conn: Connection, ms: number, now: number): void {
    const delay = Math.max(0, Math.ceil(ms));
    conn.dueAt = now + delay;
    if (conn.deadline >= 0) {
      // The same timeout again (the common case: each response's end) is a touch, which is what
      // reset() does when the expiry moves later (it cannot move earlier with the same timeout).
      if (delay === conn.deadlineMs ? this.#wheel.touch(conn.deadline) : this.#wheel.reset(conn.deadline, delay)) {
        conn.deadlineMs = delay;
        return;
      }
    }
    conn.deadline = this.#wheel.add(delay, this.#expired, conn);
    conn.deadlineMs = delay;
  }

  cancel(conn: Connection): void {
    if (conn.deadline >= 0) this.#wheel.cancel(conn.deadline);
    conn.deadline = -1;
  }

  close(): void {
    this.#wheel.close();
  }

  // Run inside the wheel's tick: the wheel files a deadline added from a callback in a tick not
  // yet run, so re-arming here delays no other deadline (test/core-timer-wheel.test.ts proves it).
  readonly #expired = (_id: number, data: unknown): void => {
    const conn = data as Connection;
    conn.deadline = -1;
    this.#onDue(conn);
  };
}
