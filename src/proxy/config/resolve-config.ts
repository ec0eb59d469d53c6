/**
 * From a configuration of the right shape to the `ProxyConfig` the engine uses: defaults filled
 * in, addresses split, listener client overrides merged, `workers: auto` resolved, and file
 * paths made absolute against the configuration file's directory (as nginx resolves relative
 * paths against its prefix, here the file's own place, so a config and its certificates move
 * together). Runs only on a configuration with no problems, so nothing here can fail.
 */
import { availableParallelism } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseAddress } from './address.js';
import {
  ADMIN_ADDRESS,
  CLIENT_DEFAULTS,
  DISCOVERY_DEFAULTS,
  HTTP2_CLIENT_DEFAULTS,
  DRAIN_DEFAULTS,
  HEALTH_CHECK_DEFAULTS,
  OUTLIER_DEFAULTS,
  POOL_DEFAULTS,
  HTTP2_UPSTREAM_DEFAULTS,
  RETRY_MAX_ATTEMPTS,
  RETRY_ON_DEFAULT,
  SESSION_TICKET_ROTATE_MS,
  TCP_KEEPALIVE_DEFAULTS,
  TIMEOUT_DEFAULTS,
  UPSTREAM_TLS_DEFAULTS,
  WEBSOCKET_DEFAULTS,
} from './defaults.js';
import { parseHashOn } from '../balancer/hash-on.js';
import { parseStatusRange } from './schema.js';
import type { RawConfig } from './schema.js';
import type { AccessLogConfig, AddressConfig, ClientConfig, ClusterConfig, ListenerConfig, ProxyConfig, TcpKeepAliveConfig } from './types.js';

type RawClient = NonNullable<RawConfig['client']>;
type RawTcp = RawClient['tcpKeepAlive'];
type RawCluster = RawConfig['clusters'][string];

/** Drop keys whose value is undefined, so a spread never overwrites a default with undefined. */
function defined<T extends object>(o: T | null | undefined): Partial<{ [K in keyof T]: Exclude<T[K], undefined> }> {
  const out: Record<string, unknown> = {};
  if (o) for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as Partial<{ [K in keyof T]: Exclude<T[K], undefined> }>;
}

function addr(text: string, minPort: 0 | 1): AddressConfig {
  const p = parseAddress(text, minPort);
  if (!p.ok) throw new Error(`unreachable: ${text} was validated`);
  return p.value;
}

function tcp(raw: RawTcp): TcpKeepAliveConfig | null {
  if (raw === undefined || raw === null) return null;
  return { ...TCP_KEEPALIVE_DEFAULTS, ...defined(raw) };
}

function client(base: ClientConfig, raw: RawClient | undefined, where: string, warnings: string[]): ClientConfig {
  const { tcpKeepAlive, keepAliveHintMarginMs, http2, ...rest } = raw ?? {};
  const merged: ClientConfig = { ...base, ...defined(rest), tcpKeepAlive: tcpKeepAlive === undefined ? base.tcpKeepAlive : tcp(tcpKeepAlive), http2: { ...base.http2, ...defined(http2) } };
  // Unless set, an HTTP/2 session's idle and age limits follow the connection's.
  if (http2?.idleTimeoutMs === undefined && rest.idleTimeoutMs !== undefined) merged.http2.idleTimeoutMs = merged.idleTimeoutMs;
  if (http2?.maxConnectionAgeMs === undefined && rest.maxConnectionAgeMs !== undefined) merged.http2.maxConnectionAgeMs = merged.maxConnectionAgeMs;
  if (keepAliveHintMarginMs !== undefined) {
    warnings.push(`${where}.keepAliveHintMarginMs is deprecated: it is now ${where}.hintMarginMs (the name lifeline/server and the agent use); the old name goes in the next release`);
    if (rest.hintMarginMs === undefined) merged.hintMarginMs = keepAliveHintMarginMs;
  }
  return merged;
}

