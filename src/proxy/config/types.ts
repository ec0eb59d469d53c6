/**
 * The proxy's configuration after loading: every default filled in, every address split, every
 * relative file path made absolute, every cross-reference checked. The engine reads these types
 * and never tests for `undefined`; `null` appears only where "absent" is a meaningful setting
 * (no TLS, no health check, no admin listener) and is documented on the field.
 *
 * All durations are integer milliseconds and their names end in `Ms`.
 */

import type { HashOn } from '../balancer/hash-on.js';

/** A `host:port` pair as written (`address`) and split (`host` without brackets, `port`). */
export interface AddressConfig {
  /** As written in the file, e.g. `127.0.0.1:8080` or `[::1]:8080`. */
  address: string;
  /** Host without brackets: an IPv4 address, an IPv6 address or a DNS name. */
  host: string;
  /** 0 to 65535; 0 (listeners and admin only) means any free port. */
  port: number;
}

/** TCP keepalive probes on a socket (see `src/transport/tcp-keepalive.ts`). */
export interface TcpKeepAliveConfig {
  /** Silence before the first probe. */
  idleMs: number;
  /** Time between unanswered probes. */
  intervalMs: number;
  /** Unanswered probes that end the connection. */
  count: number;
  /** TCP_USER_TIMEOUT. `null` leaves it to the transport layer (set only to correct whole-second
   * rounding of idle and interval); 0 is the kernel default (off). */
  userTimeoutMs: number | null;
}

/** Client-side policy of a listener (the server keep-alive policy). */
export interface ClientConfig {
  /** Close a client connection idle this long. 0 turns keep-alive off. */
  idleTimeoutMs: number;
  /** The advertised `Keep-Alive: timeout=` is `idleTimeoutMs - hintMarginMs` (whole s), so a
   * client that trusts it closes first (the same option as lifeline/server's and the agent's). */
  hintMarginMs: number;
  /** Requests per connection; the last gets `Connection: close`. 0 = unlimited. */
  maxRequestsPerConnection: number;
  /** After this long the next response carries `Connection: close`. 0 = unlimited. */
  maxConnectionAgeMs: number;
  /** Open client connections at most; idle ones are evicted first. 0 = no cap. */
  maxConnections: number;
  /** At the cap with nothing idle: answer 503 (`reject`) or hold the newcomer (`pause`). */
  whenFull: 'reject' | 'pause';
  /** First byte of a request to the end of its headers; then 408. 0 = off. */
  headersTimeoutMs: number;
  /** First byte of a request to the end of its body; then 408. 0 = off. */
  requestTimeoutMs: number;
  /** Largest request head (request line and headers) in bytes; above it, 431. */
  maxHeaderBytes: number;
  /** Most header fields in a request; above it, 431. */
  maxHeaders: number;
  /** `null` = not set (the OS default: no probes). */
  tcpKeepAlive: TcpKeepAliveConfig | null;
  /** Keep-alive and limits of HTTP/2 client connections. */
  http2: Http2ClientConfig;
}

/** HTTP/2 client connections (sessions): see the HTTP/2 section of docs/config.md. */
export interface Http2ClientConfig {
  /** SETTINGS_MAX_CONCURRENT_STREAMS advertised to the client. */
  maxConcurrentStreams: number;
  /** PING a session after this long without a new stream or a PING from the client. 0 = off. */
  pingIntervalMs: number;
  /** Close the session when our PING is unanswered this long. */
  pingTimeoutMs: number;
  /** GOAWAY(NO_ERROR) a session with no open stream this long. 0 = never. */
  idleTimeoutMs: number;
  /** GOAWAY(NO_ERROR) a session this old (drawn from 90-100%), open streams finish. 0 = no limit. */
  maxConnectionAgeMs: number;
  /** A client PING sooner than this after its previous one, with no stream open, is a strike. 0 = off. */
  minPingIntervalWithoutDataMs: number;
  /** Strikes tolerated before GOAWAY ENHANCE_YOUR_CALM "too_many_pings". */
  maxPingStrikes: number;
  /** Client PINGs in a minute, streams or not, before GOAWAY ENHANCE_YOUR_CALM. 0 = no limit. */
  maxPingsPerMinute: number;
  /** Client SETTINGS frames in a minute before GOAWAY ENHANCE_YOUR_CALM. 0 = no limit. */
  maxSettingsPerMinute: number;
  /** Rapid Reset: after this many streams, more than half reset by the client within 1 s of
   * opening ends the session with GOAWAY ENHANCE_YOUR_CALM. 0 = off. */
  prematureResetMinStreams: number;
}

/** Server certificate of an `https` listener. Paths are absolute. */
export interface ListenerTlsConfig {
  certFile: string;
  keyFile: string;
  /** CA bundle to request and verify client certificates; `null` = no client certificates. */
  caFile: string | null;
  /** Rotate the TLS session ticket keys this often. 0 = never rotate. */
  sessionTicketRotateMs: number;
}

