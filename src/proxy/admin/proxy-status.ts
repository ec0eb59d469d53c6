/**
 * The admin listener's view of a running proxy: the readiness input and the dashboard's status
 * sample, read from the proxy's listeners, clusters and metrics. Reads only; O(listeners +
 * endpoints + TOP_CONNECTIONS), whatever the number of open connections.
 */
import type { Proxy } from '../proxy.js';
import { sideOf } from './dashboard-feed.js';
import type { ReadinessInput } from './readiness.js';
import type { ClusterStatus, ConnectionView, ListenerStatus, StatusSample } from './status-sample.js';

/** Oldest and longest-idle connections shown: enough to spot a stuck one, never a row per connection. */
export const TOP_CONNECTIONS = 5;

type ProxyListener = Proxy['listeners'][number];
type Conn = ReturnType<ProxyListener['serving']>[number];

export function readinessInput(proxy: Proxy): ReadinessInput {
  const clusters = new Map<string, { endpoints: number; available: number }>();
  for (const [name, cluster] of proxy.clusters) {
    // The balancer's list: a draining endpoint (removed, finishing its requests) serves no new one.
    clusters.set(name, { endpoints: cluster.views.length, available: cluster.views.filter((v) => v.available).length });
  }
  return { listeners: proxy.listeners.map((l) => ({ name: l.name, bound: l.server.listening, draining: l.draining })), clusters };
}

function view(l: ProxyListener, conn: Conn, nowMs: number): ConnectionView {
  const idle = conn.state === 'idle';
  const idleMs = idle ? Math.round(nowMs - conn.idleSinceMs) : null;
  const idleTimeoutMs = l.config.client.idleTimeoutMs;
  return {
    listener: l.name,
    ageMs: Math.round(nowMs - conn.openedAtMs),
    state: conn.state,
    requests: conn.requests,
    idleMs,
    idleRemainingMs: idleMs === null || idleTimeoutMs <= 0 ? null : Math.max(0, idleTimeoutMs - idleMs),
  };
}

/** The address as bound (port 0 in the config shows the port the kernel chose). */
function boundAddress(l: ProxyListener): string {
  const a = l.server.address();
  if (a === null || typeof a === 'string') return l.config.address;
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

export function statusSample(proxy: Proxy): StatusSample {
  const nowMs = proxy.clock.now();
  const metrics = proxy.metrics.json();
  const listeners: ListenerStatus[] = [];
  let oldest: ConnectionView[] = [];
  let longestIdle: ConnectionView[] = [];
  for (const l of proxy.listeners) {
    const open = l.open;
    const idle = l.table.count('idle');
    listeners.push({
      name: l.name,
      address: boundAddress(l),
      bound: l.server.listening,
      draining: l.draining,
      connections: { active: l.draining ? 0 : open - idle, idle: l.draining ? 0 : idle, lingering: l.lingeringConnections.size, draining: l.draining ? open : 0 },
    });
    // Each state's list is in the order connections entered it: its first ones are the
    // candidates for the oldest (a few per list, never a walk over every connection).
    for (const state of ['head', 'idle', 'exchange', 'tunnel'] as const) {
      let n = 0;
      for (const conn of l.table.list(state)) {
        if (n++ >= TOP_CONNECTIONS) break;
        oldest.push(view(l, conn, nowMs));
      }
    }
    // The idle list is least recently idle first.
    let n = 0;
    for (const conn of l.table.list('idle')) {
      if (n++ >= TOP_CONNECTIONS) break;
      longestIdle.push(view(l, conn, nowMs));
    }
  }
  oldest = oldest.sort((a, b) => b.ageMs - a.ageMs).slice(0, TOP_CONNECTIONS);
  longestIdle = longestIdle.slice(0, TOP_CONNECTIONS);

  const clusters: ClusterStatus[] = [];
  for (const [name, cluster] of proxy.clusters) {
    const cs = metrics.upstream[name];
    clusters.push({
      name,
      endpoints: cluster.members.map((m) => ({
        endpoint: m.pool.key,
        healthy: cluster.health?.isHealthy(m.pool.key) ?? true,
        ejected: cluster.outliers.isEjected(m.pool.key),
        available: m.view.available,
        idle: m.pool.idleCount,
        active: m.pool.activeCount,
        connecting: m.pool.connectingCount,
        backendIdleHintMs: m.pool.lastHintMs,
        backendIdleLearnedMs: Number.isFinite(m.pool.learnedIdleMs) ? m.pool.learnedIdleMs : null,
        poolIdleMs: m.pool.effectiveIdleMs,
        requests: cs?.endpoints[m.pool.key]?.rqTotal ?? 0,
      })),
      retries: cs?.rqRetry ?? 0,
      retriesSucceeded: cs?.rqRetrySuccess ?? 0,
      retryCauses: cs?.rqRetryByCause ?? {},
      noHealthy: cs?.rqNoHealthy ?? 0,
    });
  }

  const responses: Record<string, number> = {};
  let bounds: number[] = [];
  let counts: number[] = [];
  const downstream: Record<string, number> = {};
  for (const ls of Object.values(metrics.downstream)) {
    for (const [k, v] of Object.entries(ls.rq)) responses[k] = (responses[k] ?? 0) + v;
    const h = ls.rqDuration;
    if (bounds.length === 0) {
      bounds = h.le.filter((b) => Number.isFinite(b));
      counts = h.counts.map(() => 0);
    }
    h.counts.forEach((v, i) => (counts[i] = (counts[i] ?? 0) + v));
    for (const [k, v] of Object.entries(ls.cxClosed)) downstream[k] = (downstream[k] ?? 0) + v;
  }
  const upstream: Record<string, number> = {};
  for (const cs of Object.values(metrics.upstream)) {
    for (const es of Object.values(cs.endpoints)) {
      for (const [k, v] of Object.entries(es.cxClosed)) upstream[k] = (upstream[k] ?? 0) + v;
    }
  }
  const closeSides: Record<string, 'local' | 'remote' | 'unknown'> = {};
  for (const reason of [...Object.keys(downstream), ...Object.keys(upstream)]) closeSides[reason] = sideOf(reason);
  return {
    atMs: Date.now(),
    uptimeSeconds: process.uptime(),
    listeners,
    clusters,
    responses,
    duration: { bounds, counts },
    closes: { downstream, upstream },
    closeSides,
    oldest,
    longestIdle,
  };
}
