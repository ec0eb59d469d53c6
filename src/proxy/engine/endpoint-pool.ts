/**
 * The kept-alive connections to one backend endpoint (HAProxy's per-server idle pool, Go's
 * per-host idle list).
 *
 * Policy
 * - Reuse the most recently used idle connection (it is the least likely to have been closed by
 *   the backend); when there are more idle connections than `maxIdlePerEndpoint`, close the
 *   least recently used.
 * - Just before reuse, probe the socket (`probeSocket`): a FIN, RST or stray byte that reached
 *   the kernel means the backend is closing it, so it is discarded, never written to. Not for a
 *   connection idle under PROBE_AFTER_IDLE_MS: the backend's idle clock started when it sent the
 *   response, so it cannot have timed out yet, and a crash in that instant is the retry's job (as
 *   it is just after any probe). Under load that spares a syscall per request.
 * - An idle connection is kept for min(pool.idleTimeoutMs, backend idle - hintMarginMs), where
 *   the backend's idle time is its `Keep-Alive: timeout` hint, else what this pool has *learned*
 *   by watching the backend close idle connections, else `defaultBackendIdleMs`. So the proxy,
 *   not the backend, closes idle connections: the side that closes first never races.
 * - A connection returned while a caller waits (maxConnectionsPerEndpoint reached) goes straight
 *   to that caller.
 * Timers are deadlines on the proxy's wheel (one write to touch, no timer per socket).
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Clock } from '../../core/clock.js';
import type { TimerWheel } from '../../core/timer-wheel.js';
import { LifelineError } from '../../core/errors.js';
import { setTcpKeepAlive } from '../../transport/tcp-keepalive.js';
import { isReusable, probeSocket } from '../../transport/socket-probe.js';
import type { TlsSessionCache } from '../../transport/tls-session-cache.js';
import type { KeepAliveHint } from '../../http/wire/index.js';
import type { ClusterConfig, EndpointConfig } from '../config/index.js';
import type { EndpointMetrics, UpstreamCloseReason } from '../metrics/index.js';
import { UpstreamConnection } from './upstream-connection.js';

/** See the policy above: reused sooner than this after release, a connection is not probed. */
const PROBE_AFTER_IDLE_MS = 1;

/**
 * Who waits for a connection. An object rather than a callback, so a client connection can be
 * its own waiter instead of holding a bound closure for its whole life.
 */
export interface PoolWaiter {
  onAcquired(error: Error | undefined, connection: UpstreamConnection | undefined, reused: boolean): void;
}

export interface PoolHost {
  wheel: TimerWheel;
  clock: Clock;
  tlsSessions: TlsSessionCache | undefined;
  /**
   * One buffer that every plain-TCP upstream socket reads into (Node's `onread` option), handed
   * to the sink as a view valid only during the call. Why: a buffer allocated per read costs an
   * ArrayBuffer that the young-generation GC must sweep, in the GC pause (V8's concurrent sweeping
   * has no spare core on a pinned proxy); at 30,000 reads a second that was most of each pause.
   */
  readBuffer: Buffer;
  /** Told of connect failures and successes, for outlier detection. */
  onConnectOutcome(endpointKey: string, ok: boolean): void;
}

/** A connect attempt that failed or timed out. */
export class UpstreamConnectError extends LifelineError {
  constructor(endpoint: string, cause: unknown, timedOut: boolean) {
    super(timedOut ? 'ERR_UPSTREAM_CONNECT_TIMEOUT' : 'ERR_UPSTREAM_CONNECT', `${timedOut ? 'timed out connecting' : 'could not connect'} to ${endpoint}`, { cause });
  }
}

let nextConnectionId = 1;
/** Below this, an observed idle close is noise (a close racing a response), not a timeout. */
const MIN_LEARNED_IDLE_MS = 100;
/** Idle closes closer together than this are one event (a backend restarting), not timeouts. */
const BURST_MS = 20;
/** A learned backend idle time is forgotten after this long without a new observation. */
const LEARNED_IDLE_TTL_MS = 60_000;