/** One route: first match (in file order) wins. */
export interface RouteConfig {
  /** Lower-cased host to match (exact, or `*.suffix` for any subdomain); `null` = any host. */
  host: string | null;
  /** Path prefix to match (a plain string prefix); `/` matches every path. */
  pathPrefix: string;
  /** Name of the target cluster; always present in `ProxyConfig.clusters` (see `getCluster`). */
  cluster: string;
}

export interface ListenerConfig extends AddressConfig {
  name: string;
  protocol: 'http' | 'https';
  /** Non-null exactly when `protocol` is `https`. */
  tls: ListenerTlsConfig | null;
  routes: RouteConfig[];
  /** The top-level `client` block with this listener's `client` overrides applied. */
  client: ClientConfig;
  /** `https`: offer `h2` by ALPN beside `http/1.1`. */
  http2: boolean;
  /** `http`: accept HTTP/2 with prior knowledge (detected by the connection preface). */
  http2PriorKnowledge: boolean;
}

export interface EndpointConfig extends AddressConfig {
  /** Relative share of traffic, 1 to 1000. */
  weight: number;
}

export type BalancerName = 'round-robin' | 'least-connections' | 'p2c-ewma' | 'ring-hash' | 'maglev';

/** A cluster's endpoints from DNS (see `DnsDiscovery`, whose options these are). */
export interface DiscoveryConfig {
  /** `dns`: A/AAAA records of `name`, each with `port`; `srv`: SRV records (targets, ports, weights). */
  type: 'dns' | 'srv';
  name: string;
  /** The endpoints' port with `dns`; `null` with `srv` (the records carry it). */
  port: number | null;
  /** DNS servers as `ip:port`; `null` = the system's resolver. */
  resolver: string[] | null;
  /** Re-resolve at this fixed interval; `null` = on the answer's TTL within min/max. */
  refreshIntervalMs: number | null;
  /** Shortest interval between resolutions (also the retry delay after a failure). */
  minRefreshMs: number;
  /** Longest interval between resolutions, whatever the TTL. */
  maxRefreshMs: number;
  /** Timeout of one DNS query try. */
  queryTimeoutMs: number;
  /** Ask for AAAA records too (nginx's `ipv6=`). */
  ipv6: boolean;
}

export interface UpstreamTlsConfig {
  enabled: boolean;
  /** SNI and certificate name; `null` = the endpoint's host when it is a DNS name, none for IPs. */
  servername: string | null;
  /** CA bundle to verify the backend (absolute path); `null` = Node's built-in roots. */
  caFile: string | null;
  rejectUnauthorized: boolean;
  /** TLS sessions cached for resumption, per cluster. 0 = no resumption. */
  sessionCacheSize: number;
}

export interface PoolConfig {
  /** Idle connections kept per endpoint (LRU evicted beyond it). 0 = no reuse. */
  maxIdlePerEndpoint: number;
  /** Upper bound on how long a connection idles in the pool. */
  idleTimeoutMs: number;
  /** Subtracted from the backend's idle timeout (its `Keep-Alive: timeout=` hint, or
   * `defaultBackendIdleMs`): the pool idle timeout is `min(idleTimeoutMs, backendIdle - hintMarginMs)`. */
  hintMarginMs: number;
  /** The backend idle timeout assumed when a response carries no `Keep-Alive: timeout=` hint. */
  defaultBackendIdleMs: number;
  /** Open connections per endpoint at most; further requests wait. 0 = unlimited. */
  maxConnectionsPerEndpoint: number;
  /** Requests per upstream connection before it is closed. 0 = unlimited. */
  maxRequestsPerConnection: number;
}

export interface UpstreamTimeoutsConfig {
  /** TCP (and TLS) connect. */
  connectTimeoutMs: number;
  /** Request fully sent to the first byte of the response head. 0 = off. */
  responseHeadersTimeoutMs: number;
  /** No bytes either way on an active request for this long ends it. 0 = off. */
  idleStreamTimeoutMs: number;
}

export interface HealthCheckConfig {
  path: string;
  intervalMs: number;
  timeoutMs: number;
  /** Healthy statuses, inclusive range (`200` is `{ min: 200, max: 200 }`). */
  expectStatus: { min: number; max: number };
  /** Consecutive passes that bring an endpoint back. */
  rise: number;
  /** Consecutive failures that take an endpoint out. */
  fall: number;
}

export interface OutlierDetectionConfig {
  /** Consecutive 5xx responses that eject an endpoint. 0 = off. */
  consecutive5xx: number;
  /** Consecutive connect failures that eject an endpoint. 0 = off. */
  consecutiveConnectFailures: number;
  /** First ejection length; the n-th ejection in a row lasts n times this. */
  baseEjectionMs: number;
  /** Longest ejection. */
  maxEjectionMs: number;
  /** Share of a cluster's endpoints that may be ejected at once, 0 to 100 (at least one may be). */
  maxEjectionPercent: number;
}

/**
 * When a request may be tried again on another endpoint (before any response byte reached the
 * client): `connect-failure` and `reset` (the connection failed or closed before a response) for
 * any request that can be replayed; `response-timeout` and the statuses only for idempotent ones.
 */
