/**
 * The shape of a configuration file, as a zod schema: types, ranges and enumerations of every
 * key, with strict objects so that an unknown key is an error.
 *
 * Every check carries the text of what it expects ("an integer of milliseconds >= 1") as its
 * error; `load-config.ts` turns zod's issues into `file:line:col: path: expected X, found Y`
 * lines. A check that knows more about why a value failed (an address without a port) adds it
 * after {@link WHY}. Defaults are not applied here: `resolve-config.ts` fills them in, so that
 * this schema says only what may be written. Rules between keys and across the file (unique
 * names, routes naming clusters, timeout relations) live in `check-relations.ts`.
 */
import { z } from 'zod';
import { MAX_WHEEL_TIMEOUT_MS } from '../../core/timer-wheel.js';
import { hashOnProblem } from '../balancer/hash-on.js';
import { resolverProblem } from '../discovery/resolver-address.js';
import { parseAddress } from './address.js';
import { knownKeysOf, WHY } from '../../core/config/analyze-document.js';

/** Separates the expected text from the reason in a custom issue's message (defined in core). */
export { WHY };
/** Longest duration: the timer wheel's longest timeout (2^30 - 1 ms, about 12.4 days). */
export const MAX_MS = MAX_WHEEL_TIMEOUT_MS;

const E = (expected: string): { error: () => string } => ({ error: () => expected });

function ms(min: 0 | 1, zeroMeans?: string): z.ZodNumber {
  const text = `an integer of milliseconds >= ${min}${zeroMeans === undefined ? '' : ` (0 = ${zeroMeans})`}`;
  return z
    .number(E(text))
    .int(E(text))
    .min(min, E(text))
    .max(MAX_MS, E(`an integer of milliseconds from ${min} to ${MAX_MS} (about 12.4 days)`));
}

function int(min: number, max: number, zeroMeans?: string): z.ZodNumber {
  const text = `an integer from ${min} to ${max}${zeroMeans === undefined ? '' : ` (0 = ${zeroMeans})`}`;
  return z.number(E(text)).int(E(text)).min(min, E(text)).max(max, E(text));
}

const bool = (): z.ZodBoolean => z.boolean(E('true or false'));

function nonEmpty(what: string): z.ZodString {
  return z.string(E(what)).min(1, E(what));
}

function address(minPort: 0 | 1): z.ZodType<string> {
  const text = `a "host:port" address with a port from ${minPort} to 65535 (IPv6 as [::1]:8080)`;
  return z.string(E(text)).superRefine((value, ctx) => {
    const parsed = parseAddress(value, minPort);
    if (!parsed.ok) ctx.addIssue({ code: 'custom', message: text + WHY + parsed.why });
  });
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T): z.ZodEnum<{ [K in T[number]]: K }> {
  return z.enum(values, E(`one of ${values.map((v) => `"${v}"`).join(', ')}`));
}

function obj<S extends z.ZodRawShape>(what: string, shape: S): z.ZodObject<S, z.core.$strict> {
  return z.strictObject(shape, E(`a mapping of ${what}`));
}

const tcpKeepAlive = obj('TCP keepalive settings (idleMs, intervalMs, count, userTimeoutMs)', {
  idleMs: ms(1).max(32_767_000, E('an integer of milliseconds from 1 to 32767000')).optional(),
  intervalMs: ms(1).max(32_767_000, E('an integer of milliseconds from 1 to 32767000')).optional(),
  count: int(1, 127).optional(),
  userTimeoutMs: ms(0, 'the kernel default').optional(),
}).nullable();

export const clientSchema = obj('client settings', {
  idleTimeoutMs: ms(0, 'keep-alive off').optional(),
  hintMarginMs: ms(0).optional(),
  /** Deprecated name of hintMarginMs (the agent's and the server policy's name), kept for one release. */
  keepAliveHintMarginMs: ms(0).optional(),
  maxRequestsPerConnection: int(0, 2 ** 31 - 1, 'unlimited').optional(),
  maxConnectionAgeMs: ms(0, 'unlimited').optional(),
  maxConnections: int(0, 4_000_000, 'no cap').optional(),
  whenFull: oneOf(['reject', 'pause']).optional(),
  headersTimeoutMs: ms(0, 'off').optional(),
  requestTimeoutMs: ms(0, 'off').optional(),
  maxHeaderBytes: int(1024, 1_048_576).optional(),
  maxHeaders: int(1, 10_000).optional(),
  tcpKeepAlive: tcpKeepAlive.optional(),
  http2: obj('HTTP/2 settings (maxConcurrentStreams, pingIntervalMs, pingTimeoutMs, idleTimeoutMs, maxConnectionAgeMs, minPingIntervalWithoutDataMs, maxPingStrikes, maxPingsPerMinute, maxSettingsPerMinute, prematureResetMinStreams)', {
    maxConcurrentStreams: int(1, 2 ** 31 - 1).optional(),
    pingIntervalMs: ms(0, 'off').optional(),
    pingTimeoutMs: ms(1).optional(),
    idleTimeoutMs: ms(0, 'never').optional(),
    maxConnectionAgeMs: ms(0, 'no limit').optional(),
    minPingIntervalWithoutDataMs: ms(0, 'off').optional(),
    maxPingStrikes: int(0, 1_000_000).optional(),
    maxPingsPerMinute: int(0, 1_000_000, 'no limit').optional(),
    maxSettingsPerMinute: int(0, 1_000_000, 'no limit').optional(),
    prematureResetMinStreams: int(0, 1_000_000, 'off').optional(),
  }).optional(),
});

