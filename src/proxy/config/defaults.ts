/**
 * Every default of the proxy configuration, in one place. `docs/config.md` explains each one and
 * cites where it comes from; the short version is the rule of anchors.md: whoever closes an idle
 * connection must be the client side, so the proxy's client idle timeout (75 s, nginx) is above
 * the 60 s of a load balancer in front (AWS ALB), and its upstream pool timeout is below the
 * backend's (the backend's own `Keep-Alive: timeout=` hint minus a margin, or 5 s assumed
 * without a hint, Node's server default).
 */
import type { ClientConfig, HealthCheckConfig, Http2UpstreamConfig, OutlierDetectionConfig, PoolConfig, TcpKeepAliveConfig, UpstreamTimeoutsConfig, UpstreamTlsConfig } from './types.js';

export const CLIENT_DEFAULTS: Readonly<Omit<ClientConfig, 'tcpKeepAlive' | 'http2'>> = {
  idleTimeoutMs: 75_000,
  hintMarginMs: 1_000,
  maxRequestsPerConnection: 1_000,
  maxConnectionAgeMs: 3_600_000,
  maxConnections: 10_000,
  whenFull: 'reject',
  headersTimeoutMs: 60_000,
  requestTimeoutMs: 300_000,
  maxHeaderBytes: 16_384,
  maxHeaders: 100,
};

/**
 * HTTP/2 client sessions. idleTimeoutMs and maxConnectionAgeMs default to the client block's
 * (resolve-config.ts). 128 streams: nginx's http2_max_concurrent_streams. PING after 60 s of
 * silence with a 20 s reply timeout (gRPC's keepalive timeout): a dead client is found within
 * 80 s, about the idle timeout. 5 min and 2 strikes: gRPC servers' ping policy, so a gRPC client
 * with its defaults never draws too_many_pings. Floods: 60 PINGs a minute is lifeline/server's
 * limit (a browser or gRPC client sends a few); a client sends SETTINGS a few times per
 * connection, 100 a minute is a flood; 100 streams before judging resets is Envoy's
 * premature-reset check.
 */
export const HTTP2_CLIENT_DEFAULTS = {
  maxConcurrentStreams: 128,
  pingIntervalMs: 60_000,
  pingTimeoutMs: 20_000,
  minPingIntervalWithoutDataMs: 300_000,
  maxPingStrikes: 2,
  maxPingsPerMinute: 60,
  maxSettingsPerMinute: 100,
  prematureResetMinStreams: 100,
} as const;

/**
 * HTTP/2 to backends (`protocol: http2`). maxConcurrentStreams 0: the backend's own
 * SETTINGS_MAX_CONCURRENT_STREAMS (HAProxy's tune.h2.be.max-concurrent-streams default). PING
 * after 5 min of silence: gRPC servers count a PING sooner than that without data as a strike
 * (GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS), so a gRPC backend never answers our
 * keep-alive with too_many_pings; idle connections close at pool.idleTimeoutMs long before, so
 * this catches a silent connection with streams open. 20 s reply timeout: gRPC's keepalive
 * timeout. PING before a stream goes on a connection idle 30 s or more (Envoy's
 * connection_idle_interval): a hung backend or a NAT that forgot the flow is found for one round
 * trip, before a request is put on it; at most one strike on a gRPC server, cleared by the answer.
 * No age limit by default (Envoy's max_connection_duration is off upstream too): the backend
 * retires its connections with GOAWAY when it wants to, and that is never a failed request.
 */
export const HTTP2_UPSTREAM_DEFAULTS: Readonly<Http2UpstreamConfig> = {
  maxConcurrentStreams: 0,
  pingIntervalMs: 300_000,
  pingTimeoutMs: 20_000,
  pingBeforeReuseMs: 30_000,
  maxConnectionAgeMs: 0,
};

/** Applied to the keys left out of a `tcpKeepAlive` block that is present. */
export const TCP_KEEPALIVE_DEFAULTS: Readonly<TcpKeepAliveConfig> = {
  idleMs: 60_000,
  intervalMs: 10_000,
  count: 6,
  userTimeoutMs: null,
};

export const SESSION_TICKET_ROTATE_MS = 3_600_000;

export const UPSTREAM_TLS_DEFAULTS: Readonly<UpstreamTlsConfig> = {
  enabled: false,
  servername: null,
  caFile: null,
  rejectUnauthorized: true,
  sessionCacheSize: 100,
};

export const POOL_DEFAULTS: Readonly<PoolConfig> = {
  maxIdlePerEndpoint: 64,
  idleTimeoutMs: 60_000,
  hintMarginMs: 1_000,
  defaultBackendIdleMs: 5_000,
  maxConnectionsPerEndpoint: 0,
  maxRequestsPerConnection: 0,
};

export const TIMEOUT_DEFAULTS: Readonly<UpstreamTimeoutsConfig> = {
  connectTimeoutMs: 5_000,
  responseHeadersTimeoutMs: 60_000,
  idleStreamTimeoutMs: 300_000,
};

export const RETRY_MAX_ATTEMPTS = 2;
/** nginx's `proxy_next_upstream error timeout`: connect failures, resets, response timeouts. */
export const RETRY_ON_DEFAULT = ['connect-failure', 'reset', 'response-timeout'] as const;

export const HEALTH_CHECK_DEFAULTS: Readonly<HealthCheckConfig> = {
  path: '/healthz',
  intervalMs: 5_000,
  timeoutMs: 2_000,
  expectStatus: { min: 200, max: 200 },
  rise: 2,
  fall: 3,
};

export const OUTLIER_DEFAULTS: Readonly<OutlierDetectionConfig> = {
  consecutive5xx: 5,
  consecutiveConnectFailures: 5,
  baseEjectionMs: 30_000,
  maxEjectionMs: 300_000,
  maxEjectionPercent: 50,
};

/** DNS discovery: nginx re-resolves on the TTL; the bounds keep a TTL of 0 from flooding the
 * resolver and a TTL of a day from hiding a change for a day. */
export const DISCOVERY_DEFAULTS = { minRefreshMs: 1_000, maxRefreshMs: 300_000, queryTimeoutMs: 2_000, ipv6: true } as const;
export const WEBSOCKET_DEFAULTS = { idleTimeoutMs: 300_000, pingIntervalMs: 0, pingTimeoutMs: 10_000 } as const;
export const DRAIN_DEFAULTS = { timeoutMs: 30_000, spreadMs: 5_000 } as const;
/** Used by `admin: {}`; an absent or null `admin` means no admin listener. */
export const ADMIN_ADDRESS = '127.0.0.1:9901';
