/**
 * KeepAlivePool: the connection policy behind KeepAliveAgent and HttpsKeepAliveAgent.
 *
 * Why a separate object: both agents must subclass Node's `http.Agent` / `https.Agent` to stay
 * drop-ins, so the policy lives here and the two classes delegate their hooks (`addRequest`,
 * the `'free'` event, `removeSocket`, `createConnection`, `destroy`) to it. It keeps Node's own
 * dictionaries (`sockets`, `freeSockets`, `requests`) exact, so code that inspects an agent still
 * sees the truth: they mirror the PoolTable's states, synced by `mirrorMove` on every move of
 * the table's one transition function.
 *
 * Policy (docs/agent.md has the user-facing rules):
 * - Socket states and their moves: PoolTable (pool-table.ts). Idle sockets are unref'd.
 * - Reuse: the most recent idle socket (LIFO by default). Before a reused socket gets a request
 *   it is checked twice: at once (ended, errored, destroyed, unread bytes, past its deadline) and
 *   again one event-loop turn later (setImmediate: the poll phase in between reads a FIN or RST
 *   that had already reached the kernel, as undici does). A dead one is discarded and the request
 *   goes to the next idle socket or a new connection; nothing of it was written yet.
 * - A request on a reused socket is watched by a ReuseGuard until its first response byte; if the
 *   socket dies first, StaleRetry re-sends it or fails it (the one retry rule, retry-rule.ts).
 * - Idle deadline (absolute, clock ms) = now + min(freeSocketTimeoutMs, hint*1000 - margin,
 *   time left of socketActiveTtlMs), filed on a timer wheel; reuse also compares the deadline
 *   with the clock, so a late timer can never cause reuse past the deadline.
 * - A socket freed while requests wait goes straight to the oldest waiter (after the same
 *   checks); a closed socket makes room for a waiter of its key, else of another key. A waiting
 *   request that is aborted or destroyed leaves the queue at once, and no socket is dialled for it.
 */
