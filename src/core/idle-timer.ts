/**
 * IdleTimer: one deadline on its own clock timer, for the few long-lived timers that do not
 * warrant a wheel (a tunnel's session, a single lease holder).
 *
 * `touch()` records the time and re-arms nothing; when the timer fires it compares with the
 * last touch and, if it was pushed back, sleeps again for the remainder (lazy expiry). So a
 * connection that receives a million messages costs a million writes and one timer per idle
 * period, where `timeout.refresh()` would re-arm a timer a million times.
 */
import type { Clock, TimerHandle } from './clock.js';
import { checkInteger, rejectUnknown, requiredFunctionOption, requiredIntegerOption } from './options.js';
import { clockOption } from './options.js';

export interface IdleTimerOptions {
  /** Silence in ms after which `onExpire` runs (1..2^31-1). */
  timeoutMs: number;
  onExpire: () => void;
  clock?: Clock;
}

/**
 * @example
 *   const idle = new IdleTimer({ timeoutMs: 60_000, onExpire: () => session.close('idle') });
 *   idle.start(); socket.on('data', () => idle.touch()); ... idle.stop();
 */
export class IdleTimer {
  timeoutMs: number;
  readonly #onExpire: () => void;
  readonly #clock: Clock;
  #lastTouchMs = 0;
  #timer: TimerHandle | undefined;

  constructor(options: IdleTimerOptions) {
    const o = rejectUnknown('IdleTimer', options, ['timeoutMs', 'onExpire', 'clock']);
    this.timeoutMs = requiredIntegerOption('IdleTimer', o, 'timeoutMs', { min: 1, max: 2 ** 31 - 1 });
    this.#onExpire = requiredFunctionOption<() => void>('IdleTimer', o, 'onExpire');
    this.#clock = clockOption('IdleTimer', o);
  }

  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** Start (or restart) counting from now. */
  start(): this {
    this.#timer?.cancel();
    this.#lastTouchMs = this.#clock.now();
    this.#arm(this.timeoutMs);
    return this;
  }

  /** A keep-alive event. One clock read and one write. */
  touch(): void {
    this.#lastTouchMs = this.#clock.now();
  }

  /** Change the timeout; takes effect from the last touch. */
  setTimeoutMs(timeoutMs: number): void {
    this.timeoutMs = checkInteger('IdleTimer.timeoutMs', timeoutMs, { min: 1, max: 2 ** 31 - 1 });
    if (this.#timer !== undefined) {
      this.#timer.cancel();
      this.#arm(Math.max(0, this.#lastTouchMs + this.timeoutMs - this.#clock.now()));
    }
  }

  /** Milliseconds of silence so far. */
  get idleMs(): number {
    return this.#clock.now() - this.#lastTouchMs;
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #arm(delayMs: number): void {
    this.#timer = this.#clock.setTimer(this.#fire, delayMs);
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const remaining = this.#lastTouchMs + this.timeoutMs - this.#clock.now();
    if (remaining > 0) {
      this.#arm(remaining);
      return;
    }
    this.#onExpire();
  };
}
