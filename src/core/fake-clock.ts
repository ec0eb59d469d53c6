/**
 * A clock for tests: time moves only when the test calls `advance()`, and timers fire in deadline
 * order (ties in creation order) as time passes them, each seeing `now()` equal to its own
 * deadline. That makes "fires no later than one tick after the deadline" checkable exactly.
 */
import type { Clock, TimerHandle } from './clock.js';

interface FakeTimer {
  at: number;
  seq: number;
  callback: () => void;
  cancelled: boolean;
}

/**
 * @example
 *   const clock = new FakeClock();
 *   clock.setTimer(() => fired = true, 100);
 *   clock.advance(100); // fired === true, clock.now() === 100
 */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: FakeTimer[] = [];

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const timer: FakeTimer = { at: this.#now + Math.max(0, delayMs), seq: this.#seq++, callback, cancelled: false };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Number of timers still scheduled (for "nothing left open" checks). */
  get pendingTimers(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /** Move time forward by `ms`, firing every timer that comes due, in order. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advance(ms) needs ms >= 0; got ${ms}`);
    const end = this.#now + ms;
    for (;;) {
      this.#timers = this.#timers.filter((t) => !t.cancelled);
      let next: FakeTimer | undefined;
      for (const t of this.#timers) {
        if (t.at <= end && (next === undefined || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      }
      if (next === undefined) break;
      this.#now = Math.max(this.#now, next.at);
      next.cancelled = true;
      next.callback();
    }
    this.#now = end;
  }
}
