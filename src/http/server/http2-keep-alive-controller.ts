/**
 * The keep-alive policy of one HTTP/2 server (`http2.createServer` / `createSecureServer`).
 *
 * - PING keepalive: a core Heartbeat per session pings after `pingIntervalMs` without a new stream
 *   or a PING from the peer, and destroys the session when a PING goes unanswered for
 *   `pingTimeoutMs` (Envoy's `connection_keepalive`). A dead peer is found within
 *   pingIntervalMs + pingTimeoutMs.
 * - Idle: a session with no open stream for `idleTimeoutMs` is closed with GOAWAY (NO_ERROR),
 *   which lets the client open a new connection without losing a request.
 * - Ping flood: more than `maxPingsPerMinute` PINGs received in a minute is answered with GOAWAY
 *   ENHANCE_YOUR_CALM and debug data `too_many_pings` (what gRPC servers send), then the session
 *   is destroyed.
 * - Age: a session older than `maxConnectionAgeMs` gets GOAWAY (NO_ERROR) whether busy or not
 *   (gRPC's MAX_CONNECTION_AGE, Envoy's max_connection_duration); its open streams finish, new
 *   requests go to a new connection. HTTP/1's limit acts on the next request; here the GOAWAY is
 *   sent at the deadline, so each session's limit is drawn once from 90-100% of the option (gRPC
 *   jitters by 10% too): sessions opened together, after a deploy, do not all reconnect at once.
 *
 * Invariants: one wheel deadline per idle session plus one for its age, one Heartbeat (one timer)
 * per session; a session with an open stream is never idle-closed, and no stream is cut by the
 * age limit; close() stops every timer.
 * HTTP/1 connections of an `allowHTTP1` server are not policed here.
 */
