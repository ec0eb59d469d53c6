/**
 * The HTTP/2 connections to one backend endpoint (`protocol: http2`): one multiplexed connection
 * carries streams up to its limit (ours, capped by the backend's SETTINGS_MAX_CONCURRENT_STREAMS),
 * then another is opened, up to `pool.maxConnectionsPerEndpoint`; beyond that, callers wait.
 * One list per state (Envoy's conn_pool_base), every move through the StateTable.
 *
 * Policy
 * - A stream goes on the busiest connection with room (`ready`, most recent first), else on the
 *   most recently used idle one, else a new connection is dialled, unless connections being
 *   dialled already have room for every waiting caller (their streams go there once connected).
 * - An idle connection silent `pingBeforeReuseMs` or longer is PINGed first (state `probing`);
 *   callers wait for the answer, and a connection that does not answer is closed.
 * - A connection with no stream for `pool.idleTimeoutMs` is closed with GOAWAY(NO_ERROR).
 *   `pool.maxRequestsPerConnection` retires a connection (draining: open streams finish).
 * - A GOAWAY from the backend: the connection takes no new stream; Node (nghttp2) fails the
 *   streams above its last-stream-id with REFUSED_STREAM, and the exchange sends them again
 *   (src/http/retry-rule.ts: `refused`), whatever their method.
 * - `fresh` wants (a retry after this endpoint failed) get a new connection.
 * - Streams go on a connection once it is up (no round trip spent waiting, as Envoy), but no
 *   SETTINGS within `timeouts.connectTimeoutMs` of the dial closes it and fails its waiting callers.
 */
import type http2 from 'node:http2';
import type { Clock } from '../../core/clock.js';
import type { TimerWheel } from '../../core/timer-wheel.js';
import { LifelineError } from '../../core/errors.js';
import { StateTable } from '../../core/state-table.js';
import { reasonFromError } from '../../core/close-reason.js';
import type { CloseReason } from '../../core/close-reason.js';
import { setTcpKeepAlive } from '../../transport/tcp-keepalive.js';
import type { TlsSessionCache } from '../../transport/tls-session-cache.js';
import type { ClusterConfig, EndpointConfig } from '../config/index.js';
import type { EndpointMetrics } from '../metrics/index.js';
import { Http2UpstreamPinger } from './http2-upstream-ping.js';
import { Http2UpstreamSession, HTTP2_SESSION_MOVES } from './http2-upstream-session.js';
import type { Http2SessionState } from './http2-upstream-session.js';
import { alpnRefusal, dialHttp2Upstream, UpstreamConnectError } from './upstream-dial.js';
import { PoolWant } from './pool-want.js';

/** Who waits for a stream slot. */
export interface Http2Waiter {
  onSession(error: Error | undefined, session: Http2UpstreamSession | undefined, reused: boolean): void;
}

/** A wait for a stream slot (pool-want.ts). */
export type Http2Want = PoolWant<Http2Waiter>;

export interface Http2PoolHost {
  wheel: TimerWheel;
  clock: Clock;
  tlsSessions: TlsSessionCache | undefined;
  onConnectOutcome(endpointKey: string, ok: boolean): void;
}

let nextSessionId = 1;

export class Http2UpstreamPool {
  readonly key: string;
  readonly #table = new StateTable<Http2SessionState, Http2UpstreamSession>('HTTP/2 upstream connection', HTTP2_SESSION_MOVES, ['connecting', 'idle', 'ready', 'full', 'probing', 'draining']);
  #wants: Http2Want[] = [];
  /** The backend's stream limit, once one of its SETTINGS said it (0: not yet known). */
  #knownLimit = 0;
  #closed = false;
  #closeReason: CloseReason = 'drain';
  readonly #pinger: Http2UpstreamPinger;

