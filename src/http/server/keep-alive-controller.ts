/**
 * The keep-alive policy of one `http.Server` / `https.Server`.
 *
 * Why: Node's idle timer (keepAliveTimeout, 5 s) races load balancers, `server.close()` leaves
 * busy keep-alive sockets open, and a full server refuses newcomers while idle sockets sit unused.
 * This controller owns every connection deadline instead, on one timer wheel.
 *
 * Node's own timers are switched off so they cannot fight the policy, and restored by close()
 * (node-server-settings.ts says which and why).
 *
 * An idle close happens only if no byte of a request arrived since the connection went idle
 * (request-start.ts says how that is seen without reading), and the advertised hint is shorter
 * than the close by hintMarginMs. Requests and response ends are seen on Node's diagnostics
 * channels (http-diagnostics.ts); the keep-or-close decision is `decideKeepAlive`
 * (keep-alive-decision.ts), shared with the proxy; each connection's one deadline is in
 * connection-deadlines.ts; the headers written in response-headers.ts; Node internals in
 * node-internals.ts.
 *
 * Connections accepted before keepAlive() was called are not tracked (attach before listen()).
 *
 * Invariants: a connection with a request in flight is never closed by the idle timer or evicted;
 * maxRequests, maxAge and drain only ever add `Connection: close` to a response not yet started
 * and close after it ends; every close is counted once, by the first reason known.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import { Server as NetServer } from 'node:net';
import type { Socket } from 'node:net';
import type { Clock } from '../../core/clock.js';
import { ConnectionDeadlines } from './connection-deadlines.js';
import { takeConnectionListener } from './connection-listener.js';
import type { TakenListener } from './connection-listener.js';
import { Connection, ConnectionTable } from './connection-table.js';
import { observeHttpServer } from './http-diagnostics.js';
import { decideKeepAlive, keepAlivePolicy } from './keep-alive-decision.js';
import type { KeepAlivePolicy } from './keep-alive-decision.js';
import { resolveDrainOptions, resolveKeepAliveOptions } from './keep-alive-options.js';
import type { DrainOptions, KeepAliveOptions, ResolvedKeepAliveOptions } from './keep-alive-options.js';
import { Admission } from './admission.js';
import { answerAndClose } from './lingering-close.js';
import { clientAskedToClose, socketInHttp } from './node-internals.js';
import { RequestStart } from './request-start.js';
import { advertiseKeepAlive, closeOnLastResponse } from './response-headers.js';
import { stopConnectionsCheck, switchOffNodeTimers } from './node-server-settings.js';
import { emptyCloseCounts, RequestsHistogram, serverReasonFromError } from './server-stats.js';
import type { ServerCloseReason, ServerStats } from './server-stats.js';
import { DrainRun } from './drain-run.js';
import type { DrainResult } from './drain-run.js';
import { keepAliveOnAccept } from './accepted-tcp-keepalive.js';

const kConn = Symbol('lifeline.connection');
type Tracked = Socket & { [kConn]?: Connection };

/**
 * Returned by `keepAlive(server)`. See docs/server.md.
 * @example
 *   const policy = keepAlive(server, { idleTimeoutMs: 75_000, maxConnections: 10_000 });
 *   process.on('SIGTERM', async () => { console.log(await policy.drain({ timeoutMs: 30_000, spreadMs: 5_000 })); });
 */
