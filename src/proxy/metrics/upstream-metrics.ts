/**
 * Per-cluster and per-endpoint upstream counters (Envoy's `upstream_cx_*` / `upstream_rq_*`).
 *
 * The engine asks `ProxyMetrics.cluster(name).endpoint(key)` once, when the endpoint is created,
 * keeps the returned object next to its pool, and calls its methods on the hot path: each is a
 * field increment, no label lookup, no allocation. Values reach Prometheus at scrape time.
 */
import { BucketHistogram } from './bucket-histogram.js';
import { CLOSE_REASON_NAMES } from '../../core/close-reason.js';
import type { CloseReason } from '../../core/close-reason.js';
import type { HistogramSnapshot } from './bucket-histogram.js';

/** Why an upstream connection ended (lifeline's one vocabulary). Each closed connection is counted under exactly one. */
export type UpstreamCloseReason = CloseReason;
export const UPSTREAM_CLOSE_REASONS: readonly UpstreamCloseReason[] = CLOSE_REASON_NAMES;

/** Upper bounds of the requests-per-connection histogram (powers of two, as the server policy's). */
export const REQUESTS_PER_CONNECTION_BUCKETS: readonly number[] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384];

/** A plain copy of one endpoint's numbers, for /stats. */
export interface EndpointStats {
  /** Connections opened (connect succeeded). */
  cxOpened: number;
  /** Connection attempts that failed (refused, timed out, TLS failure). */
  cxConnectFail: number;
  /** Connections closed, by reason. */
  cxClosed: Record<UpstreamCloseReason, number>;
  /** Connections the backend closed or reset while a request was on them (Envoy's `upstream_cx_destroy_remote_with_active_rq`). */
  cxDestroyRemoteWithActiveRq: number;
  /** Requests sent to this endpoint. */
  rqTotal: number;
  /** Requests sent on a reused (kept-alive) connection. */
  rqReused: number;
  /** Requests served per connection, recorded when a connection closes. */
  rqPerCx: HistogramSnapshot;
  /** Times the outlier detector ejected this endpoint. */
  ejections: number;
  /** HTTP/2 upstreams: PINGs sent (keep-alive, and before reusing a silent connection). */
  h2PingsSent: number;
  /** HTTP/2 upstreams: PINGs unanswered within pingTimeoutMs (the connection was closed). */
  h2PingTimeouts: number;
  /** HTTP/2 upstreams: GOAWAY frames received from the backend. */
  h2GoawayReceived: number;
  /** HTTP/2 upstreams: streams the backend refused or did not process (GOAWAY, REFUSED_STREAM), sent again. */
  h2StreamsRefused: number;
  /** Gauge: idle pooled connections. */
  cxIdle: number;
  /** Gauge: connections carrying a request. */
  cxActive: number;
  /** Gauge: 1 if the endpoint is in rotation (healthy and not ejected), else 0. */
  available: number;
}

/**
 * @example
 *   const m = metrics.cluster('web').endpoint('10.0.0.1:8080'); // once, kept with the pool
 *   m.connectionOpened(); m.requestSent(true); m.connectionClosed('idle_timeout', 37);
 */
export class EndpointMetrics {
  readonly cluster: string;
  readonly key: string;
  /** Label set of this endpoint's series, built once. */
  readonly labels: Readonly<Record<'cluster' | 'endpoint', string>>;
  #cxOpened = 0;
  #cxConnectFail = 0;
  readonly #cxClosed: Record<UpstreamCloseReason, number>;
  #cxDestroyRemoteWithActiveRq = 0;
  #rqTotal = 0;
  #rqReused = 0;
  readonly #rqPerCx = new BucketHistogram(REQUESTS_PER_CONNECTION_BUCKETS);
  #ejections = 0;
  #h2PingsSent = 0;
  #h2PingTimeouts = 0;
  #h2GoawayReceived = 0;
  #h2StreamsRefused = 0;
  #cxIdle = 0;
  #cxActive = 0;
  #available = 1;

  constructor(cluster: string, key: string) {
    this.cluster = cluster;
    this.key = key;
    this.labels = { cluster, endpoint: key };
    const closed = {} as Record<UpstreamCloseReason, number>;
    for (const r of UPSTREAM_CLOSE_REASONS) closed[r] = 0;
    this.#cxClosed = closed;
  }

  /** A connection to this endpoint was established. */
  connectionOpened(): void {
    this.#cxOpened += 1;
  }

  /** A connection attempt failed. */
  connectFailed(): void {
    this.#cxConnectFail += 1;
  }

  /** A request was sent; `reused` if on a connection that had served a request before. */
  requestSent(reused: boolean): void {
    this.#rqTotal += 1;
    if (reused) this.#rqReused += 1;
  }

  /** A connection ended, after serving `requests` requests. */
  connectionClosed(reason: UpstreamCloseReason, requests: number): void {
    this.#cxClosed[reason] += 1;
    this.#rqPerCx.observe(requests);
  }

