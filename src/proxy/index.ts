/**
 * `lifeline/proxy`: the reverse proxy / load balancer and its parts: configuration, balancers,
 * health checks, outlier detection, metrics, and endpoint discovery (DNS, a watched file).
 */
export * from './config/index.js';
export * from './balancer/index.js';
export * from './health/index.js';
export * from './metrics/index.js';
export * from './discovery/index.js';
export { Proxy } from './proxy.js';
export type { ProxyStartOptions, DrainResult } from './proxy.js';
export * from './log/index.js';
export { readiness } from './admin/readiness.js';
export type { Readiness, ReadinessCheck, ReadinessInput } from './admin/readiness.js';
export type { StatusSample, ListenerStatus, ClusterStatus, EndpointStatus, ConnectionView } from './admin/status-sample.js';
export type { FeedPoint } from './admin/dashboard-feed.js';