import { constants } from 'node:http2';
import type { Http2Server, Http2SecureServer, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import type { Clock } from '../../core/clock.js';
import { Heartbeat } from '../../core/heartbeat.js';
import { clockOption, functionOption, integerOption, rejectUnknown } from '../../core/options.js';
import { MAX_WHEEL_TIMEOUT_MS, TimerWheel } from '../../core/timer-wheel.js';
import { DrainRun } from './drain-run.js';
import type { DrainResult } from './drain-run.js';
import { resolveDrainOptions } from './keep-alive-options.js';
import type { DrainOptions } from './keep-alive-options.js';
import { emptyCloseCounts, RequestsHistogram } from './server-stats.js';
import { serverReasonFromError } from './server-stats.js';
import type { CloseCounts, ServerCloseReason, Histogram } from './server-stats.js';
import { checkTcpKeepAliveOptions } from '../../transport/tcp-keepalive.js';
import type { TcpKeepAliveOptions } from '../../transport/tcp-keepalive.js';
import { keepAliveOnAccept } from './accepted-tcp-keepalive.js';

/** Options of {@link keepAlive} for an HTTP/2 server. Durations are integer ms. */
export interface Http2KeepAliveOptions {
  /** Close a session with no open stream for this long, with GOAWAY. Default 75 000. 0 = never. */
  idleTimeoutMs?: number;
  /** PING a session after this long without a new stream or a PING from the peer. Default
   * 60 000. 0 = no PING keepalive. */
  pingIntervalMs?: number;
  /** Destroy the session when a PING is unanswered this long. Default 20 000. */
  pingTimeoutMs?: number;
  /** PINGs a client may send in a minute before GOAWAY ENHANCE_YOUR_CALM. Default 60. 0 = no limit. */
  maxPingsPerMinute?: number;
  /** gRPC's ping policy: a PING sooner than this after the previous one, while no stream is open,
   * earns a strike. Default 0 (off); gRPC servers use 300 000 (5 min). */
  minPingIntervalWithoutDataMs?: number;
  /** Strikes tolerated; one more ends the session with GOAWAY ENHANCE_YOUR_CALM `too_many_pings`
   * (gRPC's GRPC_ARG_HTTP2_MAX_PING_STRIKES). Default 2. A new stream clears them. */
  maxPingStrikes?: number;
  /** Between the two GOAWAYs of a graceful close when the client does not answer the PING
   * between them. Default 1 000 (any round trip a PING could measure). */
  goawayGraceMs?: number;
  /** Told when a session ends, with why (for a caller's own metrics). */
  onSessionClose?: (session: ServerHttp2Session, reason: ServerCloseReason) => void;
  /** GOAWAY (NO_ERROR) a session this old, letting its open streams finish. Each session's limit
   * is drawn once from 90-100% of it. Default 3 600 000 (1 h, as HTTP/1). 0 = no limit. */
  maxConnectionAgeMs?: number;
  /** Where the age jitter comes from: a function returning [0, 1). Default Math.random (tests). */
  random?: () => number;
  /** TCP keepalive on every accepted socket (as the HTTP/1 option; under TLS, set before the
   * handshake). Default: not set. */
  tcpKeepAlive?: TcpKeepAliveOptions;
  clock?: Clock;
}

export interface Http2ServerStats {
  open: number;
  /** Sessions with no open stream. */
  idle: number;
  active: number;
  accepted: number;
  streams: number;
  pingsSent: number;
  pingsReceived: number;
  closes: CloseCounts;
  /** Streams per session, recorded when a session ends. */
  requestsPerConnection: Histogram;
}

class Session {
  streams = 0;
  total = 0;
  deadline = -1;
  ageDeadline = -1;
  heartbeat: Heartbeat | undefined;
  windowStart: number;
  pingsInWindow = 0;
  /** When the last PING came (gRPC policy), -1 before the first. */
  lastPingMs = -1;
  pingStrikes = 0;
  reason: ServerCloseReason | undefined;
  drainMarked = false;
  constructor(
    readonly session: ServerHttp2Session,
    now: number,
  ) {
    this.windowStart = now;
  }
}

const TOO_MANY_PINGS = Buffer.from('too_many_pings');

/**
 * @example
 *   const server = http2.createSecureServer({ key, cert });
 *   const policy = keepAlive(server, { pingIntervalMs: 30_000, pingTimeoutMs: 10_000 });
 */
export class Http2KeepAliveController {
  readonly options: Readonly<Required<Omit<Http2KeepAliveOptions, 'clock' | 'random' | 'tcpKeepAlive' | 'onSessionClose'>>> & {
    clock: Clock;
    onSessionClose: ((session: ServerHttp2Session, reason: ServerCloseReason) => void) | undefined;
    random: () => number;
    tcpKeepAlive: Readonly<TcpKeepAliveOptions> | null;
  };
  readonly #server: Http2Server | Http2SecureServer;
  readonly #wheel: TimerWheel;
  readonly #sessions = new Set<Session>();
  readonly #closes = emptyCloseCounts();
  readonly #histogram = new RequestsHistogram();
  #accepted = 0;
  #streams = 0;
  #pingsSent = 0;
  #pingsReceived = 0;
  #drain: DrainRun<Session> | undefined;
  #detachTcpKeepAlive: (() => void) | undefined;
  #closed = false;

  constructor(server: Http2Server | Http2SecureServer, options?: Http2KeepAliveOptions) {
    const W = 'keepAlive';
    const o = rejectUnknown(W, options, ['idleTimeoutMs', 'pingIntervalMs', 'pingTimeoutMs', 'maxPingsPerMinute', 'maxConnectionAgeMs', 'minPingIntervalWithoutDataMs', 'maxPingStrikes', 'goawayGraceMs', 'onSessionClose', 'random', 'tcpKeepAlive', 'clock']);
    const ms = { min: 0, max: MAX_WHEEL_TIMEOUT_MS };
    this.options = Object.freeze({
      idleTimeoutMs: integerOption(W, o, 'idleTimeoutMs', 75_000, ms),
      pingIntervalMs: integerOption(W, o, 'pingIntervalMs', 60_000, ms),
      pingTimeoutMs: integerOption(W, o, 'pingTimeoutMs', 20_000, { min: 1, max: MAX_WHEEL_TIMEOUT_MS }),
      maxPingsPerMinute: integerOption(W, o, 'maxPingsPerMinute', 60, { min: 0, max: 1_000_000 }),
      maxConnectionAgeMs: integerOption(W, o, 'maxConnectionAgeMs', 3_600_000, { ...ms, note: '(0 = no limit)' }), // ms.max: the wheel's longest timeout
      minPingIntervalWithoutDataMs: integerOption(W, o, 'minPingIntervalWithoutDataMs', 0, ms),
      maxPingStrikes: integerOption(W, o, 'maxPingStrikes', 2, { min: 0, max: 1_000_000 }),
      goawayGraceMs: integerOption(W, o, 'goawayGraceMs', 1_000, { min: 0, max: 60_000 }),
      onSessionClose: functionOption<(session: ServerHttp2Session, reason: ServerCloseReason) => void>(W, o, 'onSessionClose'),
      random: functionOption<() => number>(W, o, 'random') ?? Math.random,
      tcpKeepAlive: o.tcpKeepAlive === undefined ? null : checkTcpKeepAliveOptions(o.tcpKeepAlive, `${W}.tcpKeepAlive`),
      clock: clockOption(W, o),
    });
    this.#server = server;
    this.#wheel = new TimerWheel({ resolutionMs: 10, clock: this.options.clock });
    server.on('session', this.#onSession);
    if (this.options.tcpKeepAlive !== null) this.#detachTcpKeepAlive = keepAliveOnAccept(server, this.options.tcpKeepAlive);
  }

  stats(): Http2ServerStats {
    let idle = 0;
    for (const s of this.#sessions) if (s.streams === 0) idle++;
    return {
      open: this.#sessions.size,
      idle,
      active: this.#sessions.size - idle,
      accepted: this.#accepted,
      streams: this.#streams,
      pingsSent: this.#pingsSent,
      pingsReceived: this.#pingsReceived,
      closes: { ...this.#closes },
      requestsPerConnection: this.#histogram.snapshot(),
    };
  }

  /** Stop accepting; GOAWAY every session (spread over spreadMs), letting open streams finish;
   * destroy what remains at timeoutMs. */
  drain(options?: DrainOptions): Promise<DrainResult> {
    if (this.#drain !== undefined) return this.#drain.promise;
    const { timeoutMs, spreadMs } = resolveDrainOptions(options);
    if (this.#server.listening) this.#server.close();
    this.#drain = new DrainRun<Session>({
      clock: this.options.clock,
      timeoutMs,
      spreadMs,
      connections: [...this.#sessions],
      reach: (s) => {
        s.drainMarked = true;
        s.reason ??= 'drain';
        const idle = s.streams === 0;
        this.#goawayGracefully(s);
        return idle;
      },
      force: (s) => {
        s.reason = 'drain_forced';
        s.session.destroy();
      },
    });
    return this.#drain.promise;
  }

  /** Detach: stop every timer and listener. Sessions stay open. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.removeListener('session', this.#onSession);
    this.#detachTcpKeepAlive?.();
    for (const s of this.#sessions) s.heartbeat?.close();
    this.#sessions.clear();
    this.#wheel.close();
    this.#drain?.close();
  }

  readonly #onSession = (session: ServerHttp2Session): void => {
    const o = this.options;
    const s = new Session(session, o.clock.now());
    this.#accepted += 1;
    this.#sessions.add(s);
    if (o.pingIntervalMs > 0) {
      const hb = new Heartbeat({
        intervalMs: o.pingIntervalMs,
        timeoutMs: o.pingTimeoutMs,
        missedLimit: 1,
        clock: o.clock,
        sendPing: () => {
          this.#pingsSent += 1;
          session.ping((err) => {
            if (err === null) hb.pong();
          });
        },
      });
      hb.on('dead', (reason) => this.#end(s, reason, constants.NGHTTP2_NO_ERROR));
      s.heartbeat = hb.start();
    }
    session.on('ping', () => this.#onPing(s));
    session.on('stream', (stream: ServerHttp2Stream) => this.#onStream(s, stream));
    session.on('error', (err: unknown) => (s.reason ??= serverReasonFromError(err)));
    session.once('close', () => this.#onClose(s));
    this.#armIdle(s);
    if (o.maxConnectionAgeMs > 0) {
      const r = o.random();
      const draw = Number.isFinite(r) ? Math.min(1, Math.max(0, r)) : 1; // a bad draw is no jitter
      const ageMs = Math.ceil(o.maxConnectionAgeMs * (0.9 + 0.1 * draw));
      s.ageDeadline = this.#wheel.add(ageMs, this.#onAge, s);
    }
  };

  #onStream(s: Session, stream: ServerHttp2Stream): void {
    s.streams += 1;
    s.total += 1;
    s.pingStrikes = 0;
    this.#streams += 1;
    s.heartbeat?.received();
    if (s.deadline >= 0) this.#wheel.cancel(s.deadline);
    s.deadline = -1;
    stream.once('close', () => {
      s.streams -= 1;
      if (s.streams === 0) this.#armIdle(s);
    });
  }

  #onPing(s: Session): void {
    this.#pingsReceived += 1;
    s.heartbeat?.received();
    const now = this.options.clock.now();
    const minMs = this.options.minPingIntervalWithoutDataMs;
    if (minMs > 0) {
      const last = s.lastPingMs;
      s.lastPingMs = now;
      if (last >= 0 && s.streams === 0 && now - last < minMs) {
        s.pingStrikes += 1;
        if (s.pingStrikes > this.options.maxPingStrikes) return this.#end(s, 'flood', constants.NGHTTP2_ENHANCE_YOUR_CALM);
      }
    }
    const max = this.options.maxPingsPerMinute;
    if (max === 0) return;
    if (now - s.windowStart >= 60_000) {
      s.windowStart = now;
      s.pingsInWindow = 0;
    }
    s.pingsInWindow += 1;
    if (s.pingsInWindow > max) this.#end(s, 'flood', constants.NGHTTP2_ENHANCE_YOUR_CALM);
  }

  #armIdle(s: Session): void {
    if (this.#closed || this.options.idleTimeoutMs === 0 || s.session.destroyed) return;
    if (s.deadline >= 0) this.#wheel.cancel(s.deadline);
    s.deadline = this.#wheel.add(this.options.idleTimeoutMs, this.#onIdle, s);
  }

  readonly #onIdle = (_id: number, data: unknown): void => {
    const s = data as Session;
    s.deadline = -1;
    if (s.streams > 0 || s.session.destroyed || s.session.closed) return;
    s.reason ??= 'idle_timeout';
    // One GOAWAY: with no stream open, a request racing it is refused unprocessed (REFUSED_STREAM
    // or above the last stream id), which every client may retry, and the session ends at once.
    s.session.close();
  };

  readonly #onAge = (_id: number, data: unknown): void => {
    const s = data as Session;
    s.ageDeadline = -1;
    if (s.session.destroyed || s.session.closed) return;
    s.reason ??= 'max_age';
    this.#goawayGracefully(s); // open streams finish, then the session ends
  };

  /**
   * The two-step GOAWAY (RFC 9113 6.8): first with the largest stream id, so a request the client
   * is sending at this moment is still served rather than refused; after a PING round trip
   * (nothing the client sent before its answer is still in flight), or `goawayGraceMs` when no
   * answer comes (Node's own client stops answering PINGs once it has a GOAWAY), the final GOAWAY
   * names the last stream processed, and the session ends once its open streams have.
   */
  #goawayGracefully(s: Session): void {
    const session = s.session;
    if (session.destroyed || session.closed) return;
    session.goaway(constants.NGHTTP2_NO_ERROR, 2 ** 31 - 1);
    let timer = -1;
    const close = (): void => {
      if (timer >= 0) this.#wheel.cancel(timer);
      timer = -1;
      if (!session.destroyed && !session.closed) session.close();
    };
    timer = this.#wheel.add(this.options.goawayGraceMs, close);
    try {
      session.ping(close);
    } catch {
      // Too many PINGs outstanding: the grace alone decides.
    }
  }

  /** GOAWAY with `code` (debug data for a flood), then destroy. */
  #end(s: Session, reason: ServerCloseReason, code: number): void {
    if (s.session.destroyed) return;
    s.reason ??= reason;
    s.heartbeat?.close();
    const last = s.session.state.lastProcStreamID ?? 0;
    if (code !== constants.NGHTTP2_NO_ERROR) s.session.goaway(code, last, TOO_MANY_PINGS);
    s.session.destroy(undefined, code);
  }

  #onClose(s: Session): void {
    s.heartbeat?.close();
    if (s.deadline >= 0) this.#wheel.cancel(s.deadline);
    s.deadline = -1;
    if (s.ageDeadline >= 0) this.#wheel.cancel(s.ageDeadline);
    s.ageDeadline = -1;
    if (this.#closed || !this.#sessions.delete(s)) return;
    const reason = s.reason ?? 'peer_close';
    this.#closes[reason] += 1;
    this.#histogram.record(s.total);
    this.options.onSessionClose?.(s.session, reason);
    this.#drain?.closed(s, reason);
    if (this.#sessions.size === 0) this.#drain?.empty();
  }
}
