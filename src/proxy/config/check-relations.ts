/**
 * Rules between keys and across the file, which a schema of single values cannot say: unique
 * listener names and addresses, routes naming clusters that exist, https with tls, and the
 * relations between timeouts. They run on the raw parsed data even when the schema found
 * problems, so one run reports everything; a rule whose inputs are themselves malformed is
 * skipped (the schema already reported them).
 */
import { addressesCollide, isLoopbackHost, parseAddress } from './address.js';
import type { ParsedAddress } from './address.js';
import { CLIENT_DEFAULTS, DISCOVERY_DEFAULTS, DRAIN_DEFAULTS, HEALTH_CHECK_DEFAULTS, OUTLIER_DEFAULTS, POOL_DEFAULTS, WEBSOCKET_DEFAULTS } from './defaults.js';
import { formatPath } from './source-map.js';
import type { KeyPath } from './source-map.js';
import { suggest } from './suggest.js';
import type { AddressConfig } from './types.js';

/** A problem before it is given a place in the file. */
export interface RelationProblem {
  path: KeyPath;
  expected: string;
  found: string;
  message?: string;
}

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : undefined);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined);

/** A value as it came from the file, or the default, with the path it came from. */
interface Sourced {
  value: number;
  path: KeyPath;
  /** True when the file set it (false for a default). */
  set: boolean;
}

/** First of the layers (most specific first) that sets `key` to a valid integer, else the default. */
function pick(layers: readonly { obj: Rec | undefined; path: KeyPath }[], key: string, fallback: number): Sourced | undefined {
  for (const { obj, path } of layers) {
    if (obj === undefined || !(key in obj)) continue;
    const v = int(obj[key]);
    return v === undefined ? undefined : { value: v, path: [...path, key], set: true };
  }
  return { value: fallback, path: [...(layers[0]?.path ?? []), key], set: false };
}

/** `a < b` (or `<=` when `orEqual`) for two sourced values; reported at whichever the file set
 * (`a` when both or neither), phrased from that key's side. */
function relate(out: RelationProblem[], a: Sourced | undefined, b: Sourced | undefined, orEqual: boolean, aName: string, bName: string, note = ''): void {
  if (a === undefined || b === undefined) return;
  if (orEqual ? a.value <= b.value : a.value < b.value) return;
  if (a.set || !b.set) {
    const expected = `${aName} ${orEqual ? '<=' : '<'} ${bName} (${b.value})${note}`;
    out.push({ path: a.path, expected, found: String(a.value) });
  } else {
    const expected = `${bName} ${orEqual ? '>=' : '>'} ${aName} (${a.value})${note}`;
    out.push({ path: b.path, expected, found: String(b.value) });
  }
}

function address(v: unknown, minPort: 0 | 1): AddressConfig | undefined {
  if (typeof v !== 'string') return undefined;
  const p: ParsedAddress = parseAddress(v, minPort);
  return p.ok ? p.value : undefined;
}

