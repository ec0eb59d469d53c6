/**
 * Proxy metrics: Envoy-grade counters per cluster, endpoint and listener, exposed through a
 * prom-client `Registry` owned by each `ProxyMetrics` instance (never the global one).
 *
 * Hot-path rule: get `metrics.cluster(c).endpoint(key)` and `metrics.listener(name)` once, when
 * the endpoint or listener is created, and keep them. Their methods are plain field increments
 * with the label set bound at creation (~1 ns); values are copied into prom-client at scrape
 * time. prom-client's own `counter.labels(...).inc()` re-hashes the labels on every call
 * (~350 ns measured; a histogram observe ~700 ns), which is why it is not used per request.
 *
 * `metrics.text()` serves /metrics (`metrics.contentType`), `metrics.json()` serves /stats.
 *
 * @example
 *   const metrics = new ProxyMetrics();
 *   const ep = metrics.cluster('web').endpoint('10.0.0.1:8080');
 *   ep.connectionOpened(); ep.requestSent(false); ep.connectionClosed('hint_expiry', 12);
 *   const main = metrics.listener('main');
 *   main.connectionAccepted(); main.request(200, 3.2); main.rejected('ERR_HTTP_CL_TE');
 *   await metrics.text(); // lifeline_upstream_cx_total{cluster="web",endpoint="10.0.0.1:8080"} 1 ...
 */
export { ProxyMetrics } from './proxy-metrics.js';
export type { ProxyMetricsOptions, ProxyStats } from './proxy-metrics.js';
export { ClusterMetrics, EndpointMetrics, UPSTREAM_CLOSE_REASONS, REQUESTS_PER_CONNECTION_BUCKETS } from './upstream-metrics.js';
export type { UpstreamCloseReason, EndpointStats, ClusterStats } from './upstream-metrics.js';
export { ListenerMetrics, DOWNSTREAM_CLOSE_REASONS, STATUS_CLASSES, DURATION_BUCKETS_SECONDS } from './listener-metrics.js';
export type { DownstreamCloseReason, StatusClass, ListenerStats } from './listener-metrics.js';
export { BucketHistogram } from './bucket-histogram.js';
export type { HistogramSnapshot } from './bucket-histogram.js';
export type { FleetFigures } from './fleet-metrics.js';
