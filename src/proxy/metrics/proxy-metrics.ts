/**
 * All of one proxy instance's metrics, on its own prom-client `Registry`.
 *
 * Invariants:
 *   - Never prom-client's global default registry: each `ProxyMetrics` owns `new Registry()`, so
 *     two proxies in one process (tests, a reload that briefly overlaps) never collide.
 *   - Hot path: the engine keeps the `EndpointMetrics` / `ListenerMetrics` objects it got once
 *     (per endpoint, per listener) and calls their methods: a field increment each. Label sets
 *     are bound once, when the object is made. prom-client sees the values only when scraped
 *     (see collected-metrics.ts for why prom-client's own children are not used on the hot path).
 *   - Removing an endpoint, cluster or listener removes all its series from the next scrape.
 *
 * Names, all prefixed (default `lifeline_`); upstream labels `cluster` and `endpoint`,
 * downstream `listener`:
 *   upstream_cx_total, upstream_cx_connect_fail_total, upstream_cx_closed_total{reason},
 *   upstream_cx_destroy_remote_with_active_rq_total, upstream_rq_total, upstream_rq_reused_total,
 *   upstream_rq_per_cx (histogram), upstream_ejections_total, upstream_h2_pings_total,
 *   upstream_h2_ping_timeouts_total, upstream_h2_goaway_received_total, upstream_h2_streams_refused_total, upstream_cx_idle, upstream_cx_active,
 *   upstream_endpoint_available (gauges);
 *   per cluster: upstream_rq_retry_total, upstream_rq_retry_success_total,
 *   upstream_rq_no_healthy_total, upstream_ejections_overflow_total;
 *   downstream_cx_total, downstream_cx_active (gauge), downstream_cx_closed_total{reason},
 *   downstream_rq_total{status_class}, downstream_rq_duration_seconds (histogram),
 *   downstream_rq_rejected_total{code};
 *   per cluster (fleet-metrics.ts): cluster_endpoints, membership_changes_total,
 *   membership_endpoints_{added,removed,reweighted}_total, discovery_resolutions_total,
 *   discovery_failures_total, discovery_stale_kept_total, endpoints_file_rejections_total;
 *   build_info{version}, uptime_seconds, and prom-client's process_* / nodejs_* (runtime-metrics.ts).
 * Every one is listed in docs/metrics.md (a test checks the list against a scrape).
 */
import { Registry } from 'prom-client';
import { InvalidOptionError } from '../../core/errors.js';
import { rejectUnknown } from '../../core/options.js';
import { registerRuntimeMetrics } from './runtime-metrics.js';
import { registerFleetMetrics } from './fleet-metrics.js';
import type { FleetFigures } from './fleet-metrics.js';
import { collectedCounter, collectedGauge, CollectedHistogram } from './collected-metrics.js';
import type { HistogramSample, Sample } from './collected-metrics.js';
import { DOWNSTREAM_CLOSE_REASONS, DURATION_BUCKETS_SECONDS, ListenerMetrics, STATUS_CLASSES } from './listener-metrics.js';
import type { ListenerStats } from './listener-metrics.js';
import { ClusterMetrics, REQUESTS_PER_CONNECTION_BUCKETS, UPSTREAM_CLOSE_REASONS } from './upstream-metrics.js';
import type { ClusterStats, EndpointMetrics, EndpointStats } from './upstream-metrics.js';

export interface ProxyMetricsOptions {
  /** Prefix of every metric name. Default `lifeline_`. */
  prefix?: string;
  /** Upper bounds, in seconds, of the request duration histogram. Default 0.5 ms to 60 s. */
  durationBucketsSeconds?: readonly number[];
  /** Process and Node runtime metrics, build info and uptime (runtime-metrics.ts). Default true. */
  runtime?: boolean;
}

/** What /stats returns. */
export interface ProxyStats {
  upstream: Record<string, ClusterStats>;
  downstream: Record<string, ListenerStats>;
}


/**
 * @example
 *   const metrics = new ProxyMetrics();
 *   const ep = metrics.cluster('web').endpoint('10.0.0.1:8080'); // keep it with the endpoint
 *   ep.connectionOpened(); ep.requestSent(false);
 *   admin.get('/metrics', async (res) => res.type(metrics.contentType).send(await metrics.text()));
 *   admin.get('/stats', (res) => res.json(metrics.json()));
 */
export class ProxyMetrics {
  /** This instance's own registry (never the global one). */
  readonly registry = new Registry();
  readonly prefix: string;
  readonly #clusters = new Map<string, ClusterMetrics>();
  readonly #listeners = new Map<string, ListenerMetrics>();
  readonly #durationBuckets: readonly number[];
  /** Each cluster's membership and discovery figures, read at scrape time (the proxy sets it). */
  fleet: () => readonly FleetFigures[] = () => [];

