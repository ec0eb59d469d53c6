/**
 * Passive outlier detection (Envoy's): the engine reports how each request to an endpoint went;
 * an endpoint with too many failures in a row is ejected for a while, longer each time.
 *
 * Rules:
 *   - Two streaks per endpoint. `5xx` responses count toward `consecutive5xx`; `connect-failure`
 *     and `reset` (the connection failed or was reset before a full response: local-origin
 *     failures in Envoy's terms) count toward `consecutiveConnectFailures`. A `success` ends both
 *     streaks; a `5xx` ends the connect streak (the endpoint was reachable); a connect failure
 *     leaves the 5xx streak alone. Either threshold 0 disables that rule.
 *   - Ejection time = `baseEjectionMs` x the endpoint's ejection count (this one included),
 *     capped at `maxEjectionMs` (default 300 s, Envoy's `max_ejection_time`). The endpoint
 *     returns by itself when the time is up (one precise timer per ejected endpoint), with its
 *     streaks cleared.
 *   - The count decays: for every `ejectionDecayMs` (default: `baseEjectionMs`) an endpoint
 *     spends in rotation after returning, its count drops by one, so a flap long ago does not
 *     earn a five-minute ejection today. Computed when needed, no sweep timer.
 *   - Never eject more than `maxEjectionPercent` of the endpoints, rounded down but at least one
 *     (as Envoy: otherwise 10 % of a 2-endpoint cluster would never eject anything), and never the
 *     last endpoint in rotation unless the percent is 100. An ejection refused by that cap emits
 *     'overflow' (Envoy's `ejections_overflow`); the streak stays, so the next failure tries again.
 *   - Outcomes reported for an ejected endpoint (requests that were in flight) are ignored.
 *
 * Events: 'eject' (key, ejectionCount, durationMs, cause), 'return' (key, ejectionCount,
 * durationMs), 'overflow' (key, cause).
 */
import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { ClosedError, InvalidOptionError } from '../../core/errors.js';
import { clockOption, integerOption, optionalIntegerOption, rejectUnknown } from '../../core/options.js';

export type RequestOutcome = 'success' | '5xx' | 'connect-failure' | 'reset';
export type EjectionCause = '5xx' | 'connect-failure';

export interface OutlierDetectorOptions {
  /** 5xx responses in a row that eject an endpoint (0 disables). Default 5 (Envoy). */
  consecutive5xx?: number;
  /** Connect failures or resets in a row that eject an endpoint (0 disables). Default 5. */
  consecutiveConnectFailures?: number;
  /** First ejection's length in ms (>= 1). Default 30_000 (Envoy). */
  baseEjectionMs?: number;
  /** Longest ejection in ms (>= baseEjectionMs). Default max(300_000, baseEjectionMs). */
  maxEjectionMs?: number;
  /** Share of endpoints that may be ejected at once, 0-100 (0 disables ejection). Default 10. */
  maxEjectionPercent?: number;
  /** Time in rotation that forgives one past ejection, in ms (>= 1). Default baseEjectionMs. */
  ejectionDecayMs?: number;
  clock?: Clock;
}

export interface OutlierDetectorEvents {
  eject: [key: string, ejectionCount: number, durationMs: number, cause: EjectionCause];
  return: [key: string, ejectionCount: number, durationMs: number];
  overflow: [key: string, cause: EjectionCause];
}

interface Target {
  readonly key: string;
  streak5xx: number;
  streakConnect: number;
  ejected: boolean;
  /** Ejections counted as of `countAt` (decays while in rotation). */
  count: number;
  /** When the endpoint last returned (or was added): decay runs from here. */
  countAt: number;
  durationMs: number;
  timer: TimerHandle | undefined;
}

const KNOWN = ['consecutive5xx', 'consecutiveConnectFailures', 'baseEjectionMs', 'maxEjectionMs', 'maxEjectionPercent', 'ejectionDecayMs', 'clock'];
const MAX_MS = 2 ** 31 - 1;

/**
 * @example
 *   const outliers = new OutlierDetector({ consecutive5xx: 5, baseEjectionMs: 30_000, maxEjectionPercent: 10 });
 *   outliers.add('10.0.0.1:8080');
 *   outliers.on('eject', (key) => cluster.refreshAvailability(key));
 *   outliers.on('return', (key) => cluster.refreshAvailability(key));
 *   // after each upstream exchange:
 *   outliers.record(key, status >= 500 ? '5xx' : 'success');
 */
export class OutlierDetector extends EventEmitter<OutlierDetectorEvents> {
  readonly consecutive5xx: number;
  readonly consecutiveConnectFailures: number;
  readonly baseEjectionMs: number;
  readonly maxEjectionMs: number;
  readonly maxEjectionPercent: number;
  readonly ejectionDecayMs: number;
  readonly #clock: Clock;
  readonly #targets = new Map<string, Target>();
  #ejected = 0;
  #closed = false;