export type RetryCondition = 'connect-failure' | 'reset' | 'response-timeout' | '502' | '503' | '504';

/** HTTP/2 to a cluster's backends (`protocol: http2`): see "HTTP/2 upstream" in docs/config.md. */
export interface Http2UpstreamConfig {
  /** Streams opened at once on one connection; 0 = as many as the backend's
   * SETTINGS_MAX_CONCURRENT_STREAMS allows. Beyond it, another connection is opened. */
  maxConcurrentStreams: number;
  /** PING a connection after this long without a frame from the backend. 0 = off. */
  pingIntervalMs: number;
  /** Close the connection (its streams fail over where safe) when a PING is unanswered this long. */
  pingTimeoutMs: number;
  /** PING (and wait for the answer) before a stream goes on a connection silent this long. 0 = off. */
  pingBeforeReuseMs: number;
  /** No new stream on a connection this old (drawn from 90-100 % of it); its streams finish. 0 = no limit. */
  maxConnectionAgeMs: number;
}

export interface ClusterConfig {
  name: string;
  /** What the proxy speaks to the backends: HTTP/1.1, or HTTP/2 (by ALPN over TLS, h2c in clear). */
  protocol: 'http1' | 'http2';
  http2: Http2UpstreamConfig;
  balancer: BalancerName;
  /** What `ring-hash` and `maglev` hash; non-null exactly when `balancer` is one of them. */
  hashOn: HashOn | null;
  /** The static endpoints; empty when `discovery` or `endpointsFile` supplies them (exactly one
   * of the three is set). */
  endpoints: EndpointConfig[];
  /** DNS discovery; `null` = not used. */
  discovery: DiscoveryConfig | null;
  /** Absolute path of a watched endpoints file (see `EndpointsFile`); `null` = not used. */
  endpointsFile: string | null;
  tls: UpstreamTlsConfig;
  pool: PoolConfig;
  timeouts: UpstreamTimeoutsConfig;
  /** `null` = not set (the OS default: no probes). */
  tcpKeepAlive: TcpKeepAliveConfig | null;
  retries: {
    /** Attempts in all, the first included (so at most `maxAttempts - 1` retries, whatever the
     * cause). A retry goes to another endpoint when one is available, on a new connection. */
    maxAttempts: number;
    /** What may be retried (nginx's `proxy_next_upstream`): see RetryCondition. Connect failures
     * and resets are retried whatever this says, when the request can be replayed. */
    retryOn: RetryCondition[];
    /** No retry starts later than this after the request began, and a retry's response timeout
     * is cut to what is left, so retries cannot multiply the client's wait. 0 = no budget. */
    timeBudgetMs: number;
  };
  /** `null` = no active health checks (passive outlier detection still applies). */
  healthCheck: HealthCheckConfig | null;
  outlierDetection: OutlierDetectionConfig;
}

export interface WebSocketConfig {
  /** No frames either way for this long closes the tunnel. 0 = off. */
  idleTimeoutMs: number;
  /** Ping both sides this often. 0 = no pings. */
  pingIntervalMs: number;
  /** No pong this long after a ping closes the tunnel. */
  pingTimeoutMs: number;
}

export type AccessLogConfig =
  | { kind: 'stdout' | 'stderr' | 'off' }
  | {
      kind: 'file';
      /** Absolute path; lines are appended. */
      path: string;
    };

/** The operator's event log (health, ejection, reload, learned idle times). */
export interface EventLogConfig {
  target: AccessLogConfig;
  /** Lowest level written. */
  level: 'debug' | 'info' | 'warn' | 'error';
}

/** The admin listener. */
export interface AdminConfig extends AddressConfig {
  /** Required on `/stats`, `/metrics`, `/events` and the dashboard (`/healthz` and `/readyz` stay
   * open for probes) as `Authorization: Bearer`, or once as `?token=` which sets a cookie.
   * `null` = no token: allowed only when the admin listener binds a loopback address. */
  token: string | null;
}

export interface DrainConfig {
  /** Force-close what is still open this long after a drain starts. */
  timeoutMs: number;
  /** Spread idle-connection closes over this window (HAProxy's `close-spread-time`). */
  spreadMs: number;
}

/** The whole configuration, as the engine consumes it. */
export interface ProxyConfig {
  /** The file it was loaded from (absolute for `loadConfig`). */
  file: string;
  listeners: ListenerConfig[];
  /** The top-level client policy (each listener carries its merged copy). */
  client: ClientConfig;
  /** In file order; names are unique. */
  clusters: ClusterConfig[];
  websocket: WebSocketConfig;
  /** `null` = no admin listener. */
  admin: AdminConfig | null;
  accessLog: AccessLogConfig;
  eventLog: EventLogConfig;
  drain: DrainConfig;
  /** Worker processes, 1 to 64 (`"auto"` already resolved to the available parallelism). */
  workers: number;
  /** Deprecation notices about the file (old key names still accepted), for the CLI to print. */
  warnings: string[];
  /** In-process demo backends to start; `null` = none. */
  demo: { upstreams: AddressConfig[] } | null;
}
