/**
 * A cluster at run time: its endpoints' pools, the balancer's view of them, active health
 * checks and passive outlier detection, all tied together.
 *
 * An endpoint is `available` when its active check says healthy and outlier detection has not
 * ejected it; the balancer only picks available endpoints. Health checks go over kept-alive
 * connections of lifeline's own agent (lifeline/agent), so a check costs a request, not a
 * handshake.
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { Clock } from '../../core/clock.js';
import { KeepAliveAgent, HttpsKeepAliveAgent } from '../../http/client/index.js';
import { createBalancer, createEndpoint, LatencyEwma } from '../balancer/index.js';
import type { Balancer, UpstreamEndpoint } from '../balancer/index.js';
import { ActiveHealthChecker, OutlierDetector } from '../health/index.js';
import type { ClusterConfig } from '../config/index.js';
import type { ClusterMetrics } from '../metrics/index.js';
import { errnoOf } from '../log/index.js';
import type { EventLog } from '../log/index.js';
import { EndpointPool } from './endpoint-pool.js';
import type { PoolHost } from './endpoint-pool.js';

export interface Member {
  view: UpstreamEndpoint;
  pool: EndpointPool;
}

export class Cluster {
  readonly name: string;
  readonly members: Member[] = [];
  readonly views: UpstreamEndpoint[] = [];
  readonly balancer: Balancer;
  readonly latency: LatencyEwma;
  readonly outliers: OutlierDetector;
  readonly health: ActiveHealthChecker | undefined;
  readonly #byKey = new Map<string, Member>();
  #agent: http.Agent | undefined;
  /** Whether some endpoint was available at the last health or ejection change (for the log). */
  #anyAvailable = true;

  constructor(
    readonly config: ClusterConfig,
    readonly metrics: ClusterMetrics,
    host: PoolHost,
    clock: Clock,
    readonly events?: EventLog,
  ) {
    this.name = config.name;
    this.latency = new LatencyEwma({ clock });
    this.balancer = createBalancer(config.balancer, { latency: this.latency });
    const ca = config.tls.caFile === null ? undefined : readFileSync(config.tls.caFile);
    for (const endpoint of config.endpoints) {
      const view = createEndpoint(endpoint.address, { weight: endpoint.weight });
      const pool = new EndpointPool(endpoint, config, metrics.endpoint(endpoint.address), host, ca);
      const member = { view, pool };
      this.members.push(member);
      this.views.push(view);
      this.#byKey.set(endpoint.address, member);
      pool.metrics.setAvailable(true);
    }
    const od = config.outlierDetection;
    this.outliers = new OutlierDetector({
      consecutive5xx: od.consecutive5xx,
      consecutiveConnectFailures: od.consecutiveConnectFailures,
      baseEjectionMs: od.baseEjectionMs,
      maxEjectionMs: od.maxEjectionMs,
      maxEjectionPercent: od.maxEjectionPercent,
      clock,
    });
    for (const m of this.members) this.outliers.add(m.pool.key);
    this.outliers.on('eject', (key, count, durationMs, cause) => {
      this.#byKey.get(key)?.pool.metrics.ejected();
      this.events?.endpointEjected(this.name, key, cause, durationMs, count);
      this.#refresh(key);
    });
    this.outliers.on('return', (key) => {
      this.events?.endpointReturned(this.name, key);
      this.#refresh(key);
    });
    this.outliers.on('overflow', () => this.metrics.ejectionOverflow());

    const hc = config.healthCheck;
    if (hc !== null) {
      this.#agent = config.tls.enabled
        ? new HttpsKeepAliveAgent({ maxSockets: 1, freeSocketTimeoutMs: Math.max(hc.intervalMs * 2, 1_000), ...(ca === undefined ? {} : { ca }), rejectUnauthorized: config.tls.rejectUnauthorized })
        : new KeepAliveAgent({ maxSockets: 1, freeSocketTimeoutMs: Math.max(hc.intervalMs * 2, 1_000) });
      this.health = new ActiveHealthChecker({
        intervalMs: hc.intervalMs,
        timeoutMs: hc.timeoutMs,
        rise: hc.rise,
        fall: hc.fall,
        clock,
        expectStatus: (status) => status >= hc.expectStatus.min && status <= hc.expectStatus.max,
        probe: (key, signal) => this.#probe(key, hc.path, signal),
      });
      this.health.on('up', (key) => {
        this.events?.endpointHealthy(this.name, key);
        // A passing active check outranks a passive ejection: the endpoint is back.
        this.outliers.uneject(key);
        this.#refresh(key);
      });
      // 'check' follows 'down' for the same probe: it carries why the endpoint went down.
      let wentDown: string | undefined;
      this.health.on('down', (key) => {
        wentDown = key;
      });
      this.health.on('check', (r) => {
        if (wentDown !== r.key) return;
        wentDown = undefined;
        const errno = errnoOf(r.error);
        this.events?.endpointUnhealthy(this.name, r.key, {
          failure: r.failure,
          status: r.status,
          errno,
          message: r.error instanceof Error ? r.error.message : undefined,
        });
        this.#refresh(r.key);
      });
      for (const m of this.members) this.health.add(m.pool.key);
    }
  }

  /** Pick an available member, avoiding `avoid` when another is available. */
  pick(avoid?: Member, nowMs?: number): Member | undefined {
    const view = this.balancer.pick(this.views, avoid?.view, nowMs);
    if (view === undefined) return undefined;
    return this.#byKey.get(view.key);
  }

  member(key: string): Member | undefined {
    return this.#byKey.get(key);
  }

  /** Passive health: what a request's outcome says about its endpoint. */
  record(member: Member, outcome: 'success' | '5xx' | 'connect-failure' | 'reset'): void {
    this.outliers.record(member.pool.key, outcome);
  }

  close(): void {
    this.health?.close();
    this.outliers.close();
    for (const m of this.members) m.pool.close('drain');
    this.#agent?.destroy();
  }

  #refresh(key: string): void {
    const member = this.#byKey.get(key);
    if (member === undefined) return;
    const available = (this.health?.isHealthy(key) ?? true) && !this.outliers.isEjected(key);
    member.view.available = available;
    member.pool.metrics.setAvailable(available);
    const any = this.members.some((m) => m.view.available);
    if (any !== this.#anyAvailable) {
      this.#anyAvailable = any;
      if (any) this.events?.clusterHealthyEndpoint(this.name, this.members.filter((m) => m.view.available).length, this.members.length);
      else this.events?.clusterNoHealthyEndpoint(this.name, this.members.length);
    }
  }

  #probe(key: string, path: string, signal: AbortSignal): Promise<number> {
    const member = this.#byKey.get(key);
    if (member === undefined) return Promise.reject(new Error(`unknown endpoint ${key}`));
    const { host, port } = member.pool.endpoint;
    const request = this.config.tls.enabled ? https.request : http.request;
    return new Promise<number>((resolve, reject) => {
      const req = request({ host, port, path, method: 'GET', agent: this.#agent, signal, headers: { host: member.pool.endpoint.address, 'user-agent': 'lifeline-health-check' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  }
}
