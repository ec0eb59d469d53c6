/**
 * The keep-alive policy of one `http.Server` / `https.Server`.
 *
 * Why: Node's idle timer (keepAliveTimeout, 5 s) races load balancers, `server.close()` leaves
 * busy keep-alive sockets open, and a full server refuses newcomers while idle sockets sit unused.
 * This controller owns every connection deadline instead, on one timer wheel.
 *
 * Node's own timers are switched off so they cannot fight the policy (and restored by close()):
 * `keepAliveTimeout = 0` (no socket idle timer, no Keep-Alive header of Node's: we send ours),
 * `headersTimeout = 0` and `requestTimeout = 0` (the connectionsCheckingInterval sweep then
 * returns at once), `maxRequestsPerSocket = 0` (Node would 503 pipelined extras). `server.timeout`
 * (socket inactivity, 0 by default) is left as the caller set it.
 *
 * How "first byte of a request" is seen without a 'data' listener (which would take the socket
 * off Node's fast consume path, -20 % req/s measured): while a connection waits for a request its
 * deadline wakes every `checkMs` and asks Node's HTTP parser, which stamps the first byte of every
 * message (`parser.duration()`: ms since it, 0 between messages; the clock behind Node's own
 * headersTimeout). So the headers timeout counts from the exact first byte, and nothing is read
 * per request. A new connection is the exception: Node's parser counts it from accept, so there
 * `socket.bytesRead` (against its value at accept) says whether a byte came. Where the parser has
 * no duration() (not Node), bytesRead is sampled at every response end instead, and a request is
 * taken to have begun at the previous sample (up to checkMs early). An idle close happens only if
 * no byte arrived since the connection went idle, and the advertised hint is shorter than the
 * close by hintMarginMs. Times are read from the wheel's tick clock on the per-request path (a
 * 10 ms tick), so deadlines hold to one tick.
 *
 * Requests and response ends are seen on Node's `http.server.request.start` and
 * `http.server.response.finish` diagnostics channels (one subscriber per process, shared by every
 * controller), not with listeners: a second 'request' listener makes every emit copy the listener
 * array, and a 'close' listener per response is an add and a call per request.
 *
 * Connections accepted before keepAlive() was called are not tracked (attach before listen()).
 *
 * Invariants: a connection with a request in flight is never closed by the idle timer or evicted;
 * maxRequests, maxAge and drain only ever add `Connection: close` to a response not yet started
 * and close after it ends; every close is counted once, by the first reason known.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import { Server as NetServer } from 'node:net';
import type { Socket } from 'node:net';
import type { Clock } from '../../core/clock.js';
import { TimerWheel } from '../../core/timer-wheel.js';
import { Connection, ConnectionTable } from './connection-table.js';
import { resolveDrainOptions, resolveKeepAliveOptions } from './keep-alive-options.js';
import type { DrainOptions, KeepAliveOptions, ResolvedKeepAliveOptions } from './keep-alive-options.js';
import { answerAndClose, rejectNewcomer } from './lingering-close.js';
import { NewcomerQueue } from './newcomer-queue.js';
import { stopConnectionsCheck, switchOffNodeTimers } from './node-server-settings.js';
import { emptyCloseCounts, RequestsHistogram } from './server-stats.js';
import type { CloseCounts, CloseReason, Histogram } from './server-stats.js';
import { DrainRun } from './drain-run.js';
import type { DrainResult } from './drain-run.js';
import { keepAliveOnAccept } from './accepted-tcp-keepalive.js';

const kConn = Symbol('lifeline.connection');
const kController = Symbol('lifeline.keepAliveController');
/** Node's HTTP parser, as far as it is read here: ms since the current message's first byte. */
type Parser = { duration?: () => number };
type Tracked = Socket & { [kConn]?: Connection; parser?: Parser | null };
type Hooked = HttpServer & { [kController]?: KeepAliveController };
type Listener = (...args: unknown[]) => void;
/** What Node publishes on `http.server.request.start` and `http.server.response.finish`. */
interface HttpMessage {
  request: IncomingMessage;
  response: ServerResponse;
  socket: Tracked;
  server: Hooked;
}
const REQUEST_START = 'http.server.request.start';
const RESPONSE_FINISH = 'http.server.response.finish';
/** The fields of Node's ServerResponse its own Keep-Alive header is written from. */
interface NodeResponseFields {
  _keepAliveTimeout?: unknown;
  _maxRequestsPerSocket?: unknown;
  _defaultKeepAlive?: unknown;
}

