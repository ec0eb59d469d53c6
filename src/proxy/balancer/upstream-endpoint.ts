/**
 * The view of one upstream endpoint that balancers read and the forwarding engine writes.
 *
 * Why a plain mutable record: a balancer runs once per request, so it must read numbers, not call
 * getters or ask other objects. The engine keeps the record current: `activeRequests` up and
 * down around each request, `latencyEwmaMs` through `LatencyEwma.record()`, and `available` from
 * the active health check and the outlier detector (`healthy && !ejected`).
 *
 * Invariants: every record is created by `createEndpoint` so all share one shape (V8 keeps the
 * balancer's property reads monomorphic); `rotation` belongs to the balancer; `weight` is a positive integer (an endpoint with
 * weight 0 or less is never picked, like an unavailable one); `activeRequests` is never negative.
 */
import { InvalidOptionError } from '../../core/errors.js';
import { booleanOption, checkInteger, rejectUnknown } from '../../core/options.js';

/** One upstream endpoint as balancers see it. */
export interface UpstreamEndpoint {
  /** `host:port`, unique within a cluster. */
  readonly key: string;
  /** Relative share of traffic, an integer >= 1. Default 1. */
  weight: number;
  /** Requests sent to this endpoint and not yet finished. The engine maintains it. */
  activeRequests: number;
  /** Peak-EWMA of response latency in ms, as of `latencyStampMs`; 0 before the first sample.
   * Written by `LatencyEwma.record()`; read it through `LatencyEwma.read()` (it decays with time). */
  latencyEwmaMs: number;
  /** Clock time (ms) at which `latencyEwmaMs` was last written. */
  latencyStampMs: number;
  /** Healthy (active checks) and not ejected (outlier detection). Only available endpoints are picked. */
  available: boolean;
  /**
   * Balancer scratch: the "current weight" of smooth weighted round robin (round-robin and the
   * least-connections tie-break). The engine never writes it. Kept on the record rather than in
   * a map inside the balancer because a map lookup per endpoint per pick costs more than the
   * whole rest of the pick; the price is that one endpoint list should be served by one balancer
   * (sharing only perturbs the rotation's smoothness, never correctness).
   */
  rotation: number;
}

export interface EndpointOptions {
  /** Integer >= 1. Default 1. */
  weight?: number;
  /** Default true: an endpoint is in rotation from the start (see the health checker). */
  available?: boolean;
}

/** Largest weight accepted: keeps the weighted rotation's sums exact in float64 for any realistic cluster. */
export const MAX_WEIGHT = 1_000_000;

/**
 * Create an endpoint record.
 * @example const a = createEndpoint('10.0.0.1:8080', { weight: 2 });
 */
export function createEndpoint(key: string, options?: EndpointOptions): UpstreamEndpoint {
  if (typeof key !== 'string' || key === '') throw new InvalidOptionError('key', `endpoint key must be a non-empty string; got ${String(key)}`);
  const o = rejectUnknown('createEndpoint', options, ['weight', 'available']);
  const weight = o['weight'] === undefined ? 1 : checkInteger('createEndpoint.weight', o['weight'], { min: 1, max: MAX_WEIGHT });
  const available = booleanOption('createEndpoint', o, 'available', true);
  return { key, weight, activeRequests: 0, latencyEwmaMs: 0, latencyStampMs: 0, available, rotation: 0 };
}
