/**
 * Upstream health for the proxy: policy only, no sockets.
 *
 *   - `ActiveHealthChecker`: probes each endpoint every `intervalMs` through the engine's `probe`
 *     (a request over its kept-alive pool); `fall` failures in a row take it down, `rise`
 *     successes bring it back. Endpoints start healthy. Events 'up', 'down', 'check'.
 *   - `OutlierDetector`: passive, from real traffic: consecutive 5xx or connect failures eject an
 *     endpoint for `baseEjectionMs x times ejected` (capped), never more than a set share of the
 *     cluster. Events 'eject', 'return', 'overflow'.
 *
 * The engine combines them per endpoint: `available = checker.isHealthy(key) && !outliers.isEjected(key)`,
 * recomputed on each of those events (the balancer reads `available`).
 *
 * @example
 *   const checker = new ActiveHealthChecker({ intervalMs: 2_000, timeoutMs: 1_000, probe });
 *   const outliers = new OutlierDetector({ consecutive5xx: 5 });
 *   for (const key of keys) { checker.add(key); outliers.add(key); }
 *   const refresh = (key: string) => { byKey.get(key)!.available = checker.isHealthy(key) && !outliers.isEjected(key); };
 *   checker.on('up', refresh).on('down', refresh);
 *   outliers.on('eject', refresh).on('return', refresh);
 */
export { ActiveHealthChecker } from './active-checker.js';
export type { ActiveHealthCheckerOptions, ActiveHealthCheckerEvents, HealthCheckResult, HealthCheckFailure } from './active-checker.js';
export { OutlierDetector } from './outlier-detector.js';
export type { OutlierDetectorOptions, OutlierDetectorEvents, RequestOutcome, EjectionCause } from './outlier-detector.js';