export class EndpointPool {
  readonly key: string;
  /** Idle connections, least recently used first (the MRU is at the end). */
  readonly idle: UpstreamConnection[] = [];
  active = 0;
  connecting = 0;
  /** Smallest idle time after which the backend was seen closing a connection (no hint). */
  learnedIdleMs = Number.POSITIVE_INFINITY;
  #learnedAtMs = 0;
  /** One idle-close observation waiting for a second that agrees with it. */
  #candidateMs: number | undefined;
  #candidateAtMs = 0;
  #lastIdleCloseMs = Number.NEGATIVE_INFINITY;
  #waiters: PoolWaiter[] = [];
  #closed = false;

  constructor(
    readonly endpoint: EndpointConfig,
    readonly cluster: ClusterConfig,
    readonly metrics: EndpointMetrics,
    private readonly host: PoolHost,
    /** The cluster's CA bundle for upstream TLS, read once when the cluster is built. */
    private readonly ca: Buffer | undefined,
  ) {
    this.key = endpoint.address;
  }

  get size(): number {
    return this.idle.length + this.active + this.connecting;
  }

  /** Hand a connection to `waiter`: an idle one when one is fit, else a new one. */
  acquire(waiter: PoolWaiter): void {
    if (this.#closed) {
      waiter.onAcquired(new LifelineError('ERR_POOL_CLOSED', `the pool for ${this.key} is closed`), undefined, false);
      return;
    }
    const now = this.host.clock.now();
    while (this.idle.length > 0) {
      const conn = this.idle.pop() as UpstreamConnection;
      this.host.wheel.cancel(conn.timerId);
      conn.timerId = -1;
      if (now >= conn.reuseUntilMs) {
        this.#destroy(conn, 'hint_expiry');
        continue;
      }
      if (now - conn.idleSinceMs >= PROBE_AFTER_IDLE_MS && !isReusable(probeSocket(conn.socket))) {
        this.#destroy(conn, 'stale');
        continue;
      }
      this.#activate(conn);
      waiter.onAcquired(undefined, conn, true);
      return;
    }
    const max = this.cluster.pool.maxConnectionsPerEndpoint;
    if (max > 0 && this.active + this.connecting >= max) {
      this.#waiters.push(waiter);
      return;
    }
    this.#connect(waiter);
  }

