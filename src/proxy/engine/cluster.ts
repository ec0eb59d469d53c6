/**
 * A cluster at run time: its endpoints' pools, the balancer's view of them, active health
 * checks and passive outlier detection, all tied together.
 *
 * An endpoint is `available` when its active check says healthy and outlier detection has not
 * ejected it; the balancer only picks available endpoints. Health checks go over kept-alive
 * connections of lifeline's own agent (lifeline/agent), so a check costs a request, not a
 * handshake.
 *
 * Membership changes at run time (DNS, the endpoints file, the admin API): `addMember` joins an
 * endpoint with fresh health and outlier state; `removeMember` drains one: it leaves the
 * balancer's list at once (never picked again), its idle connections close at once, requests in
 * flight finish on it, and it leaves `members` when its pool has nothing active or connecting;
 * `setWeight` changes a weight in place. An address that stays keeps its pool, health and
 * outlier state.
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { KeepAliveAgent, HttpsKeepAliveAgent } from '../../http/client/index.js';
import { createBalancer, createEndpoint, LatencyEwma } from '../balancer/index.js';
import type { Balancer, UpstreamEndpoint } from '../balancer/index.js';
import { hashKey } from '../balancer/hash-on.js';
import type { HashableHead } from '../balancer/hash-on.js';
import { ActiveHealthChecker, OutlierDetector } from '../health/index.js';
import type { ClusterConfig, EndpointConfig } from '../config/index.js';
import type { ClusterMetrics } from '../metrics/index.js';
import { errnoOf } from '../log/index.js';
import type { EventLog } from '../log/index.js';
import { EndpointPool } from './endpoint-pool.js';
import { Http2UpstreamPool } from './http2-upstream-pool.js';
import type { PoolHost } from './endpoint-pool.js';

export interface Member {
  view: UpstreamEndpoint;
  pool: EndpointPool;
  /** `protocol: http2` clusters: the multiplexed connections. `pool` then serves only upgrades
   * (WebSocket), which go over HTTP/1.1. */
  h2: Http2UpstreamPool | undefined;
  /** Removed from the cluster: never picked, gone from `members` once its pool is quiet. */
  draining: boolean;
}

/** Nothing active or connecting on a member's connections, HTTP/1 and HTTP/2. */
export function memberQuiet(m: Member): boolean {
  return m.pool.activeCount === 0 && m.pool.connectingCount === 0 && (m.h2 === undefined || m.h2.busy === 0);
}

/** How often a draining member's pool is looked at until nothing is active or connecting. */
const DRAIN_CHECK_MS = 100;

export class Cluster {
  readonly name: string;
  /** Every member, draining ones included (their in-flight requests still count). */
  readonly members: Member[] = [];
  /** What the balancer picks from: the members that are not draining. */
  readonly views: UpstreamEndpoint[] = [];
  readonly balancer: Balancer;
  readonly latency: LatencyEwma;
  readonly outliers: OutlierDetector;
  readonly health: ActiveHealthChecker | undefined;
  readonly #byKey = new Map<string, Member>();
  #agent: http.Agent | undefined;
  /** Whether some endpoint was available at the last health or ejection change (for the log). */
  #anyAvailable = true;
  readonly #host: PoolHost;
  readonly #ca: Buffer | undefined;
  #drainTimer: TimerHandle | undefined;
  #closed = false;

