/**
 * What each measurement is waiting for right now: the CLI redraws one line per measurement from
 * `snapshot()`; a library caller may read it, or give none.
 *
 * Why a board rather than events: measurements run in parallel and the drawing happens on its
 * own beat (a few times a second), so the latest state of each is all that matters.
 */
import type { MeasurementName } from './probe-options.js';

export interface ProgressEntry {
  name: MeasurementName;
  /** What it waits for ("server to close 3 idle connections"). */
  waitingFor: string;
  /** `performance.now()` when it started. */
  startedAt: number;
  /** Its bound, in ms from `startedAt`. */
  boundMs: number;
  done: boolean;
}

export class ProbeProgress {
  readonly #entries = new Map<MeasurementName, ProgressEntry>();

  /** Say what `name` waits for now (the elapsed time counts from its first `set`). */
  set(name: MeasurementName, waitingFor: string, boundMs: number): void {
    const entry = this.#entries.get(name);
    if (entry === undefined) this.#entries.set(name, { name, waitingFor, startedAt: performance.now(), boundMs, done: false });
    else {
      entry.waitingFor = waitingFor;
      entry.boundMs = boundMs;
    }
  }

  done(name: MeasurementName): void {
    const entry = this.#entries.get(name);
    if (entry !== undefined) entry.done = true;
  }

  /** Entries in start order (copies). */
  snapshot(): ProgressEntry[] {
    return [...this.#entries.values()].map((e) => ({ ...e }));
  }
}
