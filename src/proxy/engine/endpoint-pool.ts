/**
 * The kept-alive connections to one backend endpoint (HAProxy's per-server idle pool, Go's
 * per-host idle list), as an explicit state machine: one list per state (Envoy's
 * conn_pool_base), every move through `#move`, which rejects an illegal one.
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
 *   by watching the backend close idle connections (idle-learner.ts), else
 *   `defaultBackendIdleMs`. So the proxy, not the backend, closes idle connections: the side
 *   that closes first never races.
 * - A connection returned while a caller waits (maxConnectionsPerEndpoint reached) goes straight
 *   to that caller. A caller that goes away cancels its want (Go's wantConn.cancel): it leaves
 *   the queue, and a connection already being dialled for it joins the idle list for the next.
 * - `fresh` wants (a retry after this endpoint failed) never take a pooled connection.
 * Timers are deadlines on the proxy's wheel (one write to touch, no timer per socket).
 */
import type { Clock } from '../../core/clock.js';
import type { TimerWheel } from '../../core/timer-wheel.js';
import { LifelineError } from '../../core/errors.js';
import { StateTable } from '../../core/state-table.js';
import { reasonFromError } from '../../core/close-reason.js';
import type { CloseReason } from '../../core/close-reason.js';
import { setTcpKeepAlive } from '../../transport/tcp-keepalive.js';
import { isReusable, probeSocket } from '../../transport/socket-probe.js';
import type { TlsSessionCache } from '../../transport/tls-session-cache.js';
import type { KeepAliveHint } from '../../http/wire/index.js';
import type { ClusterConfig, EndpointConfig } from '../config/index.js';
import type { EndpointMetrics } from '../metrics/index.js';
import { UpstreamConnection, UPSTREAM_TRANSITIONS } from './upstream-connection.js';
import type { UpstreamState } from './upstream-connection.js';
import { IdleLearner } from './idle-learner.js';
import { PoolWant as GenericWant } from './pool-want.js';
import { dialUpstream, UpstreamConnectError } from './upstream-dial.js';

/** See the policy above: reused sooner than this after release, a connection is not probed. */
const PROBE_AFTER_IDLE_MS = 1;

/**
 * Who waits for a connection. An object rather than a callback, so an exchange can be its own
 * waiter instead of holding a bound closure.
 */
export interface PoolWaiter {
  onAcquired(error: Error | undefined, connection: UpstreamConnection | undefined, reused: boolean): void;
}

/** A wait for a connection that was not answered at once (pool-want.ts). */
export type PoolWant = GenericWant<PoolWaiter>;

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
  /** Told when the pool learns (ms) or forgets (null) a backend's idle timeout. */
  onIdleLearned?(cluster: string, endpointKey: string, learnedMs: number | null, previousMs: number): void;
}

let nextConnectionId = 1;

export class EndpointPool {
  readonly key: string;
  readonly #table = new StateTable<UpstreamState, UpstreamConnection>('upstream connection', UPSTREAM_TRANSITIONS, ['connecting', 'idle', 'active']);
  readonly #learner: IdleLearner;
  #wants: PoolWant[] = [];
  #closed = false;
  #closeReason: CloseReason = 'drain';

  constructor(
    readonly endpoint: EndpointConfig,
    readonly cluster: ClusterConfig,
    readonly metrics: EndpointMetrics,
    private readonly host: PoolHost,
    /** The cluster's CA bundle for upstream TLS, read once when the cluster is built. */
    private readonly ca: Buffer | undefined,
  ) {
    this.key = endpoint.address;
    this.#learner = new IdleLearner(host.clock, (learnedMs, previousMs) => host.onIdleLearned?.(cluster.name, this.key, learnedMs, previousMs));
  }

  /** The backend's last `Keep-Alive: timeout` hint, ms (null: it sent none). */
  lastHintMs: number | null = null;

