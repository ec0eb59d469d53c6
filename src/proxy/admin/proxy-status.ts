/**
 * The admin listener's view of a running proxy: the readiness input and the dashboard's status
 * sample, read from the proxy's listeners, clusters and metrics. Reads only; O(listeners +
 * endpoints + TOP_CONNECTIONS), whatever the number of open connections.
 */
import { snakeCase } from '../metrics/listener-metrics.js';
import type { Proxy } from '../proxy.js';
import { sideOf } from './dashboard-feed.js';
import type { ReadinessInput } from './readiness.js';
import type { ClusterStatus, ConnectionView, ListenerStatus, StatusSample } from './status-sample.js';

/** Oldest and longest-idle connections shown: enough to spot a stuck one, never a row per connection. */
export const TOP_CONNECTIONS = 5;

type ProxyListener = Proxy['listeners'][number];
type Conn = ProxyListener['connections'] extends Set<infer C> ? C : never;

export function readinessInput(proxy: Proxy): ReadinessInput {
  const clusters = new Map<string, { endpoints: number; available: number }>();
  for (const [name, cluster] of proxy.clusters) {
    clusters.set(name, { endpoints: cluster.members.length, available: cluster.members.filter((m) => m.view.available).length });
  }
  return { listeners: proxy.listeners.map((l) => ({ name: l.name, bound: l.server.listening, draining: l.draining })), clusters };
}

function view(listener: string, conn: Conn, nowMs: number): ConnectionView {
  // The engine does not expose when a connection went idle or its idle deadline yet.
  return { listener, ageMs: Math.round(nowMs - conn.openedAtMs), state: conn.state, requests: conn.requests, idleMs: null, idleRemainingMs: null };
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
    const open = l.connections.size;
    const idle = l.idle.size;
    listeners.push({
      name: l.name,
      address: boundAddress(l),
      bound: l.server.listening,
      draining: l.draining,
      connections: { active: l.draining ? 0 : open - idle, idle: l.draining ? 0 : idle, lingering: l.lingeringConnections.size, draining: l.draining ? open : 0 },
    });
    // A Set iterates in insertion (accept) order: its first connections are the oldest.
    let n = 0;
    for (const conn of l.connections) {
      if (n++ >= TOP_CONNECTIONS) break;
      oldest.push(view(l.name, conn, nowMs));
    }
    // The idle list is least recently idle first.
    let c: Conn | null = l.idle.first() ?? null;
    for (let i = 0; c !== null && i < TOP_CONNECTIONS; i++, c = c.idleNext) longestIdle.push(view(l.name, c, nowMs));
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
        idle: m.pool.idle.length,
        active: m.pool.active,
        connecting: m.pool.connecting,
        backendIdleHintMs: null,
        backendIdleLearnedMs: Number.isFinite(m.pool.learnedIdleMs) ? m.pool.learnedIdleMs : null,
        poolIdleMs: null,
        requests: cs?.endpoints[m.pool.key]?.rqTotal ?? 0,
      })),
      retries: cs?.rqRetry ?? 0,
      retriesSucceeded: cs?.rqRetrySuccess ?? 0,
      retryCauses: null,
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
    for (const [k, v] of Object.entries(ls.cxClosed)) {
      const key = snakeCase(k);
      downstream[key] = (downstream[key] ?? 0) + v;
    }
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
