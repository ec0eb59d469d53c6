/**
 * A real clock that counts the timers it has outstanding, so a test can prove that an object's
 * `close()` leaves no timer behind (unref'd timers do not show in getActiveResourcesInfo()).
 */
import { systemClock } from '../../src/core/clock.js';
import type { Clock, TimerHandle } from '../../src/core/clock.js';

export class CountingClock implements Clock {
  outstanding = 0;
  created = 0;

  now(): number {
    return systemClock.now();
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    this.outstanding += 1;
    this.created += 1;
    let live = true;
    const done = (): void => {
      if (live) {
        live = false;
        this.outstanding -= 1;
      }
    };
    const handle = systemClock.setTimer(() => {
      done();
      callback();
    }, delayMs);
    return {
      cancel: () => {
        done();
        handle.cancel();
      },
    };
  }
}

/** Wait for `ms` with a ref'd timer (library timers are unref'd and would let the test exit). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