  constructor(
    readonly config: ClusterConfig,
    readonly metrics: ClusterMetrics,
    host: PoolHost,
    clock: Clock,
    readonly events?: EventLog,
  ) {
    this.name = config.name;
    this.#host = host;
    this.latency = new LatencyEwma({ clock });
    this.balancer = createBalancer(config.balancer, { latency: this.latency });
    const ca = config.tls.caFile === null ? undefined : readFileSync(config.tls.caFile);
    this.#ca = ca;
    for (const endpoint of config.endpoints) this.#join(endpoint);
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

  /**
   * Pick an available member, avoiding `avoid` when another is available. `key`: the request's
   * hash key (see `keyOf`) for ring-hash and maglev.
   */
  pick(avoid?: Member, nowMs?: number, key?: string): Member | undefined {
    const view = this.balancer.pick(this.views, avoid?.view, nowMs, key);
    if (view === undefined) return undefined;
    return this.#byKey.get(view.key);
  }

  /** The request's hash key under the cluster's `hashOn`; undefined without one. */
  keyOf(head: HashableHead, clientAddress: string): string | undefined {
    const spec = this.config.hashOn;
    if (spec === null) return undefined;
    // A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d; one client, one key.
    const address = clientAddress.startsWith('::ffff:') && clientAddress.includes('.') ? clientAddress.slice(7) : clientAddress;
    return hashKey(spec, head, address);
  }

  /** Join an endpoint with fresh health and outlier state; an existing address is left alone. */
  addMember(endpoint: EndpointConfig): boolean {
    if (this.#closed) return false;
    const existing = this.#byKey.get(endpoint.address);
    if (existing !== undefined && !existing.draining) return false;
    // Back while its old pool still drains: the old member finishes its requests on its own.
    if (existing !== undefined) this.#forget(existing);
    const member = this.#join(endpoint);
    this.outliers.add(member.pool.key);
    this.health?.add(member.pool.key);
    this.#refresh(member.pool.key);
    return true;
  }

  /** Drain an endpoint (see the module comment). False when the address is not a member. */
  removeMember(address: string): boolean {
    const member = this.#byKey.get(address);
    if (member === undefined || member.draining) return false;
    member.draining = true;
    member.view.available = false;
    member.pool.metrics.setAvailable(false);
    const at = this.views.indexOf(member.view);
    if (at !== -1) this.views.splice(at, 1);
    this.health?.remove(address);
    this.outliers.remove(address);
    member.pool.close('drain');
    member.h2?.close('drain');
    this.#sweep();
    return true;
  }

  /** Set a member's weight in place. False when the address is not a member. */
  setWeight(address: string, weight: number): boolean {
    const member = this.#byKey.get(address);
    if (member === undefined || member.draining) return false;
    member.view.weight = weight;
    return true;
  }

  member(key: string): Member | undefined {
    return this.#byKey.get(key);
  }

  /** Passive health: what a request's outcome says about its endpoint. */
  record(member: Member, outcome: 'success' | '5xx' | 'connect-failure' | 'reset'): void {
    this.outliers.record(member.pool.key, outcome);
  }

  close(): void {
    this.#closed = true;
    this.#drainTimer?.cancel();
    this.#drainTimer = undefined;
    this.health?.close();
    this.outliers.close();
    for (const m of this.members) {
      m.pool.close('drain');
      m.h2?.close('drain');
    }
    this.#agent?.destroy();
  }

  #join(endpoint: EndpointConfig): Member {
    const view = createEndpoint(endpoint.address, { weight: endpoint.weight });
    const pool = new EndpointPool(endpoint, this.config, this.metrics.endpoint(endpoint.address), this.#host, this.#ca);
    const h2 = this.config.protocol === 'http2' ? new Http2UpstreamPool(endpoint, this.config, pool.metrics, this.#host, this.#ca) : undefined;
    const member = { view, pool, h2, draining: false };
    this.members.push(member);
    this.views.push(view);
    this.#byKey.set(endpoint.address, member);
    pool.metrics.setAvailable(true);
    return member;
  }

  /** A drained member leaves the lists (its pool is closed already). */
  #forget(member: Member): void {
    const at = this.members.indexOf(member);
    if (at !== -1) this.members.splice(at, 1);
    if (this.#byKey.get(member.pool.key) === member) {
      this.#byKey.delete(member.pool.key);
      this.metrics.removeEndpoint(member.pool.key);
    }
  }

  /** Forget the draining members whose pools are quiet; look again later while some are busy. */
  #sweep(): void {
    this.#drainTimer?.cancel();
    this.#drainTimer = undefined;
    let busy = false;
    for (const m of [...this.members]) {
      if (!m.draining) continue;
      if (memberQuiet(m)) this.#forget(m);
      else busy = true;
    }
    if (busy && !this.#closed) this.#drainTimer = this.#host.clock.setTimer(() => this.#sweep(), DRAIN_CHECK_MS);
  }

  #refresh(key: string): void {
    const member = this.#byKey.get(key);
    if (member === undefined || member.draining) return;
    const available = (this.health?.isHealthy(key) ?? true) && !this.outliers.isEjected(key);
    member.view.available = available;
    member.pool.metrics.setAvailable(available);
    const any = this.views.some((v) => v.available);
    if (any !== this.#anyAvailable) {
      this.#anyAvailable = any;
      if (any) this.events?.clusterHealthyEndpoint(this.name, this.views.filter((v) => v.available).length, this.views.length);
      else this.events?.clusterNoHealthyEndpoint(this.name, this.views.length);
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
