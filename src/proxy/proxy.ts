/**
 * The reverse proxy: listeners, clusters, the admin endpoint and the demo backends, started
 * from a validated `ProxyConfig`, reloadable and drainable.
 *
 * Lifecycle: `Proxy.start(config)` binds everything (a port in use fails the start with a
 * clear error and nothing left bound); `reload(config)` applies new routes, clusters and client
 * policy to new requests while requests in flight finish on the old clusters, whose pools then
 * close; `drain()` stops accepting, closes idle client connections at once, lets each busy one
 * finish its response with `Connection: close`, and force-closes what remains at the deadline;
 * `close()` drains with no grace and releases every timer and socket.
 */
import { BufferPool } from '../transport/write-batcher.js';
import net from 'node:net';
import tls from 'node:tls';
import type http from 'node:http';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { TimerWheel } from '../core/timer-wheel.js';
import { systemClock } from '../core/clock.js';
import type { Clock } from '../core/clock.js';
import { LifelineError } from '../core/errors.js';
import { TlsSessionCache } from '../transport/tls-session-cache.js';
import { TicketKeyRotation } from '../transport/ticket-key-rotation.js';
import type { ClusterConfig, ListenerConfig, ProxyConfig } from './config/index.js';
import { ProxyMetrics } from './metrics/index.js';
import { Cluster, memberQuiet } from './engine/cluster.js';
import { Router } from './engine/router.js';
import { AccessLog } from './engine/access-log.js';
import { Listener } from './engine/listener.js';
import type { ListenerHost } from './engine/listener.js';
import type { Http1Connection } from './engine/http1-connection.js';
import { DrainRun } from '../http/server/drain-run.js';
import type { DrainResult } from '../http/server/drain-run.js';
import { startAdmin } from './admin/admin-server.js';
import type { AdminSource } from './admin/admin-server.js';
import { DemoUpstreams } from './demo/demo-upstream.js';
import { EventLog } from './log/index.js';
import { DashboardFeed } from './admin/dashboard-feed.js';
import { readinessInput, statusSample } from './admin/proxy-status.js';
import { readiness } from './admin/readiness.js';
import { createEndpointsApi } from './admin/endpoints-api.js';
import type { ClusterMembership } from './discovery/cluster-membership.js';
import { ClusterFleet, initialEndpoints } from './cluster-fleet.js';

export interface ProxyStartOptions {
  clock?: Clock;
  /** Skip the config's demo backends (workers of a multi-process proxy: the primary runs them). */
  skipDemo?: boolean;
  /** Extra admin handlers (the lease API mounts here). */
  adminExtra?: AdminSource['extra'];
}

export type { DrainResult };

/**
 * @example
 *   const proxy = await Proxy.start(await loadConfig('proxy.yaml'));
 *   process.on('SIGTERM', () => proxy.drain().then(() => proxy.close()));
 */
export class Proxy implements ListenerHost {
  readonly clock: Clock;
  readonly wheel: TimerWheel;
  readonly metrics = new ProxyMetrics();
  readonly accessLog: AccessLog;
  /** Operator events: health, ejections, reloads, learned backend idle times. */
  readonly events: EventLog;
  /** The dashboard's samples and SSE streams; only with an admin listener. */
  feed: DashboardFeed | undefined;
  readonly tlsSessions: TlsSessionCache;
  config: ProxyConfig;
  clusters = new Map<string, Cluster>();
  /** Where each cluster's endpoints come from (static list, DNS, file, admin API). */
  fleets = new Map<string, ClusterFleet>();
  readonly listeners: Listener[] = [];
  admin: http.Server | undefined;
  demo: DemoUpstreams | undefined;
  #retired = new Set<Cluster>();
  /**
   * The buffer plain-TCP sockets read into, client and upstream alike (one process reads one
   * socket at a time, and each read is consumed or copied before the next): PoolHost.readBuffer.
   */
  readonly readBuffer = Buffer.allocUnsafe(64 * 1024);
  /** Buffers the bytes read into it are copied into when a client write must keep them
   * (borrowed-bytes.ts `writeOwned`); kept for reuse while busy, let go when quiet. */
  readonly writePool = new BufferPool(64 * 1024, 64);
  #closed = false;