export interface ServerStats {
  open: number;
  idle: number;
  active: number;
  draining: number;
  /** Newcomers held unread at maxConnections (whenFull 'pause'). */
  queued: number;
  /** Connections accepted (admitted or rejected) and requests received since attach. */
  accepted: number;
  requests: number;
  closes: CloseCounts;
  requestsPerConnection: Histogram;
}

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
  readonly #wheel: TimerWheel;
  readonly #table = new ConnectionTable();
  readonly #closes = emptyCloseCounts();
  readonly #histogram = new RequestsHistogram();
  readonly #queue: NewcomerQueue;
  readonly #event: 'connection' | 'secureConnection';
  readonly #detachTcpKeepAlive: (() => void) | undefined;
  readonly #restoreNode: () => void;
  #original: Listener[] = [];
  #nodeListener: Listener | undefined;
  readonly #checkMs: number;
  readonly #hint: number;
  /** Requests a connection serves before `Connection: close`: 1 when keep-alive is off, Infinity for no limit. */
  readonly #maxRequests: number;
  readonly #requestTimeoutMs: number;
  /** Node writes the Keep-Alive hint from response fields (see #advertise); undefined until the first response. */
  #nodeHint: boolean | undefined;
  /** Node's parser tells when a request began (see the top); undefined until the first accept. */
  #parserClock: boolean | undefined;
  #nextId = 1;
  #accepted = 0;
  #requests = 0;
  #drain: DrainRun<Connection> | undefined;
  #closed = false;
  /** `'close'` (connection, reason) for every tracked connection that ends (or leaves HTTP on an
   * upgrade), and `'empty'` when the last one has. For logs and metrics; drain() listens too. */
  readonly events = new EventEmitter<{ empty: []; close: [conn: Connection, reason: CloseReason] }>();

  constructor(server: HttpServer, options?: KeepAliveOptions) {
    this.options = Object.freeze(resolveKeepAliveOptions(options));
    const o = this.options;
    this.#server = server;
    this.#clock = o.clock;
    this.#wheel = new TimerWheel({ resolutionMs: 10, clock: o.clock });
    this.#hint = o.idleTimeoutMs === 0 ? 0 : Math.floor((o.idleTimeoutMs - o.hintMarginMs) / 1000);
    this.#maxRequests = o.idleTimeoutMs === 0 ? 1 : o.maxRequestsPerConnection > 0 ? o.maxRequestsPerConnection : Infinity;
    this.#requestTimeoutMs = o.requestTimeoutMs;
    const sampled = [o.headersTimeoutMs, o.requestTimeoutMs].filter((ms) => ms > 0);
    this.#checkMs = sampled.length === 0 ? Infinity : Math.max(10, Math.min(5_000, Math.floor(Math.min(...sampled) / 8)));
    this.#restoreNode = switchOffNodeTimers(server);
    this.#queue = new NewcomerQueue(o.clock, o.headersTimeoutMs || o.idleTimeoutMs || 10_000, (socket) => this.#reject(socket));
    this.#event = server instanceof HttpsServer ? 'secureConnection' : 'connection';
    this.#detachTcpKeepAlive = o.tcpKeepAlive === null ? undefined : keepAliveOnAccept(server, o.tcpKeepAlive);
    this.#wrapConnectionListener();
    (server as Hooked)[kController] = this;
    KeepAliveController.#attach();
  }

  // One subscriber per channel for the whole process; each message names its server.
  static #attached = 0;

  static #attach(): void {
    if (KeepAliveController.#attached++ > 0) return;
    subscribe(REQUEST_START, KeepAliveController.#onRequestStart);
    subscribe(RESPONSE_FINISH, KeepAliveController.#onResponseFinish);
  }

  static #detach(): void {
    if (--KeepAliveController.#attached > 0) return;
    unsubscribe(REQUEST_START, KeepAliveController.#onRequestStart);
    unsubscribe(RESPONSE_FINISH, KeepAliveController.#onResponseFinish);
  }

  // Node catches what a subscriber throws (a user's 'close' listener, say) and rethrows it on the
  // next tick as an uncaught exception, as it would have been from an event listener.
  static readonly #onRequestStart = (message: unknown): void => {
    const m = message as HttpMessage;
    const conn = m.socket[kConn];
    const controller = m.server[kController];
    if (conn !== undefined && controller !== undefined) controller.#onRequest(conn, m.request, m.response);
  };

  static readonly #onResponseFinish = (message: unknown): void => {
    const m = message as HttpMessage;
    const conn = m.socket[kConn];
    const controller = m.server[kController];
    if (conn !== undefined && controller !== undefined) controller.#onResponseDone(conn, m.request);
  };

  /** Counters and gauges, copied out. */
  stats(): ServerStats {
    return {
      open: this.#table.size,
      idle: this.#table.idle.size,
      active: this.#table.active.size,
      draining: this.#table.draining.size,
      queued: this.#queue.size,
      accepted: this.#accepted,
      requests: this.#requests,
      closes: { ...this.#closes },
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
    for (let q = this.#queue.take(); q !== undefined; q = this.#queue.take()) this.#reject(q);
    const run = new DrainRun<Connection>({
      clock: this.#clock,
      timeoutMs,
      spreadMs,
      connections: this.#table.all(),
      events: this.events,
      open: () => this.#table.size,
      reach: (conn) => this.#drainOne(conn),
      force: (conn) => {
        conn.reason = 'drainForced';
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
    const s = this.#server as Hooked;
    if (s[kController] === this) delete s[kController];
    KeepAliveController.#detach();
    const current = s.listeners(this.#event) as Listener[];
    s.removeAllListeners(this.#event);
    for (const l of current) s.on(this.#event, l === this.#onConnection && this.#nodeListener !== undefined ? this.#nodeListener : l);
    this.#detachTcpKeepAlive?.();
    this.#restoreNode();
    for (let q = this.#queue.take(); q !== undefined; q = this.#queue.take()) {
      this.#nodeListener?.call(s, q);
      q.resume();
    }
    for (const conn of this.#table.all()) delete (conn.socket as Tracked)[kConn];
    this.#table.clear();
    this.#wheel.close();
    this.#drain?.close();
  }

  // ---- accept --------------------------------------------------------------------------------

  /** Put our dispatcher in place of Node's HTTP connection listener, keeping the others. */
  #wrapConnectionListener(): void {
    const s = this.#server;
    this.#original = s.listeners(this.#event) as Listener[];
    this.#nodeListener = this.#original.find((l) => l.name === 'connectionListener') ?? this.#original[0];
    s.removeAllListeners(this.#event);
    for (const l of this.#original) s.on(this.#event, l === this.#nodeListener ? this.#onConnection : l);
    if (this.#nodeListener === undefined) s.on(this.#event, this.#onConnection);
  }

  readonly #onConnection = (raw: unknown): void => {
    const socket = raw as Tracked;
    this.#accepted += 1;
    const max = this.options.maxConnections;
    if (max > 0 && this.#table.size >= max && !this.#evictOne()) {
      if (this.options.whenFull === 'reject' || this.#drain !== undefined) {
        this.#reject(socket);
      } else {
        this.#queue.hold(socket);
      }
      return;
    }
    this.#admit(socket);
  };

  #admit(socket: Tracked): void {
    this.#nodeListener?.call(this.#server, socket);
    if (socket.destroyed) return;
    this.#parserClock ??= typeof socket.parser?.duration === 'function';
    const conn = new Connection(this.#nextId++, socket, this.#clock.now(), this.options.maxConnectionAgeMs);
    conn.bytesAtCheck = socket.bytesRead;
    socket[kConn] = conn;
    this.#table.add(conn);
    socket.on('close', this.#onSocketClose);
    this.#armWait(conn);
  }

  /** Answer the newcomer's first request with 503 + Connection: close (never handed to HTTP). */
  #reject(socket: Socket): void {
    this.#closes.rejected += 1;
    rejectNewcomer(socket, this.#clock, Math.min(this.options.headersTimeoutMs || 10_000, 10_000));
  }

  /** Hand held newcomers the room that has freed up (or can be made by evicting idle ones). */
  #admitQueued(): void {
    const max = this.options.maxConnections;
    while (this.#queue.size > 0 && !this.#closed && this.#drain === undefined && (this.#table.size < max || this.#evictOne())) {
      const socket = this.#queue.take() as Socket;
      this.#admit(socket);
      socket.resume();
    }
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
    const parser = (conn.socket as Tracked).parser;
    if (parser !== null && parser !== undefined) return false;
    this.#forget(conn, 'upgrade');
    return true;
  }

  /**
   * Ask a waiting connection whether a request has begun (see the top); if so it becomes active
   * (not idle, not evictable), its headers deadline counted from the request's first byte.
   */
  #sawRequest(conn: Connection, now: number): boolean {
    const socket = conn.socket as Tracked;
    let start: number;
    if (conn.requests === 0 || this.#parserClock !== true) {
      if (socket.bytesRead === conn.bytesAtCheck) return false;
      const ms = this.#parserClock === true ? (socket.parser?.duration?.() ?? 0) : 0;
      start = ms > 0 ? now - ms : conn.checkAt;
    } else {
      const ms = socket.parser?.duration?.() ?? 0;
      if (ms <= 0) return false;
      start = now - ms;
    }
    conn.headersStart = start;
    this.#table.set(conn, conn.drainMarked ? 'draining' : 'active');
    this.#armRequest(conn);
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
    const now = this.#coarseNow();
    conn.requestStart = conn.headersStart >= 0 ? conn.headersStart : now;
    conn.headersStart = -1;
    if (conn.state === 'idle' && n < this.#maxRequests && now < conn.closeAt && !conn.drainMarked && res.shouldKeepAlive !== false) {
      // The common case first, with nothing else on its path (this runs for every request): the
      // connection stays open after this response.
      if (this.#hint > 0) this.#advertise(res, this.#maxRequests === Infinity ? 0 : this.#maxRequests - n);
      this.#table.set(conn, 'active');
    } else {
      this.#onRequestOther(conn, res, n, now);
    }
    // The request timeout is checked when the connection's pending deadline (a bytesRead sample)
    // fires, not re-armed per request: one wheel write per request (at its end), not two.
    if (conn.deadline < 0 && this.#requestTimeoutMs > 0) this.#setDeadline(conn, conn.requestStart + this.#requestTimeoutMs - now, now);
  }

  /** A request that closes the connection (drain, limits, the client's `Connection: close`) or
   * arrives pipelined behind another. */
  #onRequestOther(conn: Connection, res: ServerResponse, n: number, now: number): void {
    let close: CloseReason | undefined;
    if (conn.state === 'draining' || conn.drainMarked) close = conn.reason ?? 'drain';
    else if (n >= this.#maxRequests) close = 'maxRequests';
    else if (now >= conn.closeAt) close = 'maxAge';
    if (close === 'drain') {
      conn.reason ??= close;
      this.#table.set(conn, 'draining');
      this.#closeOnLast(conn);
    } else if (close !== undefined) {
      res.setHeader('Connection', 'close');
      conn.reason ??= close;
      this.#table.set(conn, 'draining');
    } else if (res.shouldKeepAlive === false) {
      conn.reason ??= 'clientClose';
      this.#table.set(conn, 'draining');
    } else {
      if (this.#hint > 0) this.#advertise(res, this.#maxRequests === Infinity ? 0 : this.#maxRequests - n);
      if (conn.state === 'idle') this.#table.set(conn, 'active');
    }
  }

  /**
   * Advertise `Keep-Alive: timeout=N[, max=left]` on a response that keeps the connection.
   *
   * Node writes that header itself from two fields it copies onto every response
   * (`_keepAliveTimeout`, `_maxRequestsPerSocket`; Node 16.10+), when the response keeps the
   * connection and the application set no Keep-Alive header of its own. Setting the two fields
   * (our hint in ms, the requests left) makes Node write our hint on its own path: a header in
   * the response's header store instead went through Node's per-header processing on every
   * response (a keyed store into a dictionary object, a lower-cased copy of the name), which
   * showed in the profile. Node's socket timer stays off: it reads `server.keepAliveTimeout` (0
   * while attached), not these. Where the fields are not found (not Node), `setHeader` does it.
   */
  #advertise(res: ServerResponse, left: number): void {
    const r = res as unknown as NodeResponseFields;
    this.#nodeHint ??= typeof r._keepAliveTimeout === 'number' && typeof r._maxRequestsPerSocket === 'number' && r._defaultKeepAlive === true;
    if (this.#nodeHint) {
      r._keepAliveTimeout = this.#hint * 1000;
      r._maxRequestsPerSocket = left;
    } else if (!res.headersSent) {
      res.setHeader('Keep-Alive', left > 0 ? `timeout=${this.#hint}, max=${left}` : `timeout=${this.#hint}`);
    }
  }

  /** Monotonic ms, to a wheel tick (10 ms): the wheel's cached time while it runs, else the clock. */
  #coarseNow(): number {
    return this.#wheel.size > 0 ? this.#wheel.epochMs + this.#wheel.tickNow : this.#clock.now();
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
    const now = this.#coarseNow();
    conn.waitStart = now;
    conn.checkAt = now;
    // Only without the parser's clock: the baseline for "a byte has come" (a native getter call).
    if (this.#parserClock !== true) conn.bytesAtCheck = conn.socket.bytesRead;
    this.#table.set(conn, 'idle');
    if (conn.drainMarked) {
      this.#closeConn(conn, conn.reason ?? 'drain');
      return;
    }
    this.#armWait(conn, now);
    if (this.#queue.size > 0) this.#admitQueued();
  }

  // ---- deadlines -----------------------------------------------------------------------------

  /** Waiting for a request: wake at the idle close or the next bytesRead sample, whichever first. */
  #armWait(conn: Connection, now = this.#coarseNow()): void {
    const o = this.options;
    const idleAt = o.idleTimeoutMs > 0 ? conn.waitStart + o.idleTimeoutMs : Infinity;
    const at = Math.min(idleAt, conn.checkAt + this.#checkMs);
    if (at === Infinity) this.#cancelDeadline(conn);
    else this.#setDeadline(conn, at - now, now);
  }

  /** A request is being read: wake at its headers or request deadline. */
  #armRequest(conn: Connection): void {
    const o = this.options;
    const h = o.headersTimeoutMs > 0 ? conn.headersStart + o.headersTimeoutMs : Infinity;
    const r = o.requestTimeoutMs > 0 ? conn.headersStart + o.requestTimeoutMs : Infinity;
    const at = Math.min(h, r);
    if (at === Infinity) this.#cancelDeadline(conn);
    else this.#setDeadline(conn, at - this.#coarseNow());
  }

  /** Due `ms` from now (the wheel's tick time: at most one 10 ms tick early, like the wheel). */
  #setDeadline(conn: Connection, ms: number, now = this.#coarseNow()): void {
    const delay = Math.max(0, Math.ceil(ms));
    conn.dueAt = now + delay;
    if (conn.deadline >= 0) {
      // The same timeout again (the common case: each response's end) is a touch, which is what
      // reset() does when the expiry moves later (it cannot move earlier with the same timeout).
      if (delay === conn.deadlineMs ? this.#wheel.touch(conn.deadline) : this.#wheel.reset(conn.deadline, delay)) {
        conn.deadlineMs = delay;
        return;
      }
    }
    conn.deadline = this.#wheel.add(delay, this.#onDeadline, conn);
    conn.deadlineMs = delay;
  }

  #cancelDeadline(conn: Connection): void {
    if (conn.deadline >= 0) this.#wheel.cancel(conn.deadline);
    conn.deadline = -1;
  }

  /**
   * Deadline callbacks run in a microtask after the wheel's tick, not inside it: TimerWheel.add()
   * called from inside an expiry callback resets the wheel's cursor to the current time (its timer
   * is unset during a tick), so when a tick's callbacks take longer than a tick, the slots in
   * between are skipped and their deadlines expire one wheel turn (40.96 s) late (seen with 1,000
   * 408s at once). Deferring the re-arm keeps add() outside the tick.
   */
  readonly #onDeadline = (_id: number, data: unknown): void => {
    (data as Connection).deadline = -1;
    queueMicrotask(() => this.#handleDeadline(data as Connection));
  };

  #handleDeadline(conn: Connection): void {
    if (conn.deadline >= 0) return; // re-armed meanwhile
    const socket = conn.socket as Tracked;
    if (this.#closed || socket.destroyed || socket[kConn] !== conn) return;
    if (this.#leftHttp(conn)) return;
    const now = this.#clock.now();
    if (now < conn.dueAt - this.#wheel.resolutionMs) {
      // The wheel counts from its last tick, so it can fire up to a tick early: never act early.
      this.#setDeadline(conn, conn.dueAt - now);
      return;
    }
    if (conn.state === 'idle') {
      if (this.#sawRequest(conn, now)) return;
      if (this.options.idleTimeoutMs > 0 && now >= conn.waitStart + this.options.idleTimeoutMs) {
        this.#closeConn(conn, 'idleTimeout');
        return;
      }
      conn.checkAt = now;
      this.#armWait(conn);
      return;
    }
    if (conn.inFlight === 0 && conn.headersStart >= 0) {
      const headersLate = this.options.headersTimeoutMs > 0 && now >= conn.headersStart + this.options.headersTimeoutMs;
      this.#timeOut(conn, headersLate ? 'headersTimeout' : 'requestTimeout', true);
      return;
    }
    // Requests in flight: only a body still arriving after requestTimeoutMs is cut.
    // HTTP/1 reads requests one after another, so only the latest can still be arriving.
    const slow = conn.lastReq !== undefined && !conn.lastReq.complete;
    if (!slow || this.#requestTimeoutMs === 0) return; // the response's end re-arms
    const due = conn.requestStart + this.#requestTimeoutMs;
    if (now >= due) this.#timeOut(conn, 'requestTimeout', conn.lastRes?.headersSent !== true);
    else this.#setDeadline(conn, due - now);
  }

  #timeOut(conn: Connection, reason: CloseReason, answer: boolean): void {
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
    this.#closeOnLast(conn);
    this.#table.set(conn, 'draining');
    return false;
  }

  /** Draining: only the last response in flight says `Connection: close`, so pipelined requests
   * before it are all answered; one that was marked earlier and not yet sent is unmarked. */
  #closeOnLast(conn: Connection): void {
    const last = conn.inFlight > 0 ? conn.lastRes : undefined;
    if (conn.closeOn !== undefined && conn.closeOn !== last && !conn.closeOn.headersSent) {
      conn.closeOn.removeHeader('Connection');
    }
    if (last !== undefined && !last.headersSent) {
      last.setHeader('Connection', 'close');
      last.removeHeader('Keep-Alive');
      conn.closeOn = last;
    }
  }

  #closeConn(conn: Connection, reason: CloseReason): void {
    conn.reason ??= reason;
    conn.socket.destroy();
  }

  /** Stop tracking a socket that left HTTP (upgrade/CONNECT); counted, not closed. */
  #forget(conn: Connection, reason: CloseReason): void {
    this.#cancelDeadline(conn);
    delete (conn.socket as Tracked)[kConn];
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
    this.#cancelDeadline(conn);
    const reason = conn.reason ?? (hadError ? 'error' : conn.socket.readableEnded ? 'clientClose' : 'serverClose');
    this.#finish(conn, reason);
  }

  #finish(conn: Connection, reason: CloseReason): void {
    this.#table.remove(conn);
    this.#closes[reason] += 1;
    this.#histogram.record(conn.requests);
    this.events.emit('close', conn, reason);
    if (this.#queue.size > 0) this.#admitQueued();
    if (this.#table.size === 0) this.events.emit('empty');
  }
}
