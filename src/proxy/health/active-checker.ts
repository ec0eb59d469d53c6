/**
 * Active health checks: probe each endpoint every `intervalMs`; `fall` failures in a row take a
 * healthy endpoint down, `rise` successes in a row bring a down one back (HAProxy's `check inter
 * rise fall`). No sockets here: the engine's `probe` does the request over its kept-alive pool.
 *
 * Decisions (and why):
 *   - Endpoints start healthy (HAProxy and Envoy do the same by default), so a proxy serves at
 *     once on start; a dead endpoint is taken down by its first `fall` checks, and meanwhile the
 *     engine's retries and the outlier detector cover it.
 *   - The first check of each endpoint is jittered uniformly in [0, intervalMs), so a fleet of
 *     endpoints (or of proxies) is not probed in lockstep.
 *   - Fixed rate: probe n+1 starts at `start(n) + intervalMs`, or when probe n ends if it took
 *     longer (it is then a timeout). So with `timeoutMs <= intervalMs` a dead endpoint is down
 *     within `jitter + (fall - 1) * intervalMs + timeoutMs < fall * intervalMs + timeoutMs`, and
 *     one that fails fast within `fall * intervalMs`.
 *   - A probe that has not settled within `timeoutMs` is a failure, timed on the injected clock;
 *     its AbortSignal is aborted so the engine can drop the connection.
 *   - Probes of one endpoint never overlap: if a timed-out probe still has not settled when the
 *     next is due (the engine ignored the abort), no new probe starts; that slot counts as one
 *     more failure, so a hung endpoint still goes down after `fall` intervals.
 *   - A probe that throws or rejects is a failure; so is a status `expectStatus` refuses
 *     (default: 200-399, as HAProxy's `option httpchk`).
 *
 * Events: 'up' and 'down' (key) on transitions only; 'check' (result) after every check, for
 * logs and metrics.
 */
import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { ClosedError } from '../../core/errors.js';
import { clockOption, functionOption, integerOption, rejectUnknown, requiredFunctionOption, requiredIntegerOption } from '../../core/options.js';

export interface ActiveHealthCheckerOptions {
  /** Time between the starts of two probes of one endpoint, in ms (>= 1). */
  intervalMs: number;
  /** A probe not settled after this many ms is a failure (>= 1). */
  timeoutMs: number;
  /** Successes in a row that bring a down endpoint back (>= 1). Default 2. */
  rise?: number;
  /** Failures in a row that take a healthy endpoint down (>= 1). Default 3. */
  fall?: number;
  /**
   * Probe one endpoint: resolve with the HTTP status of the health request. Abort the request
   * when `signal` fires (the probe timed out or the checker closed).
   */
  probe: (endpointKey: string, signal: AbortSignal) => Promise<number>;
  /** Which statuses count as healthy. Default: 200 to 399. */
  expectStatus?: (status: number) => boolean;
  clock?: Clock;
  /** Random source in [0, 1) for the first check's jitter. Default Math.random. */
  random?: () => number;
}

export type HealthCheckFailure = 'status' | 'timeout' | 'error' | 'hung';

export interface HealthCheckResult {
  key: string;
  ok: boolean;
  /** The status the probe returned, if it returned one in time. */
  status: number | undefined;
  /** Why the check failed; undefined when ok. 'hung': the previous probe never settled. */
  failure: HealthCheckFailure | undefined;
  /** The probe's error, for failure 'error'. */
  error: unknown;
  /** Time from probe start to result, in ms. */
  durationMs: number;
  /** Whether the endpoint is healthy after this check. */
  healthy: boolean;
}

export interface ActiveHealthCheckerEvents {
  up: [key: string];
  down: [key: string];
  check: [result: HealthCheckResult];
}

