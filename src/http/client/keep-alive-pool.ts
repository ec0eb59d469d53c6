/**
 * KeepAlivePool: the connection policy behind KeepAliveAgent and HttpsKeepAliveAgent.
 *
 * Why a separate object: both agents must subclass Node's `http.Agent` / `https.Agent` to stay
 * drop-ins, so the policy lives here and the two classes delegate their hooks (`addRequest`,
 * the `'free'` event, `removeSocket`, `createConnection`, `destroy`) to it. It keeps Node's own
 * dictionaries (`sockets`, `freeSockets`, `requests`, `totalSocketCount`) exact, so code that
 * inspects an agent still sees the truth.
 *
 * Policy (docs/agent.md has the user-facing rules):
 * - Socket states: connecting -> active -> idle -> reserved -> active ... -> closed, changed only
 *   here; each socket has one SocketMeta. Idle sockets are unref'd.
 * - Reuse: the most recent idle socket (LIFO by default). Before a reused socket gets a request
 *   it is checked twice: at once (ended, errored, destroyed, unread bytes, past its deadline) and
 *   again one event-loop turn later (setImmediate: the poll phase in between reads a FIN or RST
 *   that had already reached the kernel, as undici does). A dead one is discarded and the request
 *   goes to the next idle socket or a new connection; nothing of it was written yet.
 * - A request on a reused socket is watched by a ReuseGuard until its first response byte; if the
 *   socket dies first, the request is re-sent once on a new connection when that is safe
 *   (idempotent and fully recorded, or not one byte written), else it fails with ERR_STALE_SOCKET.
 * - Idle deadline (absolute, clock ms) = now + min(freeSocketTimeoutMs, hint*1000 - margin,
 *   time left of socketActiveTtlMs), filed on a timer wheel; reuse also compares the deadline
 *   with the clock, so a late timer can never cause reuse past the deadline.
 * - A socket freed while requests wait goes straight to the oldest waiter (after the same
 *   checks); a closed socket makes room for a waiter of its origin, else of another origin.
 */