  constructor(options?: ProxyMetricsOptions) {
    const o = rejectUnknown('ProxyMetrics', options, ['prefix', 'durationBucketsSeconds', 'runtime']);
    const prefix = o['prefix'] ?? 'lifeline_';
    if (typeof prefix !== 'string' || !/^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/.test(prefix)) {
      throw new InvalidOptionError('ProxyMetrics.prefix', `ProxyMetrics.prefix must match [a-zA-Z_:][a-zA-Z0-9_:]*; got ${JSON.stringify(prefix)}`);
    }
    this.prefix = prefix;
    const buckets = o['durationBucketsSeconds'] ?? DURATION_BUCKETS_SECONDS;
    if (!Array.isArray(buckets) || buckets.length === 0 || !buckets.every((b, i) => typeof b === 'number' && b > 0 && Number.isFinite(b) && (i === 0 || b > (buckets[i - 1] as number)))) {
      throw new InvalidOptionError('ProxyMetrics.durationBucketsSeconds', 'ProxyMetrics.durationBucketsSeconds must be a non-empty ascending array of positive numbers');
    }
    this.#durationBuckets = buckets as number[];
    this.#register();
    registerFleetMetrics(this.registry, prefix, () => this.fleet());
    if (o['runtime'] !== false) registerRuntimeMetrics(this.registry, prefix);
  }

  /** Content-Type of `text()`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** A cluster's metrics, created on first use. */
  cluster(name: string): ClusterMetrics {
    let m = this.#clusters.get(name);
    if (m === undefined) {
      m = new ClusterMetrics(name);
      this.#clusters.set(name, m);
    }
    return m;
  }

  /** Forget a cluster and all its endpoints' series. */
  removeCluster(name: string): boolean {
    return this.#clusters.delete(name);
  }