const hostPattern = /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;
const routeHost = z.string(E('a host name, or "*." and a domain')).superRefine((value, ctx) => {
  const text = 'a host name without port, or "*." and a domain (e.g. "*.example.com")';
  if (value.includes(':')) ctx.addIssue({ code: 'custom', message: `${text}${WHY}a port (the request's port is ignored)` });
  else if (!hostPattern.test(value)) ctx.addIssue({ code: 'custom', message: `${text}${WHY}not a host name` });
});

const route = obj('route settings (host, pathPrefix, cluster)', {
  host: routeHost.optional(),
  pathPrefix: z
    .string(E('a path prefix starting with "/"'))
    .refine((v) => v.startsWith('/') && !/[\s?#]/.test(v), E('a path prefix starting with "/", without spaces, "?" or "#"'))
    .optional(),
  cluster: nonEmpty('the name of a cluster'),
});

const listenerTls = obj('TLS settings (certFile, keyFile, caFile, sessionTicketRotateMs)', {
  certFile: nonEmpty('the path of a PEM certificate file'),
  keyFile: nonEmpty('the path of a PEM private key file'),
  caFile: nonEmpty('the path of a PEM CA bundle').optional(),
  sessionTicketRotateMs: ms(0, 'never rotate').optional(),
});

const listener = obj('listener settings', {
  name: z
    .string(E('a name of letters, digits, "-", "_" or "."'))
    .regex(/^[A-Za-z0-9_.-]+$/, E('a name of letters, digits, "-", "_" or "."')),
  address: address(0),
  protocol: oneOf(['http', 'https']).optional(),
  tls: listenerTls.optional(),
  http2: z.boolean(E('true or false')).optional(),
  http2PriorKnowledge: z.boolean(E('true or false')).optional(),
  routes: z.array(route, E('a list of routes')).min(1, E('at least one route')),
  client: clientSchema.optional(),
});

const endpoint = obj('endpoint settings (address, weight)', {
  address: address(1),
  weight: int(1, 1000).optional(),
});

const statusRange = /^([1-5][0-9]{2})(?:-([1-5][0-9]{2}))?$/;
/** `200` or `"200-399"` as an inclusive range; undefined when malformed. */
export function parseStatusRange(v: unknown): { min: number; max: number } | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 100 && v <= 599 ? { min: v, max: v } : undefined;
  if (typeof v !== 'string') return undefined;
  const m = statusRange.exec(v);
  if (m === null) return undefined;
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : Number(m[2]);
  return min <= max ? { min, max } : undefined;
}

const healthCheck = obj('health check settings', {
  path: z.string(E('a path starting with "/"')).refine((v) => v.startsWith('/'), E('a path starting with "/"')).optional(),
  intervalMs: ms(1).optional(),
  timeoutMs: ms(1).optional(),
  expectStatus: z
    .custom<number | string>((v) => parseStatusRange(v) !== undefined, E('a status from 100 to 599, or a range such as "200-399"'))
    .optional(),
  rise: int(1, 100).optional(),
  fall: int(1, 100).optional(),
}).nullable();

const HASH_ON = '"header:NAME", "cookie:NAME" or "client-address"';
const hashOn = z.string(E(HASH_ON)).superRefine((value, ctx) => {
  const why = hashOnProblem(value);
  if (why !== undefined) ctx.addIssue({ code: 'custom', message: HASH_ON + WHY + why });
});

const RESOLVER = 'a DNS server as "ip" or "ip:port" ([v6]:port)';
const resolverEntry = z.string(E(RESOLVER)).superRefine((value, ctx) => {
  const why = resolverProblem(value);
  if (why !== undefined) ctx.addIssue({ code: 'custom', message: RESOLVER + WHY + why });
});

const discovery = obj('DNS discovery settings (type, name, port, resolver, refreshIntervalMs, minRefreshMs, maxRefreshMs, queryTimeoutMs, ipv6)', {
  type: oneOf(['dns', 'srv']),
  name: nonEmpty('a DNS name (type dns) or an SRV name such as "_http._tcp.api.internal" (type srv)'),
  port: int(1, 65535).optional(),
  resolver: z.array(resolverEntry, E('a list of DNS servers ("ip:port")')).min(1, E('at least one DNS server')).optional(),
  refreshIntervalMs: ms(1).optional(),
  minRefreshMs: ms(1).optional(),
  maxRefreshMs: ms(1).optional(),
  queryTimeoutMs: ms(1).max(60_000, E('an integer of milliseconds from 1 to 60000')).optional(),
  ipv6: bool().optional(),
});

const cluster = obj('cluster settings', {
  protocol: oneOf(['http1', 'http2']).optional(),
  http2: obj('upstream HTTP/2 settings (maxConcurrentStreams, pingIntervalMs, pingTimeoutMs, pingBeforeReuseMs, maxConnectionAgeMs)', {
    maxConcurrentStreams: int(0, 2 ** 31 - 1, "the backend's limit").optional(),
    pingIntervalMs: ms(0, 'no pings').optional(),
    pingTimeoutMs: ms(1).optional(),
    pingBeforeReuseMs: ms(0, 'off').optional(),
    maxConnectionAgeMs: ms(0, 'no limit').optional(),
  }).optional(),
  balancer: oneOf(['round-robin', 'least-connections', 'p2c-ewma', 'ring-hash', 'maglev']).optional(),
  hashOn: hashOn.optional(),
  endpoints: z.array(endpoint, E('a list of endpoints')).min(1, E('at least one endpoint')).optional(),
  discovery: discovery.optional(),
  endpointsFile: nonEmpty('the path of a JSON or YAML endpoints file').optional(),
  tls: obj('upstream TLS settings', {
    enabled: bool().optional(),
    servername: nonEmpty('a server name for SNI').optional(),
    caFile: nonEmpty('the path of a PEM CA bundle').optional(),
    rejectUnauthorized: bool().optional(),
    sessionCacheSize: int(0, 100_000, 'no session resumption').optional(),
  }).optional(),
  pool: obj('pool settings', {
    maxIdlePerEndpoint: int(0, 100_000, 'no reuse').optional(),
    idleTimeoutMs: ms(1).optional(),
    hintMarginMs: ms(0).optional(),
    defaultBackendIdleMs: ms(1).optional(),
    maxConnectionsPerEndpoint: int(0, 1_000_000, 'unlimited').optional(),
    maxRequestsPerConnection: int(0, 2 ** 31 - 1, 'unlimited').optional(),
  }).optional(),
  timeouts: obj('upstream timeouts', {
    connectTimeoutMs: ms(1).optional(),
    responseHeadersTimeoutMs: ms(0, 'off').optional(),
    idleStreamTimeoutMs: ms(0, 'off').optional(),
  }).optional(),
  tcpKeepAlive: tcpKeepAlive.optional(),
  retries: obj('retry settings', {
    maxAttempts: int(1, 10).optional(),
    retryOn: z.array(oneOf(['connect-failure', 'reset', 'response-timeout', '502', '503', '504']), E('a list of retry conditions')).optional(),
    timeBudgetMs: ms(0, 'no budget').optional(),
  }).optional(),
  healthCheck: healthCheck.optional(),
  outlierDetection: obj('outlier detection settings', {
    consecutive5xx: int(0, 1000, 'off').optional(),
    consecutiveConnectFailures: int(0, 1000, 'off').optional(),
    baseEjectionMs: ms(1).optional(),
    maxEjectionMs: ms(1).optional(),
    maxEjectionPercent: int(0, 100).optional(),
  }).optional(),
});

export const configSchema = obj('proxy settings (listeners, clusters, ...)', {
  listeners: z.array(listener, E('a list of listeners')).min(1, E('at least one listener')),
  client: clientSchema.optional(),
  clusters: z
    .record(z.string(), cluster, E('a mapping of cluster names to clusters'))
    .refine((r) => Object.keys(r).length > 0, E('at least one cluster')),
  websocket: obj('WebSocket settings', {
    idleTimeoutMs: ms(0, 'off').optional(),
    pingIntervalMs: ms(0, 'no pings').optional(),
    pingTimeoutMs: ms(1).optional(),
  }).optional(),
  admin: obj('admin settings (address, token)', {
    address: address(0).optional(),
    token: z.string(E('a token of at least 16 characters')).min(16, E('a token of at least 16 characters')).nullable().optional(),
  }).nullable().optional(),
  accessLog: obj('access log settings (target)', {
    target: nonEmpty('"stdout", "stderr", "off" or a file path').optional(),
  }).optional(),
  eventLog: obj('event log settings (target, level)', {
    target: nonEmpty('"stdout", "stderr", "off" or a file path').optional(),
    level: oneOf(['debug', 'info', 'warn', 'error']).optional(),
  }).optional(),
  drain: obj('drain settings', { timeoutMs: ms(0).optional(), spreadMs: ms(0).optional() }).optional(),
  workers: z
    .custom<number | 'auto'>((v) => v === 'auto' || (Number.isInteger(v) && typeof v === 'number' && v >= 1 && v <= 64), E('an integer from 1 to 64, or "auto"'))
    .optional(),
  demo: obj('demo settings (upstreams)', {
    upstreams: z.array(address(1), E('a list of "host:port" addresses')).min(1, E('at least one address')),
  }).nullable().optional(),
});

/** A configuration that has the right shape, before defaults and cross-checks. */
export type RawConfig = z.output<typeof configSchema>;

/** The keys a strict object accepts at a schema path, for "did you mean" (empty if unknown). */
export function knownKeysAt(path: readonly PropertyKey[]): string[] {
  return knownKeysOf(configSchema, path);
}