  /** The backend closed or reset a connection while a request was on it (counted in addition to the close). */
  destroyedByRemoteWithActiveRequest(): void {
    this.#cxDestroyRemoteWithActiveRq += 1;
  }

  /** The outlier detector ejected this endpoint. */
  ejected(): void {
    this.#ejections += 1;
  }

  pingSent(): void {
    this.#h2PingsSent += 1;
  }

  pingTimedOut(): void {
    this.#h2PingTimeouts += 1;
  }

  goawayReceived(): void {
    this.#h2GoawayReceived += 1;
  }

  streamRefused(): void {
    this.#h2StreamsRefused += 1;
  }

  /** Pool sizes now (gauges). */
  setPool(idle: number, active: number): void {
    this.#cxIdle = idle;
    this.#cxActive = active;
  }

  /** In rotation or not (gauge). */
  setAvailable(available: boolean): void {
    this.#available = available ? 1 : 0;
  }

  /** @internal read by the scrape. */
  get histogram(): BucketHistogram {
    return this.#rqPerCx;
  }

  stats(): EndpointStats {
    return {
      cxOpened: this.#cxOpened,
      cxConnectFail: this.#cxConnectFail,
      cxClosed: { ...this.#cxClosed },
      cxDestroyRemoteWithActiveRq: this.#cxDestroyRemoteWithActiveRq,
      rqTotal: this.#rqTotal,
      rqReused: this.#rqReused,
      rqPerCx: this.#rqPerCx.snapshot(),
      ejections: this.#ejections,
      h2PingsSent: this.#h2PingsSent,
      h2PingTimeouts: this.#h2PingTimeouts,
      h2GoawayReceived: this.#h2GoawayReceived,
      h2StreamsRefused: this.#h2StreamsRefused,
      cxIdle: this.#cxIdle,
      cxActive: this.#cxActive,
      available: this.#available,
    };
  }
}

/** A plain copy of one cluster's numbers, for /stats. */
export interface ClusterStats {
  /** Requests re-sent after a failure (on a fresh connection or another endpoint). */
  rqRetry: number;
  /** Retried requests that then got a response. */
  rqRetrySuccess: number;
  /** Retries by their cause (`retries.retryOn`'s names: connect-failure, reset, response-timeout, 502, 503, 504). */
  rqRetryByCause: Record<string, number>;
  /** Requests answered 503 because no endpoint was available. */
  rqNoHealthy: number;
  /** Ejections refused because maxEjectionPercent was reached (Envoy's `ejections_overflow`). */
  ejectionsOverflow: number;
  endpoints: Record<string, EndpointStats>;
}

/**
 * @example
 *   const web = metrics.cluster('web');
 *   web.retry(); ... web.retrySucceeded();
 *   web.removeEndpoint('10.0.0.1:8080'); // its series disappear from the next scrape
 */
export class ClusterMetrics {
  readonly name: string;
  readonly labels: Readonly<Record<'cluster', string>>;
  readonly #endpoints = new Map<string, EndpointMetrics>();
  #rqRetry = 0;
  #rqRetrySuccess = 0;
  readonly #rqRetryByCause = new Map<string, number>();
  #rqNoHealthy = 0;
  #ejectionsOverflow = 0;

  constructor(name: string) {
    this.name = name;
    this.labels = { cluster: name };
  }

  /** The endpoint's metrics, created on first use. Call once per endpoint and keep the result. */
  endpoint(key: string): EndpointMetrics {
    let m = this.#endpoints.get(key);
    if (m === undefined) {
      m = new EndpointMetrics(this.name, key);
      this.#endpoints.set(key, m);
    }
    return m;
  }

  /** Forget an endpoint: its series are gone from the next scrape. Returns whether it existed. */
  removeEndpoint(key: string): boolean {
    return this.#endpoints.delete(key);
  }

  endpoints(): IterableIterator<EndpointMetrics> {
    return this.#endpoints.values();
  }

  /** A request is sent again; `cause` is what the first try met (`retries.retryOn`'s names). */
  retry(cause = 'reset'): void {
    this.#rqRetry += 1;
    this.#rqRetryByCause.set(cause, (this.#rqRetryByCause.get(cause) ?? 0) + 1);
  }

  retrySucceeded(): void {
    this.#rqRetrySuccess += 1;
  }

  noHealthyUpstream(): void {
    this.#rqNoHealthy += 1;
  }

  ejectionOverflow(): void {
    this.#ejectionsOverflow += 1;
  }

  stats(): ClusterStats {
    const endpoints: Record<string, EndpointStats> = {};
    for (const [key, m] of this.#endpoints) endpoints[key] = m.stats();
    return { rqRetry: this.#rqRetry, rqRetrySuccess: this.#rqRetrySuccess, rqRetryByCause: Object.fromEntries(this.#rqRetryByCause), rqNoHealthy: this.#rqNoHealthy, ejectionsOverflow: this.#ejectionsOverflow, endpoints };
  }
}
