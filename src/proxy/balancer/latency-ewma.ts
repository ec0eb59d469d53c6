/**
 * Peak-EWMA latency per endpoint (Finagle's and Linkerd's "peak EWMA"), with time-based decay.
 *
 * Rule: the value is an exponentially time-weighted average with half-life `halfLifeMs`:
 *   - a sample *above* the stored value replaces it at once (peak sensitivity: a slowdown is
 *     seen on its first slow response, not after many);
 *   - a sample below it pulls it down by the weight of the time since the last update,
 *     `v = v*w + ms*(1-w)` with `w = 2^(-elapsed/halfLifeMs)`: the sample stands for the gap;
 *   - with no samples the value decays toward 0 at the same rate (`read()`), so an endpoint that
 *     gets no traffic because it looked slow is tried again after a few half-lives instead of
 *     being starved for ever. That decay is the p2c balancer's anti-starvation rule.
 *
 * Time-weighted rather than sample-weighted: at 30,000 req/s a per-sample alpha would forget
 * everything in milliseconds; at 1 req/min it would remember for hours. A half-life means the
 * same thing at any rate.
 *
 * Record response-header latency (time to first response byte), not full body time: a 200 MB
 * download says nothing about the endpoint's speed.
 *
 * No allocation: state lives on the endpoint record (`latencyEwmaMs`, `latencyStampMs`).
 */
import type { Clock } from '../../core/clock.js';
import { clockOption, integerOption, rejectUnknown } from '../../core/options.js';
import type { UpstreamEndpoint } from './upstream-endpoint.js';

export interface LatencyEwmaOptions {
  /** Half-life of the average, in ms (>= 1). Default 10_000 (Finagle's decay time is 10 s). */
  halfLifeMs?: number;
  clock?: Clock;
}

/**
 * Shared by the engine (which records) and the p2c balancer (which reads): one instance per
 * cluster, or one per proxy.
 * @example
 *   const ewma = new LatencyEwma({ halfLifeMs: 10_000 });
 *   const balancer = createBalancer('p2c-ewma', { latency: ewma });
 *   // when response headers arrive:
 *   ewma.record(endpoint, clock.now() - sentAt);
 */
export class LatencyEwma {
  readonly halfLifeMs: number;
  readonly clock: Clock;
  /** ln 2 / halfLifeMs: `Math.exp(-elapsed * rate)` is several times cheaper than `Math.pow(2, ...)`. */
  readonly #rate: number;

  constructor(options?: LatencyEwmaOptions) {
    const o = rejectUnknown('LatencyEwma', options, ['halfLifeMs', 'clock']);
    this.halfLifeMs = integerOption('LatencyEwma', o, 'halfLifeMs', 10_000, { min: 1 });
    this.clock = clockOption('LatencyEwma', o);
    this.#rate = Math.LN2 / this.halfLifeMs;
  }

  /**
   * Add one latency sample (ms, >= 0; negative or non-finite samples are ignored). Pass `nowMs`
   * (the injected clock's time) if you have it, to save a clock read.
   */
  record(endpoint: UpstreamEndpoint, ms: number, nowMs?: number): void {
    if (!(ms >= 0) || ms === Infinity) return;
    const now = nowMs ?? this.clock.now();
    const stored = endpoint.latencyEwmaMs;
    if (ms >= stored) {
      endpoint.latencyEwmaMs = ms;
    } else {
      const w = this.#weight(endpoint, now);
      endpoint.latencyEwmaMs = stored * w + ms * (1 - w);
    }
    endpoint.latencyStampMs = now;
  }

  /** The value now: the stored value decayed toward 0 for the time since the last sample. */
  read(endpoint: UpstreamEndpoint, now: number = this.clock.now()): number {
    return this.#decayed(endpoint, now);
  }

  #weight(endpoint: UpstreamEndpoint, now: number): number {
    const elapsed = now - endpoint.latencyStampMs;
    return elapsed <= 0 ? 1 : Math.exp(-elapsed * this.#rate);
  }

  #decayed(endpoint: UpstreamEndpoint, now: number): number {
    const v = endpoint.latencyEwmaMs;
    return v === 0 ? 0 : v * this.#weight(endpoint, now);
  }
}