  private constructor(config: ProxyConfig, options: ProxyStartOptions) {
    this.config = config;
    this.clock = options.clock ?? systemClock;
    // Fine ticks: client idle and upstream pool expiries are keep-alive deadlines, where a late
    // close is a race.
    this.wheel = new TimerWheel({ resolutionMs: 10, clock: this.clock });
    this.accessLog = new AccessLog(config.accessLog);
    this.events = new EventLog(config.eventLog.target, { level: config.eventLog.level });
    this.metrics.fleet = () => [...this.fleets.values()].map((f) => f.figures());
    this.tlsSessions = new TlsSessionCache({ maxSessions: Math.max(0, ...config.clusters.map((c) => c.tls.sessionCacheSize)) });
  }

  static async start(config: ProxyConfig, options: ProxyStartOptions = {}): Promise<Proxy> {
    const proxy = new Proxy(config, options);
    try {
      if (config.demo !== null && options.skipDemo !== true) proxy.demo = await DemoUpstreams.start(config.demo.upstreams);
      proxy.clusters = proxy.#buildClusters(config.clusters);
      for (const fleet of proxy.fleets.values()) await fleet.start();
      for (const lc of config.listeners) await proxy.#listen(lc);
      if (config.admin !== null) {
        proxy.feed = new DashboardFeed(() => statusSample(proxy));
        const extra = adminExtra(config.admin.token, () => proxy.memberships(), options.adminExtra);
        proxy.admin = await startAdmin(config.admin, {
          token: config.admin.token,
          ready: (only) => readiness(readinessInput(proxy), only),
          feed: proxy.feed,
          draining: () => proxy.listeners.some((l) => l.draining),
          stats: () => proxy.stats(),
          metricsText: () => proxy.metrics.text(),
          metricsContentType: proxy.metrics.contentType,
          ...(extra === undefined ? {} : { extra }),
        });
      }
    } catch (error) {
      await proxy.close();
      throw bindError(error);
    }
    return proxy;
  }

  /** The bound port of a listener (useful with port 0). */
  port(listenerName?: string): number {
    const listener = listenerName === undefined ? this.listeners[0] : this.listeners.find((l) => l.name === listenerName);
    const address = listener?.server.address();
    if (address === null || address === undefined || typeof address === 'string') throw new LifelineError('ERR_NOT_LISTENING', `listener ${listenerName ?? '(first)'} is not listening`);
    return address.port;
  }

  adminPort(): number | undefined {
    const address = this.admin?.address();
    return address !== null && address !== undefined && typeof address !== 'string' ? address.port : undefined;
  }

  /** Apply a new configuration to new requests. Listener addresses must not change. */
  reload(config: ProxyConfig): void {
    for (const lc of config.listeners) {
      const current = this.listeners.find((l) => l.name === lc.name);
      if (current === undefined || current.config.address !== lc.address || current.config.protocol !== lc.protocol) {
        throw new LifelineError('ERR_RELOAD_LISTENERS', `listener ${lc.name} (${lc.address}) is new or changed: listeners can only change with a restart`);
      }
    }
    const oldFleets = this.fleets;
    const clusters = this.#buildClusters(config.clusters);
    for (const fleet of oldFleets.values()) fleet.close();
    for (const old of this.clusters.values()) this.#retire(old);
    this.clusters = clusters;
    for (const fleet of this.fleets.values()) fleet.startInBackground();
    for (const listener of this.listeners) {
      const lc = config.listeners.find((l) => l.name === listener.name) as ListenerConfig;
      listener.update(lc, new Router(lc.routes, (name) => clusters.get(name) as Cluster));
    }
    this.config = config;
  }

