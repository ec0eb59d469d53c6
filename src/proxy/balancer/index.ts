/**
 * Upstream balancers for the proxy: policy only, no sockets.
 *
 * The engine keeps one `UpstreamEndpoint` record per endpoint (from `createEndpoint`) and keeps
 * it current: `activeRequests` around each request, latency through `LatencyEwma.record()` at
 * response headers, and `available = healthy && !ejected` from the health checker and outlier
 * detector. Per request it calls `balancer.pick(endpoints)`: undefined means nothing is
 * available (answer 503).
 *
 * Kinds (all honour weights, skip unavailable endpoints, allocate nothing per pick, O(n)):
 *   - `round-robin`: nginx's smooth weighted round robin.
 *   - `least-connections`: least `activeRequests / weight`, ties by weighted rotation.
 *   - `p2c-ewma`: power of two choices (weighted draw) on peak-EWMA latency x (active + 1).
 *   - `ring-hash`, `maglev`: consistent hashing on a request key (`pick(..., key)`, the key from
 *     `hashKey(parseHashOn('cookie:sid'), head, clientAddress)`): one key, one endpoint, on every
 *     instance with the same endpoint set. Without a key they rotate by weight.
 *
 * @example
 *   const latency = new LatencyEwma({ halfLifeMs: 10_000 });
 *   const balancer = createBalancer('p2c-ewma', { latency });
 *   const endpoints = [createEndpoint('10.0.0.1:80'), createEndpoint('10.0.0.2:80', { weight: 2 })];
 *   const ep = balancer.pick(endpoints);
 *   if (ep) { ep.activeRequests++; ...; latency.record(ep, ttfbMs); ep.activeRequests--; }
 */
export { createBalancer, BALANCER_KINDS, HASH_BALANCER_KINDS } from './balancer.js';
export type { Balancer, BalancerKind, BalancerOptions } from './balancer.js';
export { RoundRobinBalancer } from './round-robin.js';
export { LeastConnectionsBalancer } from './least-connections.js';
export { P2cEwmaBalancer } from './p2c-ewma.js';
export { RingHashBalancer } from './ring-hash.js';
export type { RingHashOptions } from './ring-hash.js';
export { MaglevBalancer } from './maglev.js';
export type { MaglevOptions } from './maglev.js';
export { hashKey, hashOnProblem, parseHashOn } from './hash-on.js';
export type { HashOn, HashableHead } from './hash-on.js';
export { keyHash32 } from './hash.js';
export { LatencyEwma } from './latency-ewma.js';
export type { LatencyEwmaOptions } from './latency-ewma.js';
export { createEndpoint, MAX_WEIGHT } from './upstream-endpoint.js';
export type { UpstreamEndpoint, EndpointOptions } from './upstream-endpoint.js';