  constructor(
    readonly endpoint: EndpointConfig,
    readonly cluster: ClusterConfig,
    readonly metrics: EndpointMetrics,
    private readonly host: Http2PoolHost,
    private readonly ca: Buffer | undefined,
  ) {
    this.key = endpoint.address;
    this.#pinger = new Http2UpstreamPinger(host.wheel, cluster, metrics, (session) => {
      this.#destroy(session, 'heartbeat_timeout');
      this.#serveWants();
    });
  }

  /** Connections by state, and streams open (for /stats). */
  count(state: Http2SessionState): number {
    return this.#table.count(state);
  }
  get size(): number {
    return this.#table.size;
  }
  get streams(): number {
    let n = 0;
    for (const state of ['ready', 'full', 'draining'] as const) for (const s of this.#table.list(state)) n += s.streams;
    return n;
  }
  /** Connections carrying streams, or dialling: what a drain waits for. */
  get busy(): number {
    return this.#table.count('ready') + this.#table.count('full') + this.#table.count('connecting') + this.#table.count('probing') + this.#table.count('draining');
  }
  get waiting(): number {
    return this.#wants.length;
  }

  /** A stream slot for `waiter`: now (returns null), or later (returns the want to cancel). */
  acquire(waiter: Http2Waiter, fresh = false): Http2Want | null {
    if (this.#closed) {
      waiter.onSession(new LifelineError('ERR_POOL_CLOSED', `the pool for ${this.key} is closed`), undefined, false);
      return null;
    }
    if (!fresh) {
      const session = this.#pick();
      if (session !== undefined) {
        this.#take(session, waiter);
        return null;
      }
    }
    const want = new PoolWant<Http2Waiter>(waiter, fresh, this);
    this.#wants.push(want);
    this.#serveWants();
    return want;
  }

  /** @internal Http2Want.cancel. */
  forget(want: Http2Want): void {
    const at = this.#wants.indexOf(want);
    if (at !== -1) this.#wants.splice(at, 1);
  }

  /** A stream on `session` ended: its slot is free. */
  release(session: Http2UpstreamSession): void {
    session.streams -= 1;
    if (session.state === 'closed') return;
    if (session.state === 'draining') {
      if (session.streams === 0) this.#destroy(session, session.retiredAs ?? 'drain');
      return;
    }
    if (this.#closed) {
      if (session.streams === 0) this.#destroy(session, this.#closeReason);
      return;
    }
    const next = session.fits();
    if (next === 'idle') session.idleSinceMs = this.host.clock.now();
    this.#move(session, next);
    if (next === 'idle') session.timerId = this.host.wheel.add(this.cluster.pool.idleTimeoutMs, this.#onIdleExpire, session);
    this.#serveWants();
  }

  /** A stream on `session` failed in a way that says the connection is dead (no PING answer, say). */
  fail(session: Http2UpstreamSession, reason: CloseReason): void {
    this.#destroy(session, reason);
  }

  /** Idle connections close now (GOAWAY); busy ones finish their streams first. */
  close(reason: CloseReason = 'drain'): void {
    this.#closed = true;
    this.#closeReason = reason;
    // Dialling ones too (a TLS handshake that hangs, say): the pool's timers stop with the proxy.
    for (const state of ['idle', 'probing', 'connecting'] as const) for (const s of this.#table.list(state)) this.#destroy(s, reason);
    for (const state of ['ready', 'full'] as const) for (const s of this.#table.list(state)) this.#retire(s, reason);
    for (const want of this.#wants.splice(0)) want.waiter.onSession(new LifelineError('ERR_POOL_CLOSED', `the pool for ${this.key} is closed`), undefined, false);
  }

  /** Drop idle connections after a failure on this endpoint (their siblings may be dying too). */
  purgeIdle(): void {
    for (const s of this.#table.list('idle')) this.#destroy(s, 'stale');
  }

  // ---- picking ------------------------------------------------------------------------------

  /** A session with room that needs no PING first; an idle one due for a PING is sent probing. */
  #pick(): Http2UpstreamSession | undefined {
    const now = this.host.clock.now();
    const ready = this.#table.list('ready');
    for (let s = ready.tail; s !== undefined; s = ready.tail) {
      if (now < s.retireAtMs) return s;
      this.#retire(s, 'max_age'); // old enough: its streams finish, no new one
    }
    const idle = this.#table.list('idle');
    const pingAfter = this.cluster.http2.pingBeforeReuseMs;
    for (let s = idle.tail; s !== undefined; s = idle.tail) {
      if (now >= s.retireAtMs) {
        this.#destroy(s, 'max_age');
        continue;
      }
      if (pingAfter > 0 && now - s.idleSinceMs >= pingAfter) {
        this.#probe(s);
        continue;
      }
      return s;
    }
    return undefined;
  }

  #take(session: Http2UpstreamSession, waiter: Http2Waiter): void {
    const reused = session.requests > 0;
    session.streams += 1;
    session.requests += 1;
    const max = this.cluster.pool.maxRequestsPerConnection;
    if (max > 0 && session.requests >= max) this.#retire(session, 'max_requests');
    else this.#move(session, session.fits());
    this.metrics.requestSent(reused);
    waiter.onSession(undefined, session, reused);
  }

  /** Serve waiting callers: connections with room first, then new connections as allowed. */
  #serveWants(): void {
    if (this.#closed) return;
    while (this.#wants.length > 0) {
      const want = this.#wants[0] as Http2Want;
      const session = want.fresh ? undefined : this.#pick();
      if (session !== undefined) {
        this.#wants.shift();
        this.#take(session, want.waiter);
        continue;
      }
      // Room coming on connections being dialled (or probed) covers the waiting callers? Until the
      // backend's limit is known, one connection is dialled and its SETTINGS awaited, so a burst
      // at start opens ceil(burst / limit) connections, not ceil(burst / a guess).
      if (!want.fresh && this.#knownLimit === 0 && this.#table.size - this.#table.count('draining') > 0) return;
      let coming = 0;
      for (const s of this.#table.list('connecting')) coming += s.limit;
      for (const s of this.#table.list('probing')) coming += s.limit;
      if (coming >= this.#wants.length && !want.fresh) return;
      const max = this.cluster.pool.maxConnectionsPerEndpoint;
      if (max > 0 && this.#table.size - this.#table.count('draining') >= max) return;
      if (want.fresh) this.#wants.shift();
      this.#connect(want.fresh ? want : null);
      if (!want.fresh) return; // the new connection serves the queue when it is up
    }
  }

  // ---- keep-alive ---------------------------------------------------------------------------

  #probe(session: Http2UpstreamSession): void {
    this.#move(session, 'probing');
    this.#pinger.ping(session, () => {
      if (session.state !== 'probing') return;
      session.idleSinceMs = this.host.clock.now();
      this.#move(session, 'idle');
      session.timerId = this.host.wheel.add(this.cluster.pool.idleTimeoutMs, this.#onIdleExpire, session);
      this.#serveWants();
    });
  }

  readonly #onIdleExpire = (_id: number, data: unknown): void => {
    const session = data as Http2UpstreamSession;
    session.timerId = -1;
    if (session.state === 'idle') this.#destroy(session, 'idle_timeout');
  };

  /** No SETTINGS within connectTimeoutMs of the dial: not HTTP/2. Its streams and waiting callers
   * fail now, not at their response timeouts (a dial still under way is the connect timeout's). */
  readonly #onNoSettings = (_id: number, data: unknown): void => {
    const session = data as Http2UpstreamSession;
    session.settingsTimerId = -1;
    if (session.state === 'closed' || session.state === 'connecting') return;
    this.#destroy(session, 'handshake_timeout');
    const error = new UpstreamConnectError(this.key, new Error('the backend sent no HTTP/2 SETTINGS'), true);
    for (const want of this.#wants.splice(0, Math.max(1, session.limit))) want.waiter.onSession(error, undefined, false);
    this.#serveWants();
  };

  // ---- connections --------------------------------------------------------------------------

  #connect(fresh: Http2Want | null): void {
    const upstreamTls = this.cluster.tls;
    const now = this.host.clock.now();
    const { socket, h2 } = dialHttp2Upstream(this.endpoint, upstreamTls, this.ca, this.host.tlsSessions);
    const session = new Http2UpstreamSession(h2, nextSessionId++, now, this.cluster.http2.maxConcurrentStreams);
    if (this.#knownLimit > 0) session.limit = this.#knownLimit;
    const maxAgeMs = this.cluster.http2.maxConnectionAgeMs;
    // 90-100 % of the age, so connections opened together do not all retire together.
    if (maxAgeMs > 0) session.retireAtMs = now + maxAgeMs * (0.9 + Math.random() * 0.1);
    this.#table.add(session, 'connecting');
    let settled = false;
    const finish = (error: Error | undefined): void => {
      if (settled) return;
      if ((session.state as string) === 'closed') {
        // Closed by close() while it was dialled: its caller, if any, learns the pool is gone.
        settled = true;
        if (fresh !== null && !fresh.cancelled) fresh.waiter.onSession(new LifelineError('ERR_POOL_CLOSED', `the pool for ${this.key} is closed`), undefined, false);
        return;
      }
      settled = true;
      this.host.onConnectOutcome(this.key, error === undefined);
      if (session.timerId !== -1) this.host.wheel.cancel(session.timerId);
      session.timerId = -1;
      if (error !== undefined) {
        this.metrics.connectFailed();
        if (session.state !== 'closed') this.#table.move(session, 'closed');
        h2.destroy();
        if (fresh !== null && !fresh.cancelled) fresh.waiter.onSession(error, undefined, false);
        // Callers waiting for this connection: fail the ones it would have served (a dead endpoint
        // must not hold them until their own timeouts), the rest wait on.
        for (const want of this.#wants.splice(0, Math.max(1, session.limit))) want.waiter.onSession(error, undefined, false);
        this.#serveWants();
        return;
      }
      this.metrics.connectionOpened();
      session.opened = true;
      const k = this.cluster.tcpKeepAlive;
      if (k !== null) setTcpKeepAlive(socket, { idleMs: k.idleMs, intervalMs: k.intervalMs, count: k.count, ...(k.userTimeoutMs === null ? {} : { userTimeoutMs: k.userTimeoutMs }) });
      this.#pinger.start(session);
      this.#move(session, 'idle');
      session.idleSinceMs = this.host.clock.now();
      session.heardAtCheck = -1; // a new connection is not pinged before its first stream
      if (fresh !== null && !fresh.cancelled) this.#take(session, fresh.waiter);
      if (session.state === 'idle') session.timerId = this.host.wheel.add(this.cluster.pool.idleTimeoutMs, this.#onIdleExpire, session);
      this.#serveWants();
    };
    session.timerId = this.host.wheel.add(this.cluster.timeouts.connectTimeoutMs, () => {
      session.timerId = -1;
      finish(new UpstreamConnectError(this.key, undefined, true));
    });
    session.settingsTimerId = this.host.wheel.add(this.cluster.timeouts.connectTimeoutMs, this.#onNoSettings, session);
    h2.once('connect', () => {
      const refused = upstreamTls.enabled ? alpnRefusal(socket) : undefined;
      if (refused !== undefined) return finish(new UpstreamConnectError(this.key, refused, false));
      finish(undefined);
    });
    h2.on('remoteSettings', (settings: http2.Settings) => {
      if (session.settingsTimerId !== -1) this.host.wheel.cancel(session.settingsTimerId);
      session.settingsTimerId = -1;
      session.settingsArrived(settings.maxConcurrentStreams);
      this.#knownLimit = session.limit;
      const fits = session.fits();
      if ((session.state === 'ready' || session.state === 'full') && fits !== session.state) this.#move(session, fits);
      this.#serveWants();
    });
    h2.on('goaway', () => {
      session.goaway = true;
      this.metrics.goawayReceived();
      if (session.state !== 'closed' && session.state !== 'draining' && session.state !== 'connecting') this.#retire(session, 'peer_close');
    });
    h2.on('error', (error: Error) => {
      session.failure = error;
      if (!settled) finish(new UpstreamConnectError(this.key, error, false));
    });
    h2.on('close', () => {
      // Closed before 'connect' without an error: a failed dial all the same (or, after close(),
      // its caller learns the pool is gone).
      if (!settled) finish(new UpstreamConnectError(this.key, session.failure ?? new Error('the connection closed before the HTTP/2 session was up'), false));
      this.#onClose(session);
    });
  }

  /** No new stream; the connection closes when its last stream ends. */
  #retire(session: Http2UpstreamSession, reason: CloseReason): void {
    session.retiredAs = reason;
    this.#move(session, 'draining');
    if (session.streams === 0) this.#destroy(session, reason);
  }

  #onClose(session: Http2UpstreamSession): void {
    this.#cancelTimers(session);
    const previous = session.state;
    if (previous !== 'closed') this.#table.move(session, 'closed');
    this.metrics.setPool(this.#table.count('idle'), this.#table.count('ready') + this.#table.count('full'));
    // Only a connection counted opened is counted closed: a failed dial is a connect failure (as
    // in the HTTP/1 pool), and one that close() ended while it was dialled is neither.
    if (!session.opened) return;
    if (session.closeReason === undefined) {
      const failure = session.failure;
      session.closeReason = failure === undefined ? (session.goaway ? 'peer_close' : previous === 'idle' ? 'peer_idle_close' : 'peer_close') : reasonFromError(failure);
      if (session.streams > 0) this.metrics.destroyedByRemoteWithActiveRequest();
    }
    this.metrics.connectionClosed(session.closeReason, session.requests);
    this.#serveWants();
  }

  /** Close now: GOAWAY(NO_ERROR) and end, or destroy a connection that failed. */
  #destroy(session: Http2UpstreamSession, reason: CloseReason): void {
    if (session.state === 'closed') return;
    const dialling = session.state === 'connecting';
    this.#cancelTimers(session);
    this.#table.move(session, 'closed');
    this.metrics.setPool(this.#table.count('idle'), this.#table.count('ready') + this.#table.count('full'));
    session.closeReason = reason;
    // A dead or suspect connection goes at once (its streams fail now and fail over where safe);
    // otherwise GOAWAY(NO_ERROR), and what is open finishes.
    if (dialling || reason === 'heartbeat_timeout' || reason === 'handshake_timeout' || reason === 'stale' || reason === 'drain_forced') session.session.destroy();
    else session.session.close();
  }

  #cancelTimers(session: Http2UpstreamSession): void {
    if (session.timerId !== -1) this.host.wheel.cancel(session.timerId);
    session.timerId = -1;
    if (session.pingTimerId !== -1) this.host.wheel.cancel(session.pingTimerId);
    session.pingTimerId = -1;
    if (session.settingsTimerId !== -1) this.host.wheel.cancel(session.settingsTimerId);
    session.settingsTimerId = -1;
  }

  #move(session: Http2UpstreamSession, next: Http2SessionState): void {
    if (session.timerId !== -1 && session.state === 'idle') {
      this.host.wheel.cancel(session.timerId);
      session.timerId = -1;
    }
    this.#table.move(session, next);
    this.metrics.setPool(this.#table.count('idle'), this.#table.count('ready') + this.#table.count('full'));
  }
}