  /** Stop accepting and let connections finish; see the module comment. */
  async drain(options: { timeoutMs?: number; spreadMs?: number } = {}): Promise<DrainResult> {
    const timeoutMs = options.timeoutMs ?? this.config.drain.timeoutMs;
    // Idle connections close spread over this window (HAProxy's close-spread-time), so the
    // clients behind a load balancer do not all reconnect in the same instant; busy ones are
    // reached at once, so the response in flight is their last.
    const spreadMs = Math.min(options.spreadMs ?? this.config.drain.spreadMs, timeoutMs);
    const open = (): number => this.listeners.reduce((n, l) => n + l.open, 0);
    for (const fleet of this.fleets.values()) fleet.close();
    const connections: Http1Connection[] = [];
    for (const listener of this.listeners) {
      listener.draining = true;
      if (listener.server.listening) listener.server.close();
      listener.dropWaiting();
      connections.push(...listener.serving());
    }
    const run = new DrainRun<Http1Connection>({
      clock: this.clock,
      timeoutMs,
      spreadMs,
      connections,
      // Between requests (or before a first request byte): nothing to finish.
      isIdle: (conn) => conn.state === 'idle' || (conn.state === 'head' && conn.requests > 0),
      reach: (conn) => {
        conn.drainMarked = true;
        conn.closeWhenIdle('drain');
        return conn.state === 'lingering' || conn.state === 'closed';
      },
      force: (conn) => conn.destroy('drain_forced'),
    });
    for (const listener of this.listeners) {
      listener.onClosed = (conn, reason) => {
        run.closed(conn, reason);
        if (open() === 0) run.empty();
      };
    }
    // HTTP/2 sessions: GOAWAY now, open streams finish, the rest destroyed at the deadline.
    const [result] = await Promise.all([run.promise, ...this.listeners.map((l) => l.http2?.drain(timeoutMs))]);
    for (const listener of this.listeners) listener.onClosed = undefined;
    return result;
  }

  /** Close everything now. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const listener of this.listeners) {
      listener.draining = true;
      listener.rotation?.close();
      listener.destroyWaiting();
      for (const conn of listener.table.all()) conn.destroy('drain_forced');
      listener.http2?.close();
      if (listener.server.listening) {
        listener.server.close();
        await once(listener.server, 'close');
      }
    }
    for (const fleet of this.fleets.values()) fleet.close();
    for (const cluster of this.clusters.values()) cluster.close();
    for (const cluster of this.#retired) cluster.close();
    if (this.admin !== undefined) {
      this.admin.closeAllConnections();
      if (this.admin.listening) {
        this.admin.close();
        await once(this.admin, 'close');
      }
    }
    this.feed?.close();
    await this.demo?.close();
    this.accessLog.close();
    this.events.close();
    this.writePool.clear();
    this.wheel.close();
  }

  stats(): unknown {
    const clusters: Record<string, unknown> = {};
    for (const [name, cluster] of this.clusters) {
      clusters[name] = cluster.members.map((m) => ({
        endpoint: m.pool.key,
        available: m.view.available,
        healthy: cluster.health?.isHealthy(m.pool.key) ?? true,
        ejected: cluster.outliers.isEjected(m.pool.key),
        idle: m.pool.idleCount,
        active: m.pool.activeCount,
        connecting: m.pool.connectingCount,
        learnedBackendIdleMs: Number.isFinite(m.pool.learnedIdleMs) ? m.pool.learnedIdleMs : null,
        ...(m.h2 === undefined ? {} : { http2: { idle: m.h2.count('idle'), ready: m.h2.count('ready'), full: m.h2.count('full'), connecting: m.h2.count('connecting'), probing: m.h2.count('probing'), draining: m.h2.count('draining'), streams: m.h2.streams, waiting: m.h2.waiting } }),
        activeRequests: m.view.activeRequests,
        draining: m.draining,
      }));
    }
    const listeners = this.listeners.map((l) => ({ name: l.name, address: l.config.address, connections: l.open, http2Sessions: l.http2?.sessions ?? 0, idle: l.table.count('idle'), lingering: l.table.count('lingering'), draining: l.draining }));
    const membership: Record<string, unknown> = {};
    for (const [name, fleet] of this.fleets) membership[name] = fleet.stats();
    return { listeners, pools: clusters, membership, tlsSessions: this.tlsSessions.stats, ...this.metrics.json() };
  }

  /** Each cluster's membership, by name (the endpoints admin API reads it on every call). */
  memberships(): Map<string, ClusterMembership> {
    const out = new Map<string, ClusterMembership>();
    for (const [name, fleet] of this.fleets) out.set(name, fleet.membership);
    return out;
  }

  /** ListenerHost: a listener's counters. */
  listenerMetrics(listener: string): ReturnType<ProxyMetrics["listener"]> {
    return this.metrics.listener(listener);
  }