  /** A listener's metrics, created on first use. */
  listener(name: string): ListenerMetrics {
    let m = this.#listeners.get(name);
    if (m === undefined) {
      m = new ListenerMetrics(name, this.#durationBuckets);
      this.#listeners.set(name, m);
    }
    return m;
  }

  removeListener(name: string): boolean {
    return this.#listeners.delete(name);
  }

  /** Prometheus text exposition, for /metrics. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Every number as a plain object, for /stats. */
  json(): ProxyStats {
    const upstream: Record<string, ClusterStats> = {};
    for (const [name, c] of this.#clusters) upstream[name] = c.stats();
    const downstream: Record<string, ListenerStats> = {};
    for (const [name, l] of this.#listeners) downstream[name] = l.stats();
    return { upstream, downstream };
  }

  *#endpoints(): Generator<EndpointMetrics> {
    for (const c of this.#clusters.values()) yield* c.endpoints();
  }

  *#endpointSamples(field: (s: EndpointStats) => number): Generator<Sample> {
    for (const e of this.#endpoints()) yield { labels: e.labels, value: field(e.stats()) };
  }

  *#endpointClosed(): Generator<Sample> {
    for (const e of this.#endpoints()) {
      const closed = e.stats().cxClosed;
      for (const reason of UPSTREAM_CLOSE_REASONS) yield { labels: { ...e.labels, reason }, value: closed[reason] };
    }
  }

  *#endpointHistograms(): Generator<HistogramSample> {
    for (const e of this.#endpoints()) yield { labels: e.labels, histogram: e.histogram };
  }

  *#clusterSamples(field: (s: ClusterStats) => number): Generator<Sample> {
    for (const c of this.#clusters.values()) yield { labels: c.labels, value: field(c.stats()) };
  }

  *#listenerSamples(read: (l: ListenerMetrics, s: ListenerStats) => Iterable<Sample>): Generator<Sample> {
    for (const l of this.#listeners.values()) yield* read(l, l.stats());
  }

  *#listenerHistograms(): Generator<HistogramSample> {
    for (const l of this.#listeners.values()) yield { labels: l.labels, histogram: l.histogram };
  }

  #register(): void {
    const registry = this.registry;
    const p = this.prefix;
    const endpointLabels = ['cluster', 'endpoint'];
    const perEndpoint = (name: string, help: string, field: (s: EndpointStats) => number, gauge = false): void => {
      const def = { name: p + name, help, labelNames: endpointLabels, registry, read: () => this.#endpointSamples(field) };
      if (gauge) collectedGauge(def);
      else collectedCounter(def);
    };
    perEndpoint('upstream_cx_total', 'Upstream connections opened.', (s) => s.cxOpened);
    perEndpoint('upstream_cx_connect_fail_total', 'Upstream connection attempts that failed.', (s) => s.cxConnectFail);
    perEndpoint('upstream_cx_destroy_remote_with_active_rq_total', 'Upstream connections closed or reset by the backend with a request on them.', (s) => s.cxDestroyRemoteWithActiveRq);
    perEndpoint('upstream_rq_total', 'Requests sent upstream.', (s) => s.rqTotal);
    perEndpoint('upstream_rq_reused_total', 'Requests sent on a reused upstream connection.', (s) => s.rqReused);
    perEndpoint('upstream_ejections_total', 'Times the endpoint was ejected by outlier detection.', (s) => s.ejections);
    perEndpoint('upstream_h2_pings_total', 'HTTP/2 upstreams: PINGs sent to the endpoint (keep-alive, and before reusing a silent connection).', (s) => s.h2PingsSent);
    perEndpoint('upstream_h2_ping_timeouts_total', 'HTTP/2 upstreams: PINGs unanswered within pingTimeoutMs (the connection was closed).', (s) => s.h2PingTimeouts);
    perEndpoint('upstream_h2_goaway_received_total', 'HTTP/2 upstreams: GOAWAY frames received from the endpoint.', (s) => s.h2GoawayReceived);
    perEndpoint('upstream_h2_streams_refused_total', 'HTTP/2 upstreams: streams the endpoint refused or did not process (GOAWAY, REFUSED_STREAM), sent again.', (s) => s.h2StreamsRefused);
    perEndpoint('upstream_cx_idle', 'Idle pooled upstream connections.', (s) => s.cxIdle, true);
    perEndpoint('upstream_cx_active', 'Upstream connections carrying a request.', (s) => s.cxActive, true);
    perEndpoint('upstream_endpoint_available', '1 if the endpoint is in rotation (healthy and not ejected).', (s) => s.available, true);
    collectedCounter({
      name: `${p}upstream_cx_closed_total`,
      help: 'Upstream connections closed, by reason.',
      labelNames: ['cluster', 'endpoint', 'reason'],
      registry,
      read: () => this.#endpointClosed(),
    });
    new CollectedHistogram(
      {
        name: `${p}upstream_rq_per_cx`,
        help: 'Requests served per upstream connection, recorded at close.',
        labelNames: endpointLabels,
        registry,
        read: () => this.#endpointHistograms(),
      },
      REQUESTS_PER_CONNECTION_BUCKETS,
    );

    const perCluster = (name: string, help: string, field: (s: ClusterStats) => number): void => {
      collectedCounter({ name: p + name, help, labelNames: ['cluster'], registry, read: () => this.#clusterSamples(field) });
    };
    perCluster('upstream_rq_retry_total', 'Requests retried.', (s) => s.rqRetry);
    perCluster('upstream_rq_retry_success_total', 'Retried requests that got a response.', (s) => s.rqRetrySuccess);
    perCluster('upstream_rq_no_healthy_total', 'Requests answered 503 because no endpoint was available.', (s) => s.rqNoHealthy);
    perCluster('upstream_ejections_overflow_total', 'Ejections refused because maxEjectionPercent was reached.', (s) => s.ejectionsOverflow);

    const perListener = (name: string, help: string, labelNames: string[], gauge: boolean, read: (l: ListenerMetrics, s: ListenerStats) => Iterable<Sample>): void => {
      const def = { name: p + name, help, labelNames, registry, read: () => this.#listenerSamples(read) };
      if (gauge) collectedGauge(def);
      else collectedCounter(def);
    };
    perListener('downstream_cx_total', 'Downstream connections accepted.', ['listener'], false, (l, s) => [{ labels: l.labels, value: s.cxTotal }]);
    perListener('downstream_cx_active', 'Downstream connections open.', ['listener'], true, (l, s) => [{ labels: l.labels, value: s.cxActive }]);
    perListener('downstream_cx_closed_total', 'Downstream connections closed, by reason.', ['listener', 'reason'], false, (l, s) =>
      DOWNSTREAM_CLOSE_REASONS.map((r) => ({ labels: { ...l.labels, reason: r }, value: s.cxClosed[r] })),
    );
    perListener('downstream_rq_total', 'Downstream responses, by status class.', ['listener', 'status_class'], false, (l, s) =>
      STATUS_CLASSES.map((c) => ({ labels: { ...l.labels, status_class: c }, value: s.rq[c] })),
    );
    perListener('downstream_rq_rejected_total', 'Requests the proxy refused itself with a 4xx, by error code.', ['listener', 'code'], false, (l) =>
      Array.from(l.rejectedCodes(), ([code, value]) => ({ labels: { ...l.labels, code }, value })),
    );
    new CollectedHistogram(
      {
        name: `${p}downstream_rq_duration_seconds`,
        help: 'Downstream request duration, first byte in to last byte out.',
        labelNames: ['listener'],
        registry,
        read: () => this.#listenerHistograms(),
      },
      this.#durationBuckets,
    );
  }
}