/** Build the engine's configuration. `file` is the configuration file's path. */
export function resolveConfig(raw: RawConfig, file: string): ProxyConfig {
  const dir = dirname(resolve(file));
  const path = (p: string): string => (isAbsolute(p) ? p : resolve(dir, p));
  const warnings: string[] = [];
  const baseHttp2 = { ...HTTP2_CLIENT_DEFAULTS, idleTimeoutMs: CLIENT_DEFAULTS.idleTimeoutMs, maxConnectionAgeMs: CLIENT_DEFAULTS.maxConnectionAgeMs };
  const topClient = client({ ...CLIENT_DEFAULTS, tcpKeepAlive: null, http2: baseHttp2 }, raw.client, 'client', warnings);

  const listeners: ListenerConfig[] = raw.listeners.map((l) => ({
    name: l.name,
    ...addr(l.address, 0),
    protocol: l.protocol ?? 'http',
    tls:
      l.tls === undefined
        ? null
        : {
            certFile: path(l.tls.certFile),
            keyFile: path(l.tls.keyFile),
            caFile: l.tls.caFile === undefined ? null : path(l.tls.caFile),
            sessionTicketRotateMs: l.tls.sessionTicketRotateMs ?? SESSION_TICKET_ROTATE_MS,
          },
    routes: l.routes.map((r) => ({ host: r.host === undefined ? null : r.host.toLowerCase(), pathPrefix: r.pathPrefix ?? '/', cluster: r.cluster })),
    client: client(topClient, l.client, `listeners.${l.name}.client`, warnings),
    http2: l.http2 ?? true,
    http2PriorKnowledge: l.http2PriorKnowledge ?? true,
  }));

  const clusters: ClusterConfig[] = Object.entries(raw.clusters).map(([name, c]: [string, RawCluster]) => ({
    name,
    protocol: c.protocol ?? 'http1',
    http2: { ...HTTP2_UPSTREAM_DEFAULTS, ...defined(c.http2) },
    balancer: c.balancer ?? 'round-robin',
    hashOn: c.hashOn === undefined ? null : parseHashOn(c.hashOn),
    endpoints: (c.endpoints ?? []).map((e) => ({ ...addr(e.address, 1), weight: e.weight ?? 1 })),
    discovery:
      c.discovery === undefined
        ? null
        : {
            ...DISCOVERY_DEFAULTS,
            ...defined(c.discovery),
            type: c.discovery.type,
            name: c.discovery.name,
            port: c.discovery.port ?? null,
            resolver: c.discovery.resolver ?? null,
            refreshIntervalMs: c.discovery.refreshIntervalMs ?? null,
          },
    endpointsFile: c.endpointsFile === undefined ? null : path(c.endpointsFile),
    tls: {
      ...UPSTREAM_TLS_DEFAULTS,
      ...defined(c.tls),
      caFile: c.tls?.caFile === undefined ? null : path(c.tls.caFile),
    },
    pool: { ...POOL_DEFAULTS, ...defined(c.pool) },
    timeouts: { ...TIMEOUT_DEFAULTS, ...defined(c.timeouts) },
    tcpKeepAlive: tcp(c.tcpKeepAlive),
    retries: {
      maxAttempts: c.retries?.maxAttempts ?? RETRY_MAX_ATTEMPTS,
      retryOn: c.retries?.retryOn ?? [...RETRY_ON_DEFAULT],
      timeBudgetMs: c.retries?.timeBudgetMs ?? 0,
    },
    healthCheck:
      c.healthCheck === undefined || c.healthCheck === null
        ? null
        : {
            ...HEALTH_CHECK_DEFAULTS,
            ...defined(c.healthCheck),
            expectStatus: parseStatusRange(c.healthCheck.expectStatus) ?? HEALTH_CHECK_DEFAULTS.expectStatus,
          },
    outlierDetection: { ...OUTLIER_DEFAULTS, ...defined(c.outlierDetection) },
  }));

  const logTarget = (target: string): AccessLogConfig => (target === 'stdout' || target === 'stderr' || target === 'off' ? { kind: target } : { kind: 'file', path: path(target) });
  const accessLog = logTarget(raw.accessLog?.target ?? 'stdout');
  // Operator events go to stderr beside the CLI's own messages, apart from the access log.
  const eventLog = { target: logTarget(raw.eventLog?.target ?? 'stderr'), level: raw.eventLog?.level ?? 'info' };

  return {
    file: resolve(file),
    listeners,
    client: topClient,
    clusters,
    websocket: { ...WEBSOCKET_DEFAULTS, ...defined(raw.websocket) },
    admin: raw.admin === undefined || raw.admin === null ? null : { ...addr(raw.admin.address ?? ADMIN_ADDRESS, 0), token: raw.admin.token ?? null },
    accessLog,
    eventLog,
    drain: { ...DRAIN_DEFAULTS, ...defined(raw.drain) },
    workers: raw.workers === undefined ? 1 : raw.workers === 'auto' ? Math.min(64, availableParallelism()) : raw.workers,
    demo: raw.demo === undefined || raw.demo === null ? null : { upstreams: raw.demo.upstreams.map((u) => addr(u, 1)) },
    warnings,
  };
}