/** All cross-key problems of a raw configuration. */
export function checkRelations(rawData: unknown): RelationProblem[] {
  const out: RelationProblem[] = [];
  const root = rec(rawData);
  if (root === undefined) return out;
  const clusters = rec(root['clusters']);
  const clusterNames = clusters === undefined ? [] : Object.keys(clusters);
  const topClient = rec(root['client']);

  // Sockets this process binds, to find two on one address.
  const bound: { addr: AddressConfig; path: KeyPath }[] = [];
  const bind = (addr: AddressConfig | undefined, path: KeyPath): void => {
    if (addr === undefined) return;
    const clash = bound.find((b) => addressesCollide(b.addr, addr));
    if (clash !== undefined) {
      const found = `"${addr.address}", which collides with ${formatPath(clash.path)} ("${clash.addr.address}")`;
      out.push({ path, expected: 'an address no other listener, admin or demo upstream binds', found });
    } else bound.push({ addr, path });
  };

  const names = new Map<string, number>();
  list(root['listeners']).forEach((l, i) => {
    const listener = rec(l);
    if (listener === undefined) return;
    const at: KeyPath = ['listeners', i];
    const name = listener['name'];
    if (typeof name === 'string') {
      const first = names.get(name);
      if (first !== undefined) out.push({ path: [...at, 'name'], expected: 'a name no other listener has', found: `"${name}", already the name of listeners[${first}]` });
      else names.set(name, i);
    }
    bind(address(listener['address'], 0), [...at, 'address']);
    const protocol = listener['protocol'] ?? 'http';
    if (protocol === 'https' && listener['tls'] === undefined) {
      out.push({ path: [...at, 'protocol'], expected: 'a "tls" block (certFile, keyFile) with protocol https', found: 'https without tls' });
    }
    if (protocol === 'http' && listener['tls'] !== undefined) {
      out.push({ path: [...at, 'tls'], expected: 'protocol: https on a listener with a "tls" block', found: 'protocol http (or none) with tls' });
    }
    list(listener['routes']).forEach((r, j) => {
      const cluster = rec(r)?.['cluster'];
      if (typeof cluster !== 'string' || cluster === '' || clusterNames.length === 0 || clusterNames.includes(cluster)) return;
      const guess = suggest(cluster, clusterNames);
      const known = `defined: ${clusterNames.join(', ')}`;
      out.push({
        path: [...at, 'routes', j, 'cluster'],
        expected: `the name of a cluster under "clusters" (${known})`,
        found: `"${cluster}"`,
        message: `expected the name of a cluster under "clusters" (${known}), found "${cluster}"${guess === undefined ? '' : `; did you mean "${guess}"?`}`,
      });
    });
    checkClient([{ obj: rec(listener['client']), path: [...at, 'client'] }, { obj: topClient, path: ['client'] }], out);
  });
  checkClient([{ obj: topClient, path: ['client'] }], out);

  const admin = rec(root['admin']);
  if (admin !== undefined) {
    const where = address(admin['address'] ?? '127.0.0.1:9901', 0);
    bind(where, admin['address'] === undefined ? ['admin'] : ['admin', 'address']);
    // /stats and /metrics name every backend, and the dashboard shows live traffic: off loopback
    // they are for the operator only.
    const token = admin['token'];
    if (where !== undefined && !isLoopbackHost(where.host) && (typeof token !== 'string' || token === '')) {
      out.push({
        path: ['admin', 'address'],
        expected: 'a loopback address (127.0.0.1, [::1], localhost), or "admin.token" set to protect a non-loopback admin listener',
        found: `"${where.address}" with no admin.token`,
      });
    }
  }
  list(rec(root['demo'])?.['upstreams']).forEach((u, i) => bind(address(u, 1), ['demo', 'upstreams', i]));

  for (const name of clusterNames) {
    const cluster = rec(clusters?.[name]);
    const at: KeyPath = ['clusters', name];
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) out.push({ path: at, expected: 'a cluster name of letters, digits, "-", "_" or "."', found: JSON.stringify(name) });
    if (cluster === undefined) continue;
    const seen = new Map<string, number>();
    list(cluster['endpoints']).forEach((e, i) => {
      const a = address(rec(e)?.['address'], 1);
      if (a === undefined) return;
      const key = `${a.host.toLowerCase()}:${a.port}`;
      const first = seen.get(key);
      if (first !== undefined) out.push({ path: [...at, 'endpoints', i, 'address'], expected: 'an endpoint address not already in this cluster (raise "weight" instead)', found: `"${a.address}", the address of endpoints[${first}]` });
      else seen.set(key, i);
    });
    checkSources(cluster, at, out);
    const pool = [{ obj: rec(cluster['pool']), path: [...at, 'pool'] }];
    const margin = pick(pool, 'hintMarginMs', POOL_DEFAULTS.hintMarginMs);
    relate(out, margin, pick(pool, 'idleTimeoutMs', POOL_DEFAULTS.idleTimeoutMs), false, 'hintMarginMs', 'idleTimeoutMs');
    relate(out, margin, pick(pool, 'defaultBackendIdleMs', POOL_DEFAULTS.defaultBackendIdleMs), false, 'hintMarginMs', 'defaultBackendIdleMs');
    const hc = rec(cluster['healthCheck']);
    if (hc !== undefined) {
      const h = [{ obj: hc, path: [...at, 'healthCheck'] }];
      relate(out, pick(h, 'timeoutMs', HEALTH_CHECK_DEFAULTS.timeoutMs), pick(h, 'intervalMs', HEALTH_CHECK_DEFAULTS.intervalMs), true, 'timeoutMs', 'intervalMs');
    }
    const od = [{ obj: rec(cluster['outlierDetection']), path: [...at, 'outlierDetection'] }];
    relate(out, pick(od, 'baseEjectionMs', OUTLIER_DEFAULTS.baseEjectionMs), pick(od, 'maxEjectionMs', OUTLIER_DEFAULTS.maxEjectionMs), true, 'baseEjectionMs', 'maxEjectionMs');
  }

  const drain = [{ obj: rec(root['drain']), path: ['drain'] }];
  relate(out, pick(drain, 'spreadMs', DRAIN_DEFAULTS.spreadMs), pick(drain, 'timeoutMs', DRAIN_DEFAULTS.timeoutMs), true, 'spreadMs', 'timeoutMs');
  const ws = [{ obj: rec(root['websocket']), path: ['websocket'] }];
  const ping = pick(ws, 'pingIntervalMs', WEBSOCKET_DEFAULTS.pingIntervalMs);
  const wsIdle = pick(ws, 'idleTimeoutMs', WEBSOCKET_DEFAULTS.idleTimeoutMs);
  if (ping !== undefined && ping.value > 0 && wsIdle !== undefined && wsIdle.value > 0) {
    relate(out, ping, wsIdle, false, 'pingIntervalMs', 'idleTimeoutMs', ' so that pings keep an idle tunnel open');
  }
  return dedupe(out);
}