  /** How long a connection released now would be kept idle (the hint, or the learned or assumed idle, less the margin). */
  get effectiveIdleMs(): number {
    return Math.max(0, this.#keepMs(this.lastHintMs === null ? undefined : { timeoutSec: this.lastHintMs / 1000 }, this.lastHintMs !== null));
  }

  get idleCount(): number {
    return this.#table.count('idle');
  }
  get activeCount(): number {
    return this.#table.count('active');
  }
  get connectingCount(): number {
    return this.#table.count('connecting');
  }
  get size(): number {
    return this.#table.size;
  }
  /** Smallest idle time after which the backend was seen closing a connection (Infinity: none). */
  get learnedIdleMs(): number {
    return this.#learner.value();
  }
  /** Callers waiting for a connection. */
  get waiting(): number {
    return this.#wants.length;
  }

  /**
   * Hand a connection to `waiter`: an idle one when one is fit (unless `fresh`), else a new one.
   * Returns null when answered already, else the want to cancel if the caller goes away.
   */
  acquire(waiter: PoolWaiter, fresh = false): PoolWant | null {
    if (this.#closed) {
      waiter.onAcquired(new LifelineError('ERR_POOL_CLOSED', `the pool for ${this.key} is closed`), undefined, false);
      return null;
    }
    if (!fresh) {
      const conn = this.#takeIdle();
      if (conn !== undefined) {
        waiter.onAcquired(undefined, conn, true);
        return null;
      }
    }
    const want = new GenericWant<PoolWaiter>(waiter, fresh, this);
    if (this.#atMax()) this.#wants.push(want);
    else this.#connect(want);
    return want;
  }

  /** @internal PoolWant.cancel: a queued want leaves the queue (a dial in progress goes idle). */
  forget(want: PoolWant): void {
    const at = this.#wants.indexOf(want);
    if (at !== -1) this.#wants.splice(at, 1);
  }

  /**
   * Take back a connection after an exchange: `reuse` when the exchange ended cleanly with known
   * framing, else the reason it must close (`peer_close` for the backend's Connection: close,
   * `aborted` when the proxy gave up on the exchange, ...).
   */
  release(conn: UpstreamConnection, outcome: 'reuse' | CloseReason, hint: KeepAliveHint | undefined, hintSeen: boolean): void {
    conn.sink = undefined;
    if (conn.state !== 'active') return;
    const pool = this.cluster.pool;
    if (this.#closed) return this.#destroy(conn, this.#closeReason);
    if (outcome !== 'reuse') return this.#destroy(conn, outcome);
    if (pool.maxRequestsPerConnection > 0 && conn.requests >= pool.maxRequestsPerConnection) return this.#destroy(conn, 'max_requests');
    if (hint?.timeoutSec !== undefined) this.lastHintMs = hint.timeoutSec * 1000;
    if (hint?.max !== undefined) conn.remainingByHint = hint.max;
    else if (Number.isFinite(conn.remainingByHint)) conn.remainingByHint -= 1;
    if (conn.remainingByHint <= 0) return this.#destroy(conn, 'max_requests');
    const keepMs = this.#keepMs(hint, hintSeen);
    if (keepMs < 1) return this.#destroy(conn, 'hint_expiry');

    const want = this.#wants[0];
    if (want !== undefined && !want.fresh) {
      if (!isReusable(probeSocket(conn.socket))) return this.#destroy(conn, 'stale');
      // Straight from one exchange to the next: it stays active.
      this.#wants.shift();
      conn.requests += 1;
      want.waiter.onAcquired(undefined, conn, true);
      return;
    }
    this.#park(conn, keepMs);
    this.#serveWant();
  }

  /**
   * Drop idle connections the backend is closing (probed): after a connection to this endpoint
   * failed, its siblings are suspect (the process may have died), and a retry must not meet one.
   */
  purgeIdle(): void {
    for (const conn of this.#table.list('idle')) {
      if (!isReusable(probeSocket(conn.socket))) this.#destroy(conn, 'stale');
    }
  }

  /** Close idle connections now; later releases close too. Active exchanges finish. */
  close(reason: CloseReason = 'drain'): void {
    this.#closed = true;
    this.#closeReason = reason;
    for (const conn of this.#table.list('idle')) this.#destroy(conn, reason);
    for (const want of this.#wants.splice(0)) want.waiter.onAcquired(new LifelineError('ERR_POOL_CLOSED', `the pool for ${this.key} is closed`), undefined, false);
  }

  /** How long an idle connection may be kept: see the policy above. */
  #keepMs(hint: KeepAliveHint | undefined, hintSeen: boolean): number {
    const pool = this.cluster.pool;
    const backendIdleMs = hint?.timeoutSec !== undefined ? hint.timeoutSec * 1000 : hintSeen ? pool.defaultBackendIdleMs : Math.min(this.#learner.value(), pool.defaultBackendIdleMs);
    // The margin is at most half the backend's idle time, so a short idle time still pools.
    return Math.min(pool.idleTimeoutMs, backendIdleMs - Math.min(pool.hintMarginMs, backendIdleMs / 2));
  }

  #atMax(): boolean {
    const max = this.cluster.pool.maxConnectionsPerEndpoint;
    return max > 0 && this.#table.count('active') + this.#table.count('connecting') >= max;
  }

  /** The most recently used idle connection that is fit for reuse, activated; or undefined. */
  #takeIdle(): UpstreamConnection | undefined {
    const idle = this.#table.list('idle');
    const now = this.host.clock.now();
    for (let conn = idle.tail; conn !== undefined; conn = idle.tail) {
      if (now >= conn.reuseUntilMs) {
        this.#destroy(conn, 'hint_expiry');
        continue;
      }
      if (now - conn.idleSinceMs >= PROBE_AFTER_IDLE_MS && !isReusable(probeSocket(conn.socket))) {
        this.#destroy(conn, 'stale');
        continue;
      }
      this.#activate(conn);
      return conn;
    }
    return undefined;
  }

  #move(conn: UpstreamConnection, next: UpstreamState): void {
    if (conn.timerId !== -1) {
      this.host.wheel.cancel(conn.timerId);
      conn.timerId = -1;
    }
    this.#table.move(conn, next);
    this.metrics.setPool(this.#table.count('idle'), this.#table.count('active'));
  }

  #activate(conn: UpstreamConnection): void {
    this.#move(conn, 'active');
    conn.requests += 1;
  }

  /** Idle, as the most recently used, for `keepMs`; the least recently used beyond the cap closes. */
  #park(conn: UpstreamConnection, keepMs: number): void {
    const now = this.host.clock.now();
    this.#move(conn, 'idle');
    conn.idleSinceMs = now;
    conn.reuseUntilMs = now + keepMs;
    conn.timerId = this.host.wheel.add(Math.max(1, Math.floor(keepMs)), this.#onIdleExpire, conn);
    const idle = this.#table.list('idle');
    if (idle.size > this.cluster.pool.maxIdlePerEndpoint && idle.head !== undefined) this.#destroy(idle.head, 'evicted');
  }

  #connect(want: PoolWant): void {
    // Reads (plain or decrypted TLS) land in the shared buffer (PoolHost.readBuffer); `onData` is bound below.
    const socket = dialUpstream(this.endpoint, this.cluster.tls, this.ca, this.host, (chunk) => onData(chunk, true));
    const upstreamTls = this.cluster.tls;
    const conn = new UpstreamConnection(socket, nextConnectionId++, this.host.clock.now());
    this.#table.add(conn, 'connecting');
    let settled = false;
    const finish = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      this.host.onConnectOutcome(this.key, error === undefined);
      if (error !== undefined) {
        this.metrics.connectFailed();
        if (conn.timerId !== -1) this.host.wheel.cancel(conn.timerId);
        conn.timerId = -1;
        this.#table.move(conn, 'closed');
        socket.destroy();
        if (!want.cancelled) want.waiter.onAcquired(error, undefined, false);
        this.#serveWant();
        return;
      }
      this.metrics.connectionOpened();
      if (this.cluster.tcpKeepAlive !== null) {
        const k = this.cluster.tcpKeepAlive;
        setTcpKeepAlive(socket, { idleMs: k.idleMs, intervalMs: k.intervalMs, count: k.count, ...(k.userTimeoutMs === null ? {} : { userTimeoutMs: k.userTimeoutMs }) });
      }
      if (want.cancelled) {
        // Dialled for a caller that went away: the next caller takes it.
        this.#park(conn, Math.max(1, this.#keepMs(undefined, false)));
        this.#serveWant();
        return;
      }
      this.#activate(conn);
      want.waiter.onAcquired(undefined, conn, false);
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
    socket.on('drain', () => conn.sink?.onUpstreamDrain());
    socket.on('error', (error: Error) => {
      conn.failure = error;
      if (!settled) finish(new UpstreamConnectError(this.key, error, false));
    });
    socket.on('end', () => {
      // The backend closed its side. Idle: it timed out the connection; learn how long it waits.
      if (conn.state === 'idle') this.#learner.observe(this.host.clock.now() - conn.idleSinceMs);
      socket.end();
    });
    socket.on('close', () => this.#onClose(conn));
  }

  #onClose(conn: UpstreamConnection): void {
    const previous = conn.state;
    if (previous === 'closed') {
      // Closed by the pool (#destroy) or a failed connect: counted there, or as a connect failure.
      if (conn.closeReason !== undefined) this.metrics.connectionClosed(conn.closeReason, conn.requests);
      return;
    }
    const failure = conn.failure;
    const reason: CloseReason = failure === undefined ? (previous === 'idle' ? 'peer_idle_close' : 'peer_close') : reasonFromError(failure);
    this.#move(conn, 'closed');
    if (previous === 'active') {
      this.metrics.destroyedByRemoteWithActiveRequest();
      const sink = conn.sink;
      conn.sink = undefined;
      // undefined for a clean close (FIN): the end of a close-delimited response, for instance.
      sink?.onUpstreamClose(failure);
    }
    this.metrics.connectionClosed(reason, conn.requests);
    this.#serveWant();
  }

  /** Close a connection for `reason` (counted when its socket reports 'close'). */
  #destroy(conn: UpstreamConnection, reason: CloseReason): void {
    if (conn.state === 'closed') return;
    this.#move(conn, 'closed');
    conn.closeReason = reason;
    conn.sink = undefined;
    conn.socket.destroy();
  }

  readonly #onIdleExpire = (_id: number, data: unknown): void => {
    const conn = data as UpstreamConnection;
    conn.timerId = -1;
    this.#destroy(conn, 'idle_timeout');
  };

  /** A slot may be free: dial for the longest-waiting want (a pooled connection, when not fresh). */
  #serveWant(): void {
    if (this.#closed) return;
    while (this.#wants.length > 0 && !this.#atMax()) {
      const want = this.#wants.shift() as PoolWant;
      if (!want.fresh) {
        const conn = this.#takeIdle();
        if (conn !== undefined) {
          want.waiter.onAcquired(undefined, conn, true);
          continue;
        }
      }
      this.#connect(want);
    }
  }
}