  /**
   * Take back a connection after an exchange. `reusable` is false when the exchange left it in
   * an unknown state (error, unfinished body, `Connection: close`).
   */
  release(conn: UpstreamConnection, reusable: boolean, hint: KeepAliveHint | undefined, hintSeen: boolean): void {
    conn.sink = undefined;
    if (conn.state !== 'active') return;
    this.active -= 1;
    const pool = this.cluster.pool;
    if (!reusable || this.#closed) return this.#destroy(conn, this.#closed ? 'drain' : 'remote_close', true);
    if (pool.maxRequestsPerConnection > 0 && conn.requests >= pool.maxRequestsPerConnection) return this.#destroy(conn, 'max_requests', true);
    if (hint?.max !== undefined) conn.remainingByHint = hint.max;
    else if (Number.isFinite(conn.remainingByHint)) conn.remainingByHint -= 1;
    if (conn.remainingByHint <= 0) return this.#destroy(conn, 'max_requests', true);
    const backendIdleMs = hint?.timeoutSec !== undefined ? hint.timeoutSec * 1000 : hintSeen ? pool.defaultBackendIdleMs : Math.min(this.#learned(), pool.defaultBackendIdleMs);
    // The margin is at most half the backend's idle time, so a short idle time still pools.
    const keepMs = Math.min(pool.idleTimeoutMs, backendIdleMs - Math.min(pool.hintMarginMs, backendIdleMs / 2));
    if (keepMs < 1) return this.#destroy(conn, 'hint_expiry', true);

    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      if (isReusable(probeSocket(conn.socket))) {
        this.#activate(conn);
        waiter.onAcquired(undefined, conn, true);
        return;
      }
      this.#waiters.unshift(waiter);
      return this.#destroy(conn, 'stale', true);
    }
    const now = this.host.clock.now();
    conn.state = 'idle';
    conn.idleSinceMs = now;
    conn.reuseUntilMs = now + keepMs;
    conn.timerId = this.host.wheel.add(Math.max(1, Math.floor(keepMs)), this.#onIdleExpire, conn);
    this.idle.push(conn);
    if (this.idle.length > pool.maxIdlePerEndpoint) this.#destroy(this.idle.shift() as UpstreamConnection, 'evicted');
    this.#updateGauges();
  }

  /** Close idle connections now; later releases close too. Active exchanges finish. */
  close(reason: UpstreamCloseReason = 'drain'): void {
    this.#closed = true;
    while (this.idle.length > 0) this.#destroy(this.idle.pop() as UpstreamConnection, reason);
    for (const waiter of this.#waiters.splice(0)) waiter.onAcquired(new LifelineError('ERR_POOL_CLOSED', `the pool for ${this.key} is closed`), undefined, false);
  }

  #activate(conn: UpstreamConnection): void {
    conn.state = 'active';
    conn.requests += 1;
    this.active += 1;
    this.#updateGauges();
  }

  #connect(waiter: PoolWaiter): void {
    const { host, port } = this.endpoint;
    const upstreamTls = this.cluster.tls;
    let socket: net.Socket;
    if (upstreamTls.enabled) {
      const servername = upstreamTls.servername ?? (net.isIP(host) === 0 ? host : undefined);
      const options: tls.ConnectionOptions & { host: string; port: number } = {
        host,
        port,
        rejectUnauthorized: upstreamTls.rejectUnauthorized,
        ALPNProtocols: ['http/1.1'],
        ...(servername === undefined ? {} : { servername }),
        ...(this.ca === undefined ? {} : { ca: this.ca }),
      };
      socket = this.host.tlsSessions === undefined ? tls.connect(options) : this.host.tlsSessions.connect(options);
    } else {
      // Reads land in the shared buffer: see PoolHost.readBuffer. `onData` is bound below.
      const readBuffer = this.host.readBuffer;
      const callback = (nread: number): boolean => {
        onData(readBuffer.subarray(0, nread), true);
        return true; // keep reading (false would pause the socket)
      };
      socket = net.connect({ host, port, noDelay: true, onread: { buffer: readBuffer, callback } });
    }
    const conn = new UpstreamConnection(socket, nextConnectionId++, this.host.clock.now());
    this.connecting += 1;
    let settled = false;
    const finish = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      this.connecting -= 1;
      this.host.wheel.cancel(conn.timerId);
      conn.timerId = -1;
      this.host.onConnectOutcome(this.key, error === undefined);
      if (error !== undefined) {
        this.metrics.connectFailed();
        conn.state = 'closed';
        socket.destroy();
        waiter.onAcquired(error, undefined, false);
        this.#serveWaiter();
        return;
      }
      this.metrics.connectionOpened();
      if (this.cluster.tcpKeepAlive !== null) {
        const k = this.cluster.tcpKeepAlive;
        setTcpKeepAlive(socket, { idleMs: k.idleMs, intervalMs: k.intervalMs, count: k.count, ...(k.userTimeoutMs === null ? {} : { userTimeoutMs: k.userTimeoutMs }) });
      }
      this.#activate(conn);
      waiter.onAcquired(undefined, conn, false);
    };
    conn.timerId = this.host.wheel.add(this.cluster.timeouts.connectTimeoutMs, () => {
      conn.timerId = -1;
      finish(new UpstreamConnectError(this.key, undefined, true));
    });
    socket.once(upstreamTls.enabled ? 'secureConnect' : 'connect', () => finish(undefined));
    const onData = (chunk: Buffer, shared: boolean): void => {
      if (conn.state === 'active' && conn.sink !== undefined) conn.sink.onUpstreamData(chunk, shared);
      else if (conn.state === 'idle') this.#destroy(conn, 'stale'); // a server does not speak first
    };
    if (upstreamTls.enabled) socket.on('data', (chunk: Buffer) => onData(chunk, false));
    socket.on('drain', () => conn.sink?.onUpstreamDrain());
    let failure: Error | undefined;
    socket.on('error', (error: Error) => {
      failure = error;
      if (!settled) finish(new UpstreamConnectError(this.key, error, false));
    });
    socket.on('end', () => {
      // The backend closed its side. Idle: it timed out the connection; learn how long it waits.
      if (conn.state === 'idle') this.#learn(conn);
      socket.end();
    });
    socket.on('close', () => this.#onClose(conn, failure));
  }

  /**
   * Learn from idle connections the backend closed. A backend with an idle timeout closes every
   * idle connection at about the same age, so a value is learned only when two closes agree
   * (within half of each other); one close may as well be a restart. Several idle connections
   * closed at once are a restart or shutdown (each timeout runs on its own clock) and teach
   * nothing. A learned value is forgotten after LEARNED_IDLE_TTL_MS without a new observation.
   */
  #learn(conn: UpstreamConnection): void {
    const now = this.host.clock.now();
    const idleMs = now - conn.idleSinceMs;
    const burst = now - this.#lastIdleCloseMs < BURST_MS;
    this.#lastIdleCloseMs = now;
    if (burst) {
      this.#candidateMs = undefined;
      return;
    }
    if (idleMs < MIN_LEARNED_IDLE_MS) return;
    const candidate = this.#candidateMs;
    if (candidate !== undefined && Math.abs(idleMs - candidate) <= Math.max(idleMs, candidate) / 2 && now - this.#candidateAtMs < LEARNED_IDLE_TTL_MS) {
      const learned = Math.min(idleMs, candidate);
      if (learned < this.#learned() || now - this.#learnedAtMs > LEARNED_IDLE_TTL_MS / 2) this.learnedIdleMs = learned;
      this.#learnedAtMs = now;
      this.#candidateMs = undefined;
      return;
    }
    this.#candidateMs = idleMs;
    this.#candidateAtMs = now;
  }

  #learned(): number {
    if (Number.isFinite(this.learnedIdleMs) && this.host.clock.now() - this.#learnedAtMs > LEARNED_IDLE_TTL_MS) this.learnedIdleMs = Number.POSITIVE_INFINITY;
    return this.learnedIdleMs;
  }

  #onClose(conn: UpstreamConnection, failure: Error | undefined): void {
    const previous = conn.state;
    conn.state = 'closed';
    if (conn.timerId !== -1) {
      this.host.wheel.cancel(conn.timerId);
      conn.timerId = -1;
    }
    if (previous === 'connecting') return; // counted as a connect failure
    if (previous === 'idle') {
      const at = this.idle.indexOf(conn);
      if (at !== -1) this.idle.splice(at, 1);
    }
    if (previous === 'active') {
      this.active -= 1;
      this.metrics.destroyedByRemoteWithActiveRequest();
      const sink = conn.sink;
      conn.sink = undefined;
      // undefined for a clean close (FIN): the end of a close-delimited response, for instance.
      sink?.onUpstreamClose(failure);
    }
    const reason: UpstreamCloseReason = (conn.closeReason as UpstreamCloseReason | undefined) ?? (failure === undefined ? 'remote_close' : 'error');
    this.metrics.connectionClosed(reason, conn.requests);
    this.#updateGauges();
    this.#serveWaiter();
  }