export class KeepAliveController {
  readonly options: Readonly<ResolvedKeepAliveOptions>;
  readonly #server: HttpServer;
  readonly #clock: Clock;
  readonly #deadlines: ConnectionDeadlines;
  readonly #table = new ConnectionTable<Connection>();
  readonly #closes = emptyCloseCounts();
  readonly #histogram = new RequestsHistogram();
  readonly #admission: Admission;
  readonly #policy: KeepAlivePolicy;
  readonly #detachTcpKeepAlive: (() => void) | undefined;
  readonly #restoreNode: () => void;
  readonly #unobserve: () => void;
  readonly #listener: TakenListener;
  readonly #requestTimeoutMs: number;
  /** Node writes the Keep-Alive hint from response fields (see #advertise); undefined until the first response. */
  #nodeHint: boolean | undefined;
  readonly #requestStart = new RequestStart();
  #nextId = 1;
  #requests = 0;
  #drain: DrainRun<Connection> | undefined;
  #closed = false;
  /** `'close'` (connection, reason) for every tracked connection that ends (or leaves HTTP on an
   * upgrade), and `'empty'` when the last one has. For logs and metrics. */
  readonly events = new EventEmitter<{ empty: []; close: [conn: Connection, reason: ServerCloseReason] }>();

  constructor(server: HttpServer, options?: KeepAliveOptions) {
    this.options = Object.freeze(resolveKeepAliveOptions(options));
    const o = this.options;
    this.#server = server;
    this.#clock = o.clock;
    this.#policy = keepAlivePolicy(o);
    this.#deadlines = new ConnectionDeadlines(o.clock, o, (conn) => this.#onDeadline(conn));
    this.#requestTimeoutMs = o.requestTimeoutMs;
    this.#restoreNode = switchOffNodeTimers(server);
    this.#admission = new Admission(
      { clock: o.clock, maxConnections: o.maxConnections, whenFull: o.whenFull, holdMs: o.headersTimeoutMs || o.idleTimeoutMs || 10_000, refuseWaitMs: Math.min(o.headersTimeoutMs || 10_000, 10_000) },
      { open: () => this.#table.size, evictOne: () => this.#evictOne(), admit: (socket) => this.#admit(socket) },
    );
    this.#detachTcpKeepAlive = o.tcpKeepAlive === null ? undefined : keepAliveOnAccept(server, o.tcpKeepAlive);
    this.#listener = takeConnectionListener(server, server instanceof HttpsServer ? 'secureConnection' : 'connection', (socket) => this.#admission.accept(socket as Socket));
    this.#unobserve = observeHttpServer(server, {
      onRequestStart: (socket, req, res) => {
        const conn = (socket as Tracked)[kConn];
        if (conn !== undefined) this.#onRequest(conn, req, res);
      },
      onResponseFinish: (socket, req) => {
        const conn = (socket as Tracked)[kConn];
        if (conn !== undefined) this.#onResponseDone(conn, req);
      },
    });
  }

  /** Counters and gauges, copied out. */
  stats(): ServerStats {
    return {
      open: this.#table.size,
      idle: this.#table.idle.size,
      active: this.#table.active.size,
      draining: this.#table.draining.size,
      queued: this.#admission.queued,
      accepted: this.#admission.accepted,
      requests: this.#requests,
      closes: { ...this.#closes, rejected: this.#admission.rejected },
      requestsPerConnection: this.#histogram.snapshot(),
    };
  }

  /** The policy's id of the connection a socket, request or response belongs to. */
  connectionId(target: Socket | IncomingMessage | ServerResponse): number | undefined {
    const socket: Tracked | null = 'socket' in target ? target.socket : target;
    return socket?.[kConn]?.id;
  }

  /**
   * Stop accepting, close idle connections, tell busy ones `Connection: close` on their next
   * response, spread over `spreadMs`; destroy what remains at `timeoutMs`. Resolves with counts.
   * Calling it again returns the same promise.
   */
  drain(options?: DrainOptions): Promise<DrainResult> {
    if (this.#drain !== undefined) return this.#drain.promise;
    const { timeoutMs, spreadMs } = resolveDrainOptions(options);
    // net.Server's close, not http's: http's also closes every idle connection at once (Node 19+),
    // which would defeat spreadMs and count those closes as nobody's.
    if (this.#server.listening) NetServer.prototype.close.call(this.#server);
    this.#admission.refuseHeld();
    const run = new DrainRun<Connection>({
      clock: this.#clock,
      timeoutMs,
      spreadMs,
      connections: this.#table.all(),
      reach: (conn) => this.#drainOne(conn),
      force: (conn) => {
        conn.reason = 'drain_forced';
        conn.socket.destroy();
      },
    });
    this.#drain = run;
    void run.promise.then(() => stopConnectionsCheck(this.#server));
    return run.promise;
  }

  /** Detach from the server: restore Node's settings and listeners, stop every timer. Open
   * connections stay open (under Node's own rules from their next response). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unobserve();
    this.#listener.restore();
    this.#detachTcpKeepAlive?.();
    this.#restoreNode();
    this.#admission.releaseHeld((socket) => this.#listener.node?.call(this.#server, socket));
    for (const conn of this.#table.all()) {
      delete (conn.socket as Tracked)[kConn];
      conn.socket.off('error', onSocketError);
    }
    this.#table.clear();
    this.#deadlines.close();
    this.#drain?.close();
  }

  // ---- accept --------------------------------------------------------------------------------

  #admit(socket: Tracked): void {
    this.#listener.node?.call(this.#server, socket);
    if (socket.destroyed) return;
    this.#requestStart.learn(socket);
    const conn = new Connection(this.#nextId++, socket, this.#clock.now(), this.options.maxConnectionAgeMs);
    conn.bytesAtCheck = socket.bytesRead;
    socket[kConn] = conn;
    this.#table.add(conn);
    socket.on('close', this.#onSocketClose);
    socket.on('error', onSocketError);
    this.#deadlines.armWait(conn, this.#deadlines.coarseNow(this.#clock));
  }

  /** Close the least recently used connection that is truly idle. */
  #evictOne(): boolean {
    for (const conn of this.#table.idle) {
      if (this.#leftHttp(conn) || this.#sawRequest(conn, this.#clock.now())) continue;
      this.#closeConn(conn, 'evicted');
      return true;
    }
    return false;
  }

  /** A waiting connection whose parser is gone was upgraded (WebSocket, CONNECT): let it go. */
  #leftHttp(conn: Connection): boolean {
    if (socketInHttp(conn.socket)) return false;
    this.#forget(conn, 'upgrade');
    return true;
  }

  /**
   * Ask a waiting connection whether a request has begun; if so it becomes active (not idle, not
   * evictable), its headers deadline counted from the request's first byte.
   */
  #sawRequest(conn: Connection, now: number): boolean {
    const start = this.#requestStart.begun(conn, now);
    if (start < 0) return false;
    conn.headersStart = start;
    this.#table.set(conn, conn.drainMarked ? 'draining' : 'active');
    this.#deadlines.armRequest(conn, this.#deadlines.coarseNow(this.#clock));
    return true;
  }

  // ---- requests ------------------------------------------------------------------------------

  #onRequest(conn: Connection, req: IncomingMessage, res: ServerResponse): void {
    if (this.#closed) return;
    this.#requests += 1;
    const n = ++conn.requests;
    conn.inFlight += 1;
    conn.lastReq = req;
    conn.lastRes = res;
    const now = this.#deadlines.coarseNow(this.#clock);
    conn.requestStart = conn.headersStart >= 0 ? conn.headersStart : now;
    conn.headersStart = -1;
    const d = decideKeepAlive(this.#policy, {
      requests: n,
      openedAt: conn.openedAt,
      now,
      draining: conn.state === 'draining' || conn.drainMarked,
      clientClose: clientAskedToClose(req, res),
    });
    if (d.keep) {
      if (d.hintSeconds > 0) this.#nodeHint = advertiseKeepAlive(res, d.hintSeconds, d.requestsLeft, this.#nodeHint);
      if (conn.state === 'idle') this.#table.set(conn, 'active');
    } else {
      this.#closeAfter(conn, res, d.reason ?? 'app_close');
    }
    // The request timeout is checked when the connection's pending deadline (a bytesRead sample)
    // fires, not re-armed per request: one wheel write per request (at its end), not two.
    if (conn.deadline < 0 && this.#requestTimeoutMs > 0) this.#deadlines.set(conn, conn.requestStart + this.#requestTimeoutMs - now, now);
  }

  /** This response is the connection's last (drain, limits, the client's `Connection: close`). */
  #closeAfter(conn: Connection, res: ServerResponse, decided: ServerCloseReason): void {
    if (decided === 'peer_close') {
      // The client asked: Node closes after this response without our header.
      conn.reason ??= decided;
      this.#table.set(conn, 'draining');
      return;
    }
    // A connection already closing keeps the reason it closes for (a timeout, say).
    const close = decided === 'drain' ? (conn.reason ?? 'drain') : decided;
    conn.reason ??= close;
    this.#table.set(conn, 'draining');
    if (close === 'drain') closeOnLastResponse(conn);
    else res.setHeader('Connection', 'close');
  }

  /** A response has been written out ('finish'; a response cut short ends with its socket).
   * HTTP/1 responses finish in order, so a count says when the last one in flight is done. */
  #onResponseDone(conn: Connection, req: IncomingMessage): void {
    if (conn.inFlight > 0) conn.inFlight -= 1;
    if (conn.inFlight === 0) this.#afterLastResponse(conn, req);
  }

  /** No response in flight: the connection waits for its next request (once `req`'s body is in). */
  #afterLastResponse(conn: Connection, req: IncomingMessage): void {
    // lastReq is cleared below, so a second call for the same request (its 'end', then its
    // 'close') or a call for an older one does nothing.
    if (this.#closed || conn.socket.destroyed || conn.inFlight > 0 || conn.lastReq !== req) return;
    if (!req.complete && !req.destroyed) {
      // The body is still arriving (Node dumps it): the connection is not ready before it ends.
      const again = (): void => this.#afterLastResponse(conn, req);
      req.once('end', again);
      req.once('close', again);
      return;
    }
    // Not held while idle: an idle connection keeps no request or response alive.
    conn.lastReq = undefined;
    conn.lastRes = undefined;
    if (conn.state === 'draining') {
      // Our Connection: close made Node end the socket; if headers went out before we marked it
      // (drain reached it mid-response), end it now: it is idle and will take no new request.
      conn.socket.end();
      return;
    }
    const now = this.#deadlines.coarseNow(this.#clock);
    conn.waitStart = now;
    conn.checkAt = now;
    // Only without the parser's clock: the baseline for "a byte has come" (a native getter call).
    if (this.#requestStart.samplesBytes) conn.bytesAtCheck = conn.socket.bytesRead;
    this.#table.set(conn, 'idle');
    if (conn.drainMarked) {
      this.#closeConn(conn, conn.reason ?? 'drain');
      return;
    }
    this.#deadlines.armWait(conn, now);
    if (this.#admission.queued > 0 && !this.#closed) this.#admission.admitHeld();
  }

  // ---- deadlines -----------------------------------------------------------------------------

  #onDeadline(conn: Connection): void {
    const socket = conn.socket as Tracked;
    if (this.#closed || socket.destroyed || socket[kConn] !== conn) return;
    if (this.#leftHttp(conn)) return;
    const now = this.#clock.now();
    const o = this.options;
    if (now < conn.dueAt - this.#deadlines.resolutionMs) {
      // The wheel counts from its last tick, so it can fire up to a tick early: never act early.
      this.#deadlines.set(conn, conn.dueAt - now, now);
      return;
    }
    if (conn.state === 'idle') {
      if (this.#sawRequest(conn, now)) return;
      if (o.idleTimeoutMs > 0 && now >= conn.waitStart + o.idleTimeoutMs) {
        this.#closeConn(conn, 'idle_timeout');
        return;
      }
      conn.checkAt = now;
      this.#deadlines.armWait(conn, this.#deadlines.coarseNow(this.#clock));
      return;
    }
    if (conn.inFlight === 0 && conn.headersStart >= 0) {
      const headersLate = o.headersTimeoutMs > 0 && now >= conn.headersStart + o.headersTimeoutMs;
      this.#timeOut(conn, headersLate ? 'headers_timeout' : 'request_timeout', true);
      return;
    }
    // Requests in flight: only a body still arriving after requestTimeoutMs is cut.
    // HTTP/1 reads requests one after another, so only the latest can still be arriving.
    const slow = conn.lastReq !== undefined && !conn.lastReq.complete;
    if (!slow || this.#requestTimeoutMs === 0) return; // the response's end re-arms
    const due = conn.requestStart + this.#requestTimeoutMs;
    if (now >= due) this.#timeOut(conn, 'request_timeout', conn.lastRes?.headersSent !== true);
    else this.#deadlines.set(conn, due - now, now);
  }

  #timeOut(conn: Connection, reason: ServerCloseReason, answer: boolean): void {
    conn.reason ??= reason;
    this.#table.set(conn, 'draining');
    answerAndClose(conn.socket, answer ? 408 : 0, this.#clock);
  }

  // ---- closing -------------------------------------------------------------------------------

  /** Returns true when the connection was idle and is now closed. */
  #drainOne(conn: Connection): boolean {
    conn.drainMarked = true;
    if (conn.state === 'idle' && this.#leftHttp(conn)) return false;
    if (conn.state === 'idle' && !this.#sawRequest(conn, this.#clock.now())) {
      this.#closeConn(conn, 'drain');
      return true;
    }
    conn.reason ??= 'drain';
    closeOnLastResponse(conn);
    this.#table.set(conn, 'draining');
    return false;
  }

  #closeConn(conn: Connection, reason: ServerCloseReason): void {
    conn.reason ??= reason;
    conn.socket.destroy();
  }

  /** Stop tracking a socket that left HTTP (upgrade/CONNECT); counted, not closed. */
  #forget(conn: Connection, reason: ServerCloseReason): void {
    this.#deadlines.cancel(conn);
    delete (conn.socket as Tracked)[kConn];
    conn.socket.off('error', onSocketError);
    this.#finish(conn, reason);
  }

  /** One listener shared by every socket (no closure per connection). */
  readonly #onSocketClose = ((controller: KeepAliveController) =>
    function onSocketClose(this: Tracked, hadError: boolean): void {
      const conn = this[kConn];
      if (conn !== undefined) controller.#onClose(conn, hadError);
    })(this);

  #onClose(conn: Connection, hadError: boolean): void {
    if (this.#closed || (conn.socket as Tracked)[kConn] !== conn) return;
    this.#deadlines.cancel(conn);
    const reason = conn.reason ?? (hadError ? 'error' : conn.socket.readableEnded ? 'peer_close' : 'app_close');
    this.#finish(conn, reason);
  }

  #finish(conn: Connection, reason: ServerCloseReason): void {
    this.#table.remove(conn);
    this.#closes[reason] += 1;
    this.#histogram.record(conn.requests);
    this.#drain?.closed(conn, reason);
    this.events.emit('close', conn, reason);
    if (this.#admission.queued > 0 && !this.#closed) this.#admission.admitHeld();
    if (this.#table.size === 0) {
      this.#drain?.empty();
      this.events.emit('empty');
    }
  }
}

/** The first socket error names the close reason (ECONNRESET: reset, ETIMEDOUT: tcp_timeout, TLS:
 * tls_error); one function shared by every socket. Node's own error listener still answers 400. */
function onSocketError(this: Tracked, error: unknown): void {
  const conn = this[kConn];
  if (conn !== undefined) conn.reason ??= serverReasonFromError(error);
}