const SOURCES = ['endpoints', 'discovery', 'endpointsFile'] as const;
const HASH_KINDS = ['ring-hash', 'maglev'];
const SRV_NAME = /^_[A-Za-z0-9-]+\._[A-Za-z0-9-]+\.[A-Za-z0-9]/;

/** Where a cluster's endpoints come from (exactly one source), DNS discovery's own rules, and
 * hashOn going with a hash balancer. */
function checkSources(cluster: Rec, at: KeyPath, out: RelationProblem[]): void {
  const present = SOURCES.filter((k) => cluster[k] !== undefined);
  const one = 'exactly one of "endpoints" (a static list), "discovery" (DNS) or "endpointsFile"';
  if (present.length === 0) out.push({ path: at, expected: one, found: 'none of them' });
  else if (present.length > 1) out.push({ path: [...at, present[1] as string], expected: one, found: present.map((k) => `"${k}"`).join(' and ') });

  const d = rec(cluster['discovery']);
  if (d !== undefined) {
    const dat: KeyPath = [...at, 'discovery'];
    if (d['type'] === 'dns' && d['port'] === undefined) out.push({ path: dat, expected: 'a "port" with type dns (A and AAAA records carry no port)', found: 'no port' });
    if (d['type'] === 'srv' && d['port'] !== undefined) out.push({ path: [...dat, 'port'], expected: 'no "port" with type srv (the SRV records give the ports)', found: JSON.stringify(d['port']) });
    if (d['type'] === 'srv' && typeof d['name'] === 'string' && !SRV_NAME.test(d['name'])) {
      out.push({ path: [...dat, 'name'], expected: 'an SRV name "_service._proto.domain" (e.g. "_http._tcp.api.internal")', found: JSON.stringify(d['name']) });
    }
    const layers = [{ obj: d, path: dat }];
    relate(out, pick(layers, 'minRefreshMs', DISCOVERY_DEFAULTS.minRefreshMs), pick(layers, 'maxRefreshMs', DISCOVERY_DEFAULTS.maxRefreshMs), true, 'minRefreshMs', 'maxRefreshMs');
  }

  const balancer = cluster['balancer'];
  const hashing = typeof balancer === 'string' && HASH_KINDS.includes(balancer);
  if (hashing && cluster['hashOn'] === undefined) {
    out.push({ path: [...at, 'balancer'], expected: `a "hashOn" key ("header:NAME", "cookie:NAME" or "client-address") with balancer ${balancer}`, found: 'no hashOn' });
  }
  if (!hashing && cluster['hashOn'] !== undefined) {
    out.push({ path: [...at, 'hashOn'], expected: 'hashOn only with balancer ring-hash or maglev', found: `balancer ${typeof balancer === 'string' ? balancer : 'round-robin (the default)'}` });
  }
}

function checkClient(layers: { obj: Rec | undefined; path: KeyPath }[], out: RelationProblem[]): void {
  const idle = pick(layers, 'idleTimeoutMs', CLIENT_DEFAULTS.idleTimeoutMs);
  if (idle !== undefined && idle.value > 0) {
    // The deprecated name counts where the new one is not set.
    const setNew = layers.some((l) => l.obj !== undefined && 'hintMarginMs' in l.obj);
    const name = !setNew && layers.some((l) => l.obj !== undefined && 'keepAliveHintMarginMs' in l.obj) ? 'keepAliveHintMarginMs' : 'hintMarginMs';
    relate(out, pick(layers, name, CLIENT_DEFAULTS.hintMarginMs), idle, false, name, 'idleTimeoutMs');
  }
  const headers = pick(layers, 'headersTimeoutMs', CLIENT_DEFAULTS.headersTimeoutMs);
  const request = pick(layers, 'requestTimeoutMs', CLIENT_DEFAULTS.requestTimeoutMs);
  if (headers !== undefined && request !== undefined && headers.value > 0 && request.value > 0) {
    relate(out, headers, request, true, 'headersTimeoutMs', 'requestTimeoutMs', ' when both are on');
  }
}

function dedupe(problems: RelationProblem[]): RelationProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${formatPath(p.path)}\u0000${p.expected}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