import type { EventEmitter } from 'node:events';
import type { ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { closeSide } from '../../core/close-reason.js';
import { ClosedError } from '../../core/errors.js';
import { canRetry } from '../retry-rule.js';
import { TimerWheel } from '../../core/timer-wheel.js';
import { setTcpKeepAlive } from '../../transport/tcp-keepalive.js';
import type { AgentSettings } from './agent-options.js';
import { channels, emptyOriginStats, errorCloseReason } from './agent-stats.js';
import type { CloseReason, OriginStats } from './agent-stats.js';
import type { AgentInternals, ConnectOptions } from './node-internals.js';
import { normalizeServerName, removeFrom, requestInternals, socketInternals } from './node-internals.js';
import { ReuseGuard } from './reuse-guard.js';
import { deadReason, expiry, idleBound, inferCloseReason, snapshot, whyNotKeep } from './socket-rules.js';
import type { OriginRecord, SocketMeta } from './socket-rules.js';
import type { StaleSignal } from './reuse-guard.js';
import { StaleSocketError } from './stale-socket-error.js';

interface Deferred {
  readonly req: ClientRequest;
  readonly meta: SocketMeta;
  readonly options: ConnectOptions;
  immediate: NodeJS.Immediate | undefined;
}

/** One retry after a stale reused socket: the first attempt and the re-sent one. */
const MAX_ATTEMPTS = 2;

export class KeepAlivePool {
  readonly #agent: AgentInternals & EventEmitter;
  readonly #s: AgentSettings;
  readonly #where: string;
  readonly #wheel: TimerWheel;
  readonly #metas = new WeakMap<Socket, SocketMeta>();
  readonly #origins = new Map<string, OriginRecord>();
  /** Node's agent key -> origin, so a request costs one Map lookup. */
  readonly #originByName = new Map<string, OriginRecord>();
  readonly #queuedOptions = new WeakMap<ClientRequest, ConnectOptions>();
  readonly #deferred = new Set<Deferred>();
  readonly #retried = new WeakSet<ClientRequest>();
  #destroyed = false;
  /** Event-loop turns seen (advanced in the check phase after a socket was freed). */
  #turn = 0;
  #turnTicker: NodeJS.Immediate | undefined;

  constructor(agent: AgentInternals & EventEmitter, settings: AgentSettings, where: string) {
    this.#agent = agent;
    this.#s = settings;
    this.#where = where;
    this.#wheel = new TimerWheel({ resolutionMs: 10, slots: 1024, clock: settings.clock });
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
      socket, name: options._agentKey ?? this.#agent.getName(options), origin, options, createdAt: this.#s.clock.now(),
      state: 'connecting', requests: 0, requestsLeft: Number.POSITIVE_INFINITY, hintTimeoutMs: Number.POSITIVE_INFINITY,
      idleDeadline: 0, idleReason: 'idle_timeout', timerId: -1, freedTurn: -1, req: undefined, guard: undefined, carriesRetry: false,
      closeReason: undefined, peerEnded: false, errorReason: undefined,
      onIdleData: () => {
        if (meta.state !== 'idle') return;
        this.#discardStale(meta, 'unexpected bytes while idle');
      },
    };
    this.#metas.set(socket, meta);
    origin.live.add(meta);
    origin.stats.newConnections++;
    socket.once('close', (hadError: boolean) => this.#onClose(meta, hadError));
    // Permanent: a dead idle (or detached) socket must never crash the process with 'error'.
    socket.on('error', (error: unknown) => {
      const reason = (meta.errorReason ??= errorCloseReason(error));
      if (meta.state === 'idle') this.#closeIdle(meta, reason);
    });
    socket.on('end', () => {
      meta.peerEnded = true;
      if (meta.state === 'idle') this.#closeIdle(meta, 'peer_close');
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
    if (meta === undefined || meta.state === 'closed') {
      socket.destroy();
      return;
    }
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
    removeFrom(this.#agent.sockets, meta.name, socket);
    socket.setTimeout(0);
    const reason = this.#destroyed ? 'shutdown' : whyNotKeep(meta, req, this.#s, this.#onMalformedHint);
    if (reason !== undefined) {
      this.#close(meta, reason);
      return;
    }
    const queue = this.#agent.requests[meta.name];
    const next = queue?.shift();
    if (next !== undefined) {
      if (queue?.length === 0) delete this.#agent.requests[meta.name];
      const options = this.#queuedOptions.get(next) ?? meta.options;
      this.#queuedOptions.delete(next);
      this.#reserve(next, meta, options);
      return;
    }
    const free = this.#agent.freeSockets[meta.name] ?? [];
    if (free.length >= this.#s.maxFreeSockets) {
      this.#close(meta, 'evicted');
      return;
    }
    this.#enterIdle(meta, free);
  }

  /** Agent hook (Node calls it on 'close' and 'agentRemove'): forget the socket, serve waiters. */
  removeSocket(socket: Socket, options: ConnectOptions): void {
    const meta = this.#metas.get(socket);
    const name = meta?.name ?? this.#agent.getName(options);
    removeFrom(this.#agent.sockets, name, socket);
    removeFrom(this.#agent.freeSockets, name, socket);
    if (meta !== undefined && meta.state !== 'closed') {
      // Detached without closing (an upgrade took the socket): no longer ours, not a close.
      this.#leaveIdle(meta);
      meta.state = 'closed';
      meta.origin.live.delete(meta);
    }
    this.#serveWaiters(name);
  }

  /** Close everything; later requests fail with ClosedError. The agent then destroys its sockets. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    const closed = new ClosedError(this.#where);
    for (const d of this.#deferred) {
      if (d.immediate !== undefined) clearImmediate(d.immediate);
      d.meta.closeReason ??= 'shutdown';
      d.meta.socket.destroy();
      requestInternals(d.req).onSocket(null, closed);
    }
    this.#deferred.clear();
    if (this.#turnTicker !== undefined) clearImmediate(this.#turnTicker);
    for (const name of Object.keys(this.#agent.requests)) {
      for (const req of this.#agent.requests[name] ?? []) requestInternals(req).onSocket(null, closed);
      delete this.#agent.requests[name];
    }
    for (const origin of this.#origins.values()) {
      for (const meta of origin.live) {
        meta.closeReason ??= 'shutdown';
        this.#leaveIdle(meta);
      }
    }
    this.#wheel.close();
  }

  /** A snapshot of every origin's counters. */
  stats(): Record<string, OriginStats> {
    const out: Record<string, OriginStats> = {};
    for (const [key, origin] of this.#origins) out[key] = snapshot(origin);
    return out;
  }

  #origin(options: ConnectOptions): OriginRecord {
    const host = typeof options.host === 'string' ? options.host : 'localhost';
    const port = options.port ?? this.#agent.defaultPort;
    const key = `${this.#agent.protocol}//${host.includes(':') ? `[${host}]` : host}:${String(port)}`;
    let origin = this.#origins.get(key);
    if (origin === undefined) {
      origin = { stats: emptyOriginStats(key), live: new Set() };
      this.#origins.set(key, origin);
    }
    return origin;
  }

  #acquire(req: ClientRequest, name: string, options: ConnectOptions): void {
    const free = this.#agent.freeSockets[name];
    const now = this.#s.clock.now();
    while (free !== undefined && free.length > 0) {
      const socket = (this.#s.scheduling === 'lifo' ? free.pop() : free.shift()) as Socket;
      if (free.length === 0) delete this.#agent.freeSockets[name];
      const meta = this.#metas.get(socket);
      if (meta === undefined) continue;
      this.#leaveIdle(meta);
      const expired = expiry(meta, now, this.#s);
      if (expired !== undefined) {
        this.#close(meta, expired);
        continue;
      }
      if (deadReason(meta) !== undefined) {
        this.#discardStale(meta, deadReason(meta) ?? '');
        continue;
      }
      this.#reserve(req, meta, options);
      return;
    }
    const count = (this.#agent.sockets[name]?.length ?? 0) + (this.#agent.freeSockets[name]?.length ?? 0);
    if (count < this.#s.maxSockets && this.#agent.totalSocketCount < this.#s.maxTotalSockets) {
      this.#connect(req, options);
      return;
    }
    (this.#agent.requests[name] ??= []).push(req);
    this.#queuedOptions.set(req, options);
    if (count < this.#s.maxSockets) this.#evictOtherIdle(name);
  }

  /**
   * Hold an idle socket for `req` and decide after the next poll phase, so that a FIN or RST
   * already in the kernel has been read. A socket freed in this very turn needs two check phases:
   * libuv stops reading after a short read, so a FIN sent right behind the response is read only
   * in the next turn's poll phase.
   */
  #reserve(req: ClientRequest, meta: SocketMeta, options: ConnectOptions): void {
    meta.state = 'reserved';
    (this.#agent.sockets[meta.name] ??= []).push(meta.socket);
    meta.socket.ref();
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
      removeFrom(this.#agent.sockets, meta.name, meta.socket);
      if (dead === 'idle_timeout' || dead === 'hint_expiry' || dead === 'max_age') this.#close(meta, dead);
      else this.#discardStale(meta, dead);
      this.#acquire(req, meta.name, options);
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
    meta.state = 'active';
    meta.requests++;
    meta.requestsLeft--;
    meta.req = req;
    meta.carriesRetry = this.#retried.has(req);
    meta.socket.ref();
    if (reused) {
      meta.origin.stats.reused++;
      r.reusedSocket = true;
      meta.guard = new ReuseGuard(meta.socket, req, this.#s.replayMaxBytes, this.#onStale);
      if (channels.reuse.hasSubscribers) {
        channels.reuse.publish({ agent: this.#agent, origin: meta.origin.stats.origin, socket: meta.socket, requests: meta.requests });
      }
    }
    r.onSocket(meta.socket);
    if (r.timeout !== undefined && r.timeout !== 0) meta.socket.setTimeout(r.timeout);
  }

  /** The reused socket died before any response byte: re-send, or fail with ERR_STALE_SOCKET. */
  readonly #onStale = (guard: ReuseGuard, signal: StaleSignal): void => {
    const meta = this.#metas.get(guard.socket);
    const r = requestInternals(guard.req);
    if (this.#destroyed || r.destroyed || meta === undefined) {
      guard.passThrough(signal);
      return;
    }
    meta.guard = undefined;
    meta.closeReason ??= 'stale';
    const stats = meta.origin.stats;
    const decision = canRetry({
      method: r.method,
      reusedConnection: true,
      requestBytesWritten: guard.bytes > 0,
      replayable: r.finished && !guard.overflow,
      // The guard disarms itself at the first response byte, so it never reports after one.
      responseBytesReceived: false,
      failure: signal.event === 'error' ? 'reset' : 'closed-before-response',
      attempts: this.#retried.has(guard.req) ? MAX_ATTEMPTS : 1,
      maxAttempts: MAX_ATTEMPTS,
    });
    const publish = (action: 'retried' | 'failed'): void => {
      if (!channels.stale.hasSubscribers) return;
      channels.stale.publish({
        agent: this.#agent, origin: stats.origin, socket: guard.socket, phase: 'before-response', action, method: r.method, cause: signal.error,
      });
    };
    if (decision.retry) {
      stats.retries++;
      publish('retried');
      this.#retried.add(guard.req);
      // A timeout the caller set on the request (req.setTimeout) lives on the socket: carry it over.
      const timeoutMs = guard.socket.timeout ?? 0;
      const timeoutCb = r.timeoutCb;
      guard.detach();
      meta.req = undefined;
      guard.passThrough(signal);
      guard.socket.destroy();
      r.socket = null;
      r.parser = null;
      r.reusedSocket = false;
      guard.replayInto(r);
      this.#connect(guard.req, meta.options, (socket) => {
        if (typeof timeoutCb === 'function') socket.once('timeout', timeoutCb as () => void);
        if (timeoutMs > 0) socket.setTimeout(timeoutMs);
      });
      return;
    }
    stats.staleErrors++;
    publish('failed');
    const why = signal.event === 'error' ? (signal.error?.message ?? 'error') : 'connection closed by the server';
    guard.emitError(new StaleSocketError(r.method, guard.bytes, why, signal.error));
    if (signal.event === 'close') guard.passThrough(signal);
  };

  readonly #onMalformedHint = (meta: SocketMeta, header: unknown): void => {
    meta.origin.stats.malformedHints++;
    if (channels.malformedHint.hasSubscribers) channels.malformedHint.publish({ agent: this.#agent, origin: meta.origin.stats.origin, header });
  };

  #enterIdle(meta: SocketMeta, free: Socket[]): void {
    const now = this.#s.clock.now();
    const { timeoutMs: timeout, reason } = idleBound(meta, this.#s, now);
    meta.state = 'idle';
    meta.idleDeadline = now + timeout;
    meta.idleReason = reason;
    meta.timerId = this.#wheel.add(Math.max(0, Math.ceil(timeout)), this.#onIdleExpire, meta);
    meta.socket.unref();
    meta.socket.on('data', meta.onIdleData);
    free.push(meta.socket);
    this.#agent.freeSockets[meta.name] = free;
  }

  #leaveIdle(meta: SocketMeta): void {
    if (meta.timerId !== -1) {
      this.#wheel.cancel(meta.timerId);
      meta.timerId = -1;
    }
    meta.socket.off('data', meta.onIdleData);
  }

  readonly #onIdleExpire = (id: number, data: unknown): void => {
    const meta = data as SocketMeta;
    if (meta.timerId !== id) return;
    meta.timerId = -1;
    if (meta.state === 'idle') this.#closeIdle(meta, meta.idleReason);
  };

  #closeIdle(meta: SocketMeta, reason: CloseReason): void {
    removeFrom(this.#agent.freeSockets, meta.name, meta.socket);
    this.#close(meta, reason);
  }

  #discardStale(meta: SocketMeta, why: string): void {
    removeFrom(this.#agent.freeSockets, meta.name, meta.socket);
    meta.origin.stats.staleDiscarded++;
    if (channels.stale.hasSubscribers) {
      channels.stale.publish({ agent: this.#agent, origin: meta.origin.stats.origin, socket: meta.socket, phase: 'before-reuse', action: 'discarded', cause: why });
    }
    this.#close(meta, 'stale');
  }

  /** Closing is accounted for on the socket's 'close' event, with the first reason given. */
  #close(meta: SocketMeta, reason: CloseReason): void {
    if (meta.state === 'closed') return;
    meta.closeReason ??= reason;
    this.#leaveIdle(meta);
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
    this.#leaveIdle(meta);
    meta.guard?.disarm();
    meta.state = 'closed';
    meta.origin.live.delete(meta);
    meta.origin.stats.closes[reason]++;
    if (channels.close.hasSubscribers) {
      channels.close.publish({
        agent: this.#agent, origin: meta.origin.stats.origin, socket: meta.socket, closeReason: reason, side: closeSide(reason), requests: meta.requests,
      });
    }
  }

  /** Open sockets for waiting requests, this origin first, within the caps. */
  #serveWaiters(first: string): void {
    if (this.#destroyed) return;
    const names = [first, ...Object.keys(this.#agent.requests).filter((n) => n !== first)];
    for (const name of names) {
      const queue = this.#agent.requests[name];
      while (queue !== undefined && queue.length > 0) {
        const count = (this.#agent.sockets[name]?.length ?? 0) + (this.#agent.freeSockets[name]?.length ?? 0);
        if (count >= this.#s.maxSockets || this.#agent.totalSocketCount >= this.#s.maxTotalSockets) break;
        const req = queue.shift() as ClientRequest;
        if (queue.length === 0) delete this.#agent.requests[name];
        const options = this.#queuedOptions.get(req);
        this.#queuedOptions.delete(req);
        if (options !== undefined) this.#connect(req, options);
      }
    }
  }

  /** At `maxTotalSockets` with a waiter: close the oldest idle socket of another origin. */
  #evictOtherIdle(name: string): void {
    if (this.#agent.totalSocketCount < this.#s.maxTotalSockets) return;
    for (const other of Object.keys(this.#agent.freeSockets)) {
      if (other === name) continue;
      const socket = this.#agent.freeSockets[other]?.[0];
      const meta = socket === undefined ? undefined : this.#metas.get(socket);
      if (meta !== undefined) {
        this.#closeIdle(meta, 'evicted');
        return;
      }
    }
  }
}