interface Target {
  readonly key: string;
  healthy: boolean;
  successes: number;
  failures: number;
  /** Timer for the next probe. */
  next: TimerHandle | undefined;
  /** Timer for the running probe's timeout. */
  timeout: TimerHandle | undefined;
  /** A probe promise that has not settled (possibly past its timeout). */
  inFlight: boolean;
  /** Sequence number of the latest probe; results of older ones are ignored. */
  seq: number;
  /** Whether the latest probe has been counted (by its result or its timeout). */
  counted: boolean;
  startedAt: number;
  abort: AbortController | undefined;
}

const KNOWN = ['intervalMs', 'timeoutMs', 'rise', 'fall', 'probe', 'expectStatus', 'clock', 'random'];
const MAX_MS = 2 ** 31 - 1;

function defaultExpect(status: number): boolean {
  return status >= 200 && status < 400;
}

/**
 * @example
 *   const checker = new ActiveHealthChecker({ intervalMs: 2_000, timeoutMs: 1_000, rise: 2, fall: 3,
 *     probe: (key, signal) => engine.healthRequest(key, '/healthz', signal) });
 *   checker.on('down', (key) => cluster.setHealthy(key, false));
 *   checker.on('up', (key) => cluster.setHealthy(key, true));
 *   checker.add('10.0.0.1:8080');
 */
export class ActiveHealthChecker extends EventEmitter<ActiveHealthCheckerEvents> {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly rise: number;
  readonly fall: number;
  readonly #probe: (endpointKey: string, signal: AbortSignal) => Promise<number>;
  readonly #expect: (status: number) => boolean;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #targets = new Map<string, Target>();
  #closed = false;

  constructor(options: ActiveHealthCheckerOptions) {
    super();
    const o = rejectUnknown('ActiveHealthChecker', options, KNOWN);
    this.intervalMs = requiredIntegerOption('ActiveHealthChecker', o, 'intervalMs', { min: 1, max: MAX_MS });
    this.timeoutMs = requiredIntegerOption('ActiveHealthChecker', o, 'timeoutMs', { min: 1, max: MAX_MS });
    this.rise = integerOption('ActiveHealthChecker', o, 'rise', 2, { min: 1, max: 1000 });
    this.fall = integerOption('ActiveHealthChecker', o, 'fall', 3, { min: 1, max: 1000 });
    this.#probe = requiredFunctionOption<(endpointKey: string, signal: AbortSignal) => Promise<number>>('ActiveHealthChecker', o, 'probe');
    this.#expect = functionOption<(status: number) => boolean>('ActiveHealthChecker', o, 'expectStatus') ?? defaultExpect;
    this.#clock = clockOption('ActiveHealthChecker', o);
    this.#random = functionOption<() => number>('ActiveHealthChecker', o, 'random') ?? Math.random;
  }