  /** ListenerHost: the WebSocket settings in force. */
  websocket(): { idleTimeoutMs: number; pingIntervalMs: number; pingTimeoutMs: number } {
    return this.config.websocket;
  }

  #buildClusters(configs: readonly ClusterConfig[]): Map<string, Cluster> {
    const map = new Map<string, Cluster>();
    const host = {
      wheel: this.wheel,
      clock: this.clock,
      tlsSessions: this.tlsSessions,
      readBuffer: this.readBuffer,
      onConnectOutcome: () => undefined,
      onIdleLearned: (cluster: string, endpoint: string, learnedMs: number | null, previousMs: number): void => {
        if (learnedMs === null) this.events.idleForgotten(cluster, endpoint, previousMs);
        else this.events.idleLearned(cluster, endpoint, learnedMs);
      },
    };
    const fleets = new Map<string, ClusterFleet>();
    for (const cc of configs) {
      const initial = initialEndpoints(cc, this.fleets.get(cc.name));
      const cluster = new Cluster({ ...cc, endpoints: initial }, this.metrics.cluster(cc.name), host, this.clock, this.events);
      map.set(cc.name, cluster);
      fleets.set(cc.name, new ClusterFleet(cc, cluster, this.events, initial, this.clock));
    }
    this.fleets = fleets;
    return map;
  }

  /** A cluster replaced by a reload: stop its health checks now, close its pools when idle. */
  #retire(cluster: Cluster): void {
    this.#retired.add(cluster);
    cluster.health?.close();
    const check = (): void => {
      if (cluster.members.every(memberQuiet) || this.#closed) {
        cluster.close();
        this.#retired.delete(cluster);
      } else {
        setTimeout(check, 100).unref();
      }
    };
    check();
  }

  async #listen(lc: ListenerConfig): Promise<void> {
    const router = new Router(lc.routes, (name) => this.clusters.get(name) as Cluster);
    const listener = new Listener(lc, router, this);
    if (lc.protocol === 'https' && lc.tls !== null) {
      const server = tls.createServer({
        // A client's FIN is handled by the connection (downstream-connection.ts #end), so a
        // client that half-closes after its request still gets the response.
        allowHalfOpen: true,
        cert: readFileSync(lc.tls.certFile),
        key: readFileSync(lc.tls.keyFile),
        ...(lc.tls.caFile === null ? {} : { ca: readFileSync(lc.tls.caFile) }),
        // h2 first: a client offering both gets HTTP/2 (the listener dispatches by the choice).
        ALPNProtocols: lc.http2 ? ['h2', 'http/1.1'] : ['http/1.1'],
      });
      server.on('secureConnection', listener.accept);
      server.on('tlsClientError', (_error, socket) => socket.destroy());
      listener.rotation = new TicketKeyRotation(server, { rotateEveryMs: lc.tls.sessionTicketRotateMs, clock: this.clock });
      listener.server = server;
    } else {
      listener.server = net.createServer({ noDelay: true, allowHalfOpen: true }, listener.accept);
    }
    this.listeners.push(listener);
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(new LifelineError('ERR_LISTEN', `listener ${lc.name} cannot listen on ${lc.address}: ${error.message}`, { cause: error }));
      listener.server.once('error', onError);
      listener.server.listen({ port: lc.port, host: lc.host, backlog: 4096 }, () => {
        listener.server.off('error', onError);
        resolve();
      });
    });
  }
}

/** The admin's extra handlers: the endpoints API (with a token), then the caller's. */
function adminExtra(token: string | null, memberships: () => Map<string, ClusterMembership>, other: AdminSource['extra'] | undefined): AdminSource['extra'] | undefined {
  if (token === null) return other;
  const api = createEndpointsApi({ bearerToken: token, clusters: memberships });
  return (req, res) => api(req, res) || (other?.(req, res) ?? false);
}

function bindError(error: unknown): unknown {
  if (error instanceof LifelineError) return error;
  const code = (error as { code?: unknown }).code;
  if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
    const e = error as Error & { address?: string; port?: number };
    return new LifelineError('ERR_LISTEN', `cannot listen on ${e.address ?? '?'}:${e.port ?? '?'}: ${e.message}`, { cause: error });
  }
  return error;
}