import type { EventEmitter } from 'node:events';
import type { ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { closeSide } from '../../core/close-reason.js';
import { ClosedError } from '../../core/errors.js';
import { setTcpKeepAlive } from '../../transport/tcp-keepalive.js';
import type { AgentSettings } from './agent-options.js';
import { agentCloseLayer, channels, emptyOriginStats, errorCloseReason } from './agent-stats.js';
import type { CloseReason, OriginStats } from './agent-stats.js';
import type { AgentInternals, ConnectOptions } from './node-internals.js';
import { mirrorMove, normalizeServerName, removeFrom, requestInternals, socketInternals } from './node-internals.js';
import { PoolTable } from './pool-table.js';
import { RequestQueue } from './request-queue.js';
import type { QueuedRequest } from './request-queue.js';
import { ReuseGuard } from './reuse-guard.js';
import { deadReason, expiry, idleBound, inferCloseReason, snapshot, whyNotKeep } from './socket-rules.js';
import type { OriginRecord, SocketMeta } from './socket-rules.js';
import { StaleRetry } from './stale-retry.js';

interface Deferred {
  readonly req: ClientRequest;
  readonly meta: SocketMeta;
  readonly options: ConnectOptions;
  immediate: NodeJS.Immediate | undefined;
}

export class KeepAlivePool {
  readonly #agent: AgentInternals & EventEmitter;
  readonly #s: AgentSettings;
  readonly #where: string;
  readonly #table: PoolTable<SocketMeta, QueuedRequest>;
  readonly #queue: RequestQueue;
  readonly #retry: StaleRetry;
  readonly #metas = new WeakMap<Socket, SocketMeta>();
  readonly #origins = new Map<string, OriginRecord>();
  /** Node's agent key -> origin, so a request costs one Map lookup. */
  readonly #originByName = new Map<string, OriginRecord>();
  readonly #deferred = new Set<Deferred>();
  #destroyed = false;
  /** Event-loop turns seen (advanced in the check phase after a socket was freed). */
  #turn = 0;
  #turnTicker: NodeJS.Immediate | undefined;

  constructor(agent: AgentInternals & EventEmitter, settings: AgentSettings, where: string) {
    this.#agent = agent;
    this.#s = settings;
    this.#where = where;
    this.#table = new PoolTable<SocketMeta, QueuedRequest>({
      clock: settings.clock,
      maxSockets: settings.maxSockets,
      maxTotalSockets: settings.maxTotalSockets,
      scheduling: settings.scheduling,
      onIdleExpire: (meta, reason) => this.#close(meta, reason),
      onMove: (meta, from, to) => mirrorMove(agent, meta, from, to),
    });
    this.#queue = new RequestQueue(agent, this.#table);
    this.#retry = new StaleRetry(agent, {
      metaOf: (socket) => this.#metas.get(socket),
      destroyed: () => this.#destroyed,
      close: (meta, reason) => this.#close(meta, reason),
      connect: (req, options, then) => this.#connect(req, options, then),
    });
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** Agent hook: a ClientRequest wants a socket. */
  addRequest(req: ClientRequest, requestOptions: ConnectOptions): void {
    if (this.#destroyed) {
      requestInternals(req).onSocket(null, new ClosedError(this.#where));
      return;
    }
    const options: ConnectOptions = { ...requestOptions, ...this.#agent.options };
    if (typeof options.socketPath === 'string') options.path = options.socketPath;
    normalizeServerName(options, req);
    const name = this.#agent.getName(options);
    let origin = this.#originByName.get(name);
    if (origin === undefined) {
      origin = this.#origin(options);
      this.#originByName.set(name, origin);
    }
    origin.stats.requests++;
    this.#acquire(req, name, options);
  }

  /** Agent hook, from createConnection: a new socket exists. */
  onCreate(socket: Socket, options: ConnectOptions): void {
    const origin = this.#origin(options);
    const meta: SocketMeta = {
      socket, key: options._agentKey ?? this.#agent.getName(options), origin, options, createdAt: this.#s.clock.now(),
      state: 'connecting', prev: undefined, next: undefined, requests: 0, requestsLeft: Number.POSITIVE_INFINITY,
      hintTimeoutMs: Number.POSITIVE_INFINITY, idleDeadline: 0, idleReason: 'idle_timeout', idleSince: 0, timerId: -1, freedTurn: -1,
      req: undefined, guard: undefined, carriesRetry: false, closeReason: undefined, peerEnded: false, errorReason: undefined,
      onIdleData: () => {
        if (meta.state === 'idle') this.#discardStale(meta, 'unexpected bytes while idle');
      },
    };
    this.#metas.set(socket, meta);
    this.#table.add(meta);
    origin.stats.newConnections++;
    socket.once('close', (hadError: boolean) => this.#onClose(meta, hadError));
    // Permanent: a dead idle (or detached) socket must never crash the process with 'error'.
    socket.on('error', (error: unknown) => {
      const reason = (meta.errorReason ??= errorCloseReason(error));
      if (meta.state === 'idle') this.#close(meta, reason);
    });
    socket.on('end', () => {
      meta.peerEnded = true;
      if (meta.state === 'idle') this.#close(meta, 'peer_idle_close');
    });
    if (socket instanceof TLSSocket) {
      socket.once('secureConnect', () => {
        if (socket.isSessionReused()) origin.stats.tlsResumed++;
        else origin.stats.tlsFullHandshakes++;
      });
    }
    if (this.#s.tcpKeepAlive !== undefined) {
      try {
        setTcpKeepAlive(socket, this.#s.tcpKeepAlive);
      } catch (error) {
        socket.destroy(error instanceof Error ? error : new Error(String(error)));
      }
    } else {
      // What Node's agent does on every release (keepSocketAlive), once: tls.connect ignores the
      // keepAlive connect option, so HTTPS sockets would otherwise have no SO_KEEPALIVE.
      socket.setKeepAlive(true, this.#s.keepAliveMsecs);
    }
    if (channels.connect.hasSubscribers) channels.connect.publish({ agent: this.#agent, origin: origin.stats.origin, socket });
  }

  /** Agent hook: the socket's request is done (or was aborted before using it). */
  onFree(socket: Socket): void {
    const meta = this.#metas.get(socket);
    if (meta === undefined || meta.state === 'closed' || meta.state === 'closing') {
      socket.destroy();
      return;
    }
    // Only a socket that carried a request is freed; a second 'free' for it must not file it twice.
    if (meta.state !== 'active') return;
    meta.guard?.disarm();
    meta.guard = undefined;
    const s = socketInternals(socket);
    const req = s._httpMessage ?? undefined;
    s._httpMessage = null;
    if (meta.carriesRetry && req !== undefined) {
      meta.carriesRetry = false;
      meta.origin.stats.retrySucceeded++;
    }
    meta.req = undefined;
    meta.freedTurn = this.#turn;
    this.#turnTicker ??= setImmediate(() => {
      this.#turnTicker = undefined;
      this.#turn++;
    });
    socket.setTimeout(0);
    const reason = this.#destroyed ? 'shutdown' : whyNotKeep(meta, req, this.#s, this.#onMalformedHint);
    if (reason !== undefined) {
      this.#close(meta, reason);
      return;
    }
    const next = this.#queue.next(meta.key);
    if (next !== undefined) {
      this.#reserve(next.req, meta, next.options);
      return;
    }
    if (this.#table.idleCount(meta.key) >= this.#s.maxFreeSockets) {
      this.#close(meta, 'evicted');
      return;
    }
    const { timeoutMs, reason: idleReason } = idleBound(meta, this.#s, this.#s.clock.now());
    this.#table.enterIdle(meta, timeoutMs, idleReason);
  }

  /** Agent hook (Node calls it on 'close' and 'agentRemove'): forget the socket, serve waiters. */
  removeSocket(socket: Socket, options: ConnectOptions): void {
    const meta = this.#metas.get(socket);
    const name = meta?.key ?? this.#agent.getName(options);
    removeFrom(this.#agent.sockets, name, socket);
    removeFrom(this.#agent.freeSockets, name, socket);
    // Detached without closing (an upgrade took the socket): no longer ours, not a close.
    if (meta !== undefined && meta.state !== 'closed') this.#table.move(meta, 'closed');
    this.#serveWaiters(name);
  }

  /** Close everything; later requests fail with ClosedError. The agent then destroys its sockets. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    const closed = new ClosedError(this.#where);
    for (const d of this.#deferred) {
      if (d.immediate !== undefined) clearImmediate(d.immediate);
      this.#close(d.meta, 'shutdown');
      requestInternals(d.req).onSocket(null, closed);
    }
    this.#deferred.clear();
    if (this.#turnTicker !== undefined) clearImmediate(this.#turnTicker);
    for (const waiter of this.#queue.drain()) requestInternals(waiter.req).onSocket(null, closed);
    for (const meta of this.#table.entries()) {
      // Idle ones are closed here; active ones by Node's destroy, with this reason.
      if (meta.state === 'idle') this.#close(meta, 'shutdown');
      else meta.closeReason ??= 'shutdown';
    }
    this.#table.close();
  }

  /** A snapshot of every origin's counters. */
  stats(): Record<string, OriginStats> {
    return snapshot(this.#origins, this.#table.entries());
  }

  #origin(options: ConnectOptions): OriginRecord {
    const host = typeof options.host === 'string' ? options.host : 'localhost';
    const port = options.port ?? this.#agent.defaultPort;
    const key = `${this.#agent.protocol}//${host.includes(':') ? `[${host}]` : host}:${String(port)}`;
    let origin = this.#origins.get(key);
    if (origin === undefined) {
      origin = { stats: emptyOriginStats(key) };
      this.#origins.set(key, origin);
    }
    return origin;
  }

  #acquire(req: ClientRequest, name: string, options: ConnectOptions): void {
    const now = this.#s.clock.now();
    for (let meta = this.#table.pickIdle(name); meta !== undefined; meta = this.#table.pickIdle(name)) {
      const expired = expiry(meta, now, this.#s);
      if (expired !== undefined) {
        this.#close(meta, expired);
        continue;
      }
      const dead = deadReason(meta);
      if (dead !== undefined) {
        this.#discardStale(meta, dead);
        continue;
      }
      this.#reserve(req, meta, options);
      return;
    }
    if (this.#table.canOpen(name)) {
      this.#connect(req, options);
      return;
    }
    this.#queue.add(req, name, options);
    if (this.#table.count(name) < this.#s.maxSockets) this.#evictOtherIdle(name);
  }

  /**
   * Hold a socket for `req` and decide after the next poll phase, so that a FIN or RST already in
   * the kernel has been read. A socket freed in this very turn needs two check phases: libuv
   * stops reading after a short read, so a FIN sent right behind the response is read only in the
   * next turn's poll phase.
   */
  #reserve(req: ClientRequest, meta: SocketMeta, options: ConnectOptions): void {
    this.#table.move(meta, 'reserved');
    const d: Deferred = { req, meta, options, immediate: undefined };
    let hops = meta.freedTurn === this.#turn ? 2 : 1;
    const decide = (): void => {
      if (--hops > 0 && deadReason(meta) === undefined) {
        d.immediate = setImmediate(decide);
        return;
      }
      this.#deferred.delete(d);
      const dead = deadReason(meta) ?? expiry(meta, this.#s.clock.now(), this.#s);
      if (dead === undefined) {
        this.#assign(req, meta, true);
        return;
      }
      if (dead === 'idle_timeout' || dead === 'hint_expiry' || dead === 'max_age') this.#close(meta, dead);
      else this.#discardStale(meta, dead);
      this.#acquire(req, meta.key, options);
    };
    d.immediate = setImmediate(decide);
    this.#deferred.add(d);
  }

  #connect(req: ClientRequest, options: ConnectOptions, then?: (socket: Socket) => void): void {
    this.#agent.createSocket(req, options, (err, socket) => {
      const meta = socket === undefined ? undefined : this.#metas.get(socket);
      if (err !== null || meta === undefined) {
        requestInternals(req).onSocket(socket ?? null, err ?? new Error('createConnection returned no socket'));
        return;
      }
      this.#assign(req, meta, false);
      then?.(meta.socket);
    });
  }

  #assign(req: ClientRequest, meta: SocketMeta, reused: boolean): void {
    const r = requestInternals(req);
    this.#table.move(meta, 'active');
    meta.requests++;
    meta.requestsLeft--;
    meta.req = req;
    meta.carriesRetry = this.#retry.wasRetried(req);
    if (reused) {
      meta.origin.stats.reused++;
      r.reusedSocket = true;
      meta.guard = new ReuseGuard(meta.socket, req, this.#s.replayMaxBytes, this.#retry.onStale);
      if (channels.reuse.hasSubscribers) {
        channels.reuse.publish({ agent: this.#agent, origin: meta.origin.stats.origin, socket: meta.socket, requests: meta.requests });
      }
    }
    r.onSocket(meta.socket);
    if (r.timeout !== undefined && r.timeout !== 0) meta.socket.setTimeout(r.timeout);
  }

  readonly #onMalformedHint = (meta: SocketMeta, header: unknown): void => {
    meta.origin.stats.malformedHints++;
    if (channels.malformedHint.hasSubscribers) channels.malformedHint.publish({ agent: this.#agent, origin: meta.origin.stats.origin, header });
  };

  #discardStale(meta: SocketMeta, why: string): void {
    meta.origin.stats.staleDiscarded++;
    if (channels.stale.hasSubscribers) {
      channels.stale.publish({ agent: this.#agent, origin: meta.origin.stats.origin, socket: meta.socket, phase: 'before-reuse', action: 'discarded', cause: why });
    }
    this.#close(meta, 'stale');
  }

  /** Closing is accounted for on the socket's 'close' event, with the first reason given. */
  #close(meta: SocketMeta, reason: CloseReason): void {
    if (meta.state === 'closed' || meta.state === 'closing') return;
    meta.closeReason ??= reason;
    this.#table.move(meta, 'closing');
    meta.socket.destroy();
  }

  #onClose(meta: SocketMeta, hadError: boolean): void {
    if (meta.state === 'closed') return;
    const reason = meta.closeReason ?? inferCloseReason(meta, hadError);
    if (meta.carriesRetry) {
      const res = meta.req === undefined ? null : requestInternals(meta.req).res;
      if (res !== null) meta.origin.stats.retrySucceeded++;
      else meta.origin.stats.retryFailed++;
    }
    meta.guard?.disarm();
    this.#table.move(meta, 'closed');
    meta.origin.stats.closes[reason]++;
    if (channels.close.hasSubscribers) {
      channels.close.publish({
        agent: this.#agent, origin: meta.origin.stats.origin, socket: meta.socket, closeReason: reason, side: closeSide(reason), layer: agentCloseLayer(reason), requests: meta.requests,
      });
    }
  }

  /** Open sockets for waiting requests, this key first, within the caps. */
  #serveWaiters(first: string): void {
    if (this.#destroyed) return;
    for (const name of this.#table.keysWithWaiters(first)) {
      while (this.#table.waiting(name) > 0 && this.#table.canOpen(name)) {
        const waiter = this.#queue.next(name);
        if (waiter !== undefined) this.#connect(waiter.req, waiter.options);
      }
    }
  }

  /** At `maxTotalSockets` with a waiter: close the least recently used idle socket of another key. */
  #evictOtherIdle(name: string): void {
    if (this.#table.total < this.#s.maxTotalSockets) return;
    const meta = this.#table.oldestIdleExcept(name);
    if (meta !== undefined) this.#close(meta, 'evicted');
  }
}
