/**
 * Time and one-shot timers, behind one small interface so every timer rule can be tested with a
 * fake clock instead of sleeps.
 *
 * Invariants: `now()` is monotonic milliseconds (never goes back when the wall clock is changed);
 * timers from `setTimer` never keep the process alive (unref'd), because a keep-alive timer must
 * not be the reason a process refuses to exit.
 */
import { performance } from 'node:perf_hooks';

/** A scheduled callback that can be cancelled. Cancelling twice is harmless. */
export interface TimerHandle {
  cancel(): void;
}

/** Monotonic time plus one-shot timers. */
export interface Clock {
  /** Monotonic milliseconds (fractional). Only differences are meaningful. */
  now(): number;
  /** Run `callback` once after `delayMs` (>= 0). The timer does not keep the process alive. */
  setTimer(callback: () => void, delayMs: number): TimerHandle;
}

class NodeTimer implements TimerHandle {
  readonly #timeout: NodeJS.Timeout;

  constructor(callback: () => void, delayMs: number) {
    this.#timeout = setTimeout(callback, delayMs);
    this.#timeout.unref();
  }

  cancel(): void {
    clearTimeout(this.#timeout);
  }
}

/**
 * The real clock: `performance.now()` and unref'd `setTimeout`.
 * @example const clock = new SystemClock(); const t0 = clock.now();
 */
export class SystemClock implements Clock {
  now(): number {
    return performance.now();
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    return new NodeTimer(callback, delayMs);
  }
}

/** The process-wide real clock. Stateless, so sharing it is not hidden global state. */
export const systemClock: Clock = new SystemClock();