  constructor(options?: OutlierDetectorOptions) {
    super();
    const o = rejectUnknown('OutlierDetector', options, KNOWN);
    this.consecutive5xx = integerOption('OutlierDetector', o, 'consecutive5xx', 5, { min: 0, max: 1_000_000, note: '(0 disables)' });
    this.consecutiveConnectFailures = integerOption('OutlierDetector', o, 'consecutiveConnectFailures', 5, { min: 0, max: 1_000_000, note: '(0 disables)' });
    this.baseEjectionMs = integerOption('OutlierDetector', o, 'baseEjectionMs', 30_000, { min: 1, max: MAX_MS });
    const max = optionalIntegerOption('OutlierDetector', o, 'maxEjectionMs', { min: 1, max: MAX_MS });
    if (max !== undefined && max < this.baseEjectionMs) {
      throw new InvalidOptionError('OutlierDetector.maxEjectionMs', `OutlierDetector.maxEjectionMs must be at least baseEjectionMs (${this.baseEjectionMs}); got ${max}`);
    }
    this.maxEjectionMs = max ?? Math.max(300_000, this.baseEjectionMs);
    this.maxEjectionPercent = integerOption('OutlierDetector', o, 'maxEjectionPercent', 10, { min: 0, max: 100, note: '(0 disables ejection)' });
    this.ejectionDecayMs = integerOption('OutlierDetector', o, 'ejectionDecayMs', this.baseEjectionMs, { min: 1, max: MAX_MS });
    this.#clock = clockOption('OutlierDetector', o);
  }

  /** Start tracking `key`, in rotation. Adding a known key does nothing. */
  add(key: string): void {
    if (this.#closed) throw new ClosedError('OutlierDetector');
    if (this.#targets.has(key)) return;
    this.#targets.set(key, { key, streak5xx: 0, streakConnect: 0, ejected: false, count: 0, countAt: this.#clock.now(), durationMs: 0, timer: undefined });
  }

  /** Stop tracking `key`; an ejection in progress is cancelled without a 'return' event. */
  remove(key: string): void {
    const t = this.#targets.get(key);
    if (t === undefined) return;
    this.#targets.delete(key);
    if (t.ejected) this.#ejected -= 1;
    t.timer?.cancel();
    t.timer = undefined;
  }

  /**
   * End an ejection early, as when an active health check sees the endpoint healthy again
   * (Envoy's `successful_active_health_check_uneject_host`). The ejection count is kept, so a
   * flapping endpoint still gets longer ejections. Emits 'return'.
   */
  uneject(key: string): void {
    const t = this.#targets.get(key);
    if (t === undefined || !t.ejected) return;
    t.timer?.cancel();
    this.#return(t);
  }

  /** Report how one exchange with `key` went. Unknown keys and ejected endpoints are ignored. */
  record(key: string, outcome: RequestOutcome): void {
    const t = this.#targets.get(key);
    if (t === undefined || t.ejected) return;
    switch (outcome) {
      case 'success':
        t.streak5xx = 0;
        t.streakConnect = 0;
        return;
      case '5xx':
        t.streakConnect = 0;
        t.streak5xx += 1;
        if (this.consecutive5xx > 0 && t.streak5xx >= this.consecutive5xx) this.#tryEject(t, '5xx');
        return;
      case 'connect-failure':
      case 'reset':
        t.streakConnect += 1;
        if (this.consecutiveConnectFailures > 0 && t.streakConnect >= this.consecutiveConnectFailures) this.#tryEject(t, 'connect-failure');
        return;
    }
  }

  /** Whether `key` is ejected now. False for unknown keys. */
  isEjected(key: string): boolean {
    return this.#targets.get(key)?.ejected ?? false;
  }

  /** The ejection count the next ejection would build on (decayed), or the current one while ejected. */
  ejectionCount(key: string): number {
    const t = this.#targets.get(key);
    return t === undefined ? 0 : this.#decayedCount(t, this.#clock.now());
  }

  /** Endpoints ejected now. */
  get ejectedCount(): number {
    return this.#ejected;
  }

  /** Endpoints tracked. */
  get size(): number {
    return this.#targets.size;
  }

  /** How many endpoints may be ejected at once with the current membership. */
  get maxEjected(): number {
    const n = this.#targets.size;
    if (this.maxEjectionPercent === 0 || n === 0) return 0;
    if (this.maxEjectionPercent === 100) return n;
    return Math.min(Math.max(1, Math.floor((n * this.maxEjectionPercent) / 100)), n - 1);
  }

  /** Cancel every return timer (ejected endpoints stay ejected, silently). Harmless twice. */
  close(): void {
    this.#closed = true;
    for (const t of this.#targets.values()) {
      t.timer?.cancel();
      t.timer = undefined;
    }
  }

  #decayedCount(t: Target, now: number): number {
    if (t.ejected || t.count === 0) return t.count;
    return Math.max(0, t.count - Math.floor((now - t.countAt) / this.ejectionDecayMs));
  }

  #tryEject(t: Target, cause: EjectionCause): void {
    if (this.#closed) return;
    if (this.#ejected >= this.maxEjected) {
      this.emit('overflow', t.key, cause);
      return;
    }
    const now = this.#clock.now();
    t.count = this.#decayedCount(t, now) + 1;
    t.countAt = now;
    t.ejected = true;
    t.streak5xx = 0;
    t.streakConnect = 0;
    t.durationMs = Math.min(this.baseEjectionMs * t.count, this.maxEjectionMs);
    this.#ejected += 1;
    t.timer = this.#clock.setTimer(() => this.#return(t), t.durationMs);
    this.emit('eject', t.key, t.count, t.durationMs, cause);
  }

  #return(t: Target): void {
    t.timer = undefined;
    if (this.#targets.get(t.key) !== t || !t.ejected) return;
    t.ejected = false;
    t.countAt = this.#clock.now();
    this.#ejected -= 1;
    this.emit('return', t.key, t.count, t.durationMs);
  }
}