  /** Start checking `key` (healthy until proven otherwise). Adding a known key does nothing. */
  add(key: string): void {
    if (this.#closed) throw new ClosedError('ActiveHealthChecker');
    if (this.#targets.has(key)) return;
    const t: Target = { key, healthy: true, successes: 0, failures: 0, next: undefined, timeout: undefined, inFlight: false, seq: 0, counted: true, startedAt: 0, abort: undefined };
    this.#targets.set(key, t);
    const jitter = Math.min(this.intervalMs - 1, Math.floor(this.#random() * this.intervalMs));
    this.#schedule(t, Math.max(0, jitter));
  }

  /** Stop checking `key`: its timers are cancelled and a running probe is aborted. No event. */
  remove(key: string): void {
    const t = this.#targets.get(key);
    if (t === undefined) return;
    this.#targets.delete(key);
    this.#stop(t);
  }

  /** Whether `key` is healthy. False for a key that was never added (or was removed). */
  isHealthy(key: string): boolean {
    return this.#targets.get(key)?.healthy ?? false;
  }

  /** Keys being checked. */
  keys(): string[] {
    return [...this.#targets.keys()];
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Stop every check, abort running probes, leave no timer. Calling twice is harmless. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#targets.values()) this.#stop(t);
    this.#targets.clear();
  }

  #stop(t: Target): void {
    t.next?.cancel();
    t.next = undefined;
    t.timeout?.cancel();
    t.timeout = undefined;
    t.seq += 1; // results still to come are ignored
    t.abort?.abort();
    t.abort = undefined;
  }

  #schedule(t: Target, delayMs: number): void {
    t.next = this.#clock.setTimer(() => this.#due(t), delayMs);
  }

  /** Schedule the next probe at start + interval, or now if that has passed. */
  #scheduleAfter(t: Target): void {
    if (this.#targets.get(t.key) !== t) return;
    this.#schedule(t, Math.max(0, t.startedAt + this.intervalMs - this.#clock.now()));
  }

  #due(t: Target): void {
    t.next = undefined;
    if (this.#targets.get(t.key) !== t) return;
    const now = this.#clock.now();
    if (t.inFlight) {
      // The previous probe timed out and still has not settled: do not stack another on it.
      t.startedAt = now;
      this.#count(t, { key: t.key, ok: false, status: undefined, failure: 'hung', error: undefined, durationMs: 0, healthy: t.healthy });
      this.#scheduleAfter(t);
      return;
    }
    const seq = ++t.seq;
    const abort = new AbortController();
    t.abort = abort;
    t.inFlight = true;
    t.counted = false;
    t.startedAt = now;
    t.timeout = this.#clock.setTimer(() => this.#timedOut(t, seq), this.timeoutMs);
    let pending: Promise<number>;
    try {
      pending = this.#probe(t.key, abort.signal);
    } catch (error) {
      this.#settled(t, seq, undefined, error, true);
      return;
    }
    void Promise.resolve(pending).then(
      (status) => this.#settled(t, seq, status, undefined, false),
      (error: unknown) => this.#settled(t, seq, undefined, error, true),
    );
  }

  #timedOut(t: Target, seq: number): void {
    t.timeout = undefined;
    if (t.seq !== seq || t.counted) return;
    t.counted = true;
    t.abort?.abort();
    t.abort = undefined;
    this.#count(t, { key: t.key, ok: false, status: undefined, failure: 'timeout', error: undefined, durationMs: this.#clock.now() - t.startedAt, healthy: t.healthy });
    this.#scheduleAfter(t);
  }

  #settled(t: Target, seq: number, status: number | undefined, error: unknown, failed: boolean): void {
    if (t.seq !== seq) return; // removed, closed, or an older probe
    t.inFlight = false;
    if (t.counted) return; // already counted as a timeout; the next probe is scheduled
    t.counted = true;
    t.timeout?.cancel();
    t.timeout = undefined;
    t.abort = undefined;
    const durationMs = this.#clock.now() - t.startedAt;
    let ok = false;
    let failure: HealthCheckFailure | undefined = 'error';
    if (!failed && typeof status === 'number') {
      try {
        ok = this.#expect(status);
      } catch (expectError) {
        error = expectError;
      }
      failure = ok ? undefined : 'status';
    }
    this.#count(t, { key: t.key, ok, status, failure, error, durationMs, healthy: t.healthy });
    this.#scheduleAfter(t);
  }

  /** Apply one result to the rise/fall counters; emit the transition, then the check. */
  #count(t: Target, result: HealthCheckResult): void {
    let transition: 'up' | 'down' | undefined;
    if (result.ok) {
      t.failures = 0;
      t.successes += 1;
      if (!t.healthy && t.successes >= this.rise) {
        t.healthy = true;
        transition = 'up';
      }
    } else {
      t.successes = 0;
      t.failures += 1;
      if (t.healthy && t.failures >= this.fall) {
        t.healthy = false;
        transition = 'down';
      }
    }
    result.healthy = t.healthy;
    if (transition !== undefined) this.emit(transition, t.key);
    this.emit('check', result);
  }
}