  /** `released`: the connection was active and `active` was already decremented. */
  #destroy(conn: UpstreamConnection, reason: UpstreamCloseReason, released = false): void {
    if (conn.state === 'closed') return;
    if (conn.timerId !== -1) {
      this.host.wheel.cancel(conn.timerId);
      conn.timerId = -1;
    }
    if (released) conn.state = 'idle'; // so 'close' does not count it as active again
    if (conn.state === 'idle') {
      const at = this.idle.indexOf(conn);
      if (at !== -1) this.idle.splice(at, 1);
    }
    conn.closeReason = reason;
    conn.sink = undefined;
    conn.socket.destroy();
    this.#updateGauges();
  }

  readonly #onIdleExpire = (_id: number, data: unknown): void => {
    const conn = data as UpstreamConnection;
    conn.timerId = -1;
    this.#destroy(conn, 'idle_timeout');
  };

  #serveWaiter(): void {
    if (this.#waiters.length === 0 || this.#closed) return;
    const max = this.cluster.pool.maxConnectionsPerEndpoint;
    if (max > 0 && this.active + this.connecting >= max) return;
    const waiter = this.#waiters.shift() as PoolWaiter;
    this.#connect(waiter);
  }

  #updateGauges(): void {
    this.metrics.setPool(this.idle.length, this.active);
  }
}
