/**
 * One client connection: parse each request head, route it, forward the request to a pooled
 * upstream connection and the response back, both streamed with backpressure, then keep the
 * client connection alive (or close it) by the client-side policy.
 *
 * Why raw sockets and not http.Server/http.request: the per-request objects of Node's HTTP
 * stack cost most of a Node proxy's CPU (see ../../../shared/anchors.md); this path parses heads
 * with the strict wire layer (src/http/wire), forwards body bytes as they are (chunked framing
 * is validated, not re-encoded) and allocates little per request.
 *
 * Invariants
 * - One exchange at a time per client connection; pipelined requests wait in `#buf` (the socket
 *   is paused while an exchange runs, so the buffer cannot grow without bound).
 * - Nothing ambiguous is forwarded: a head the wire layer rejects gets 400/431/505 and a close.
 * - A request is retried on another connection only when its reused upstream connection failed
 *   before any response byte and either no byte of it was written or it is idempotent and
 *   complete in the replay buffer. Otherwise the client gets 502 (and the log says why).
 * - An upstream connection goes back to the pool only after a complete exchange with known
 *   framing; anything else closes it.
 * - One wheel deadline per connection; its meaning follows the state (headers, body, awaiting
 *   the response, response stream, idle).
 */
import type { Socket } from 'node:net';
import { HttpParseError, ChunkedScanner, parseRequestHead, parseResponseHead, buildRequestHead, buildResponseHead } from '../../http/wire/index.js';
import type { HeadLimits, RequestHead, ResponseHead } from '../../http/wire/index.js';
import type { ClientConfig } from '../config/index.js';
import type { ListenerMetrics } from '../metrics/index.js';
import type { DownstreamCloseReason } from '../metrics/index.js';
import type { Cluster, Member } from './cluster.js';
import type { UpstreamConnection, UpstreamSink } from './upstream-connection.js';
import type { PoolWaiter } from './endpoint-pool.js';
import type { IdleLinks } from './idle-list.js';
import type { Router } from './router.js';
import { localResponse } from './local-response.js';
import type { AccessLog } from './access-log.js';
import type { TimerWheel } from '../../core/timer-wheel.js';
import type { Clock } from '../../core/clock.js';
import type { LifelineError } from '../../core/errors.js';
import { WebSocketPinger, isWebSocketUpgrade } from './websocket-pinger.js';
import { readIntoBuffer } from '../../transport/user-read-buffer.js';

/** What a connection needs from its listener and proxy. */
export interface ListenerContext {
  readonly name: string;
  readonly protocol: 'http' | 'https';
  client: ClientConfig;
  limits: HeadLimits;
  router: Router<Cluster>;
  readonly metrics: ListenerMetrics;
  readonly wheel: TimerWheel;
  readonly clock: Clock;
  readonly accessLog: AccessLog;
  /** Draining: every response closes its connection. */
  draining: boolean;
  /** Idle timeout of an upgraded (WebSocket) connection, both directions, ms. */
  readonly tunnelIdleTimeoutMs: number;
  /** The proxy's own WebSocket pings, both ways (websocket-pinger.ts); intervalMs 0 = off. */
  readonly tunnelPing: { readonly intervalMs: number; readonly timeoutMs: number };
  /** Plain-TCP listeners: the buffer client sockets read into (transport/user-read-buffer.ts). */
  readonly readBuffer: Buffer | undefined;
  /** Called when the connection becomes idle (true) or busy (false), for LRU eviction. */
  setIdle(conn: DownstreamConnection, idle: boolean): void;
  closed(conn: DownstreamConnection): void;
  /** A closed connection waits for the client's FIN (true) or is gone (false): close() ends it. */
  lingering(conn: DownstreamConnection, waiting: boolean): void;
}

type State = 'idle' | 'head' | 'body' | 'await' | 'response' | 'tunnel' | 'closed';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
const REPLAY_LIMIT = 64 * 1024;
const EMPTY = Buffer.alloc(0);
/** Hop-by-hop and forwarding fields the proxy replaces (build-head drops the Connection ones). */
const DROP_FORWARDED: readonly string[] = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'via'];
const DROP_FORWARDED_AND_HOST: readonly string[] = [...DROP_FORWARDED, 'host'];

/**
 * The connection a client socket belongs to. Socket listeners are shared by every connection and
 * find it here, so an idle connection holds no closures: its memory is the socket plus one object.
 */
const CONNECTION = Symbol('lifeline.downstreamConnection');
interface ClientSocket extends Socket {
  [CONNECTION]: DownstreamConnection;
}

/**
 * A response head goes out in one write with the body bytes that came with it. Up to this many
 * body bytes are copied next to the head (one small buffer, one write); a larger first piece goes
 * with the head in one corked writev instead of a copy.
 */
const COPY_WITH_HEAD_MAX = 16 * 1024;

/** How long a closed connection waits for the client's FIN after ours before it is destroyed. */
const LINGER_AFTER_CLOSE_MS = 5_000;

const CONNECTION_CLOSE: readonly string[] = ['Connection', 'close'];
const VIA_SELF = ['1.0 lifeline', '1.1 lifeline'] as const;

/** `Keep-Alive: timeout=N` as extra fields, built once per N: every response carries one. */
const keepAliveFields: (readonly string[])[] = [];
function keepAliveHint(seconds: number): readonly string[] {
  if (seconds > 3600) return ['Keep-Alive', `timeout=${seconds}`];
  return (keepAliveFields[seconds] ??= ['Keep-Alive', `timeout=${seconds}`]);
}

export class DownstreamConnection implements UpstreamSink, PoolWaiter, IdleLinks<DownstreamConnection> {
  state: State = 'idle';
  /** Links of the listener's idle list (idle-list.ts). */
  idlePrev: DownstreamConnection | null = null;
  idleNext: DownstreamConnection | null = null;
  readonly openedAtMs: number;
  requests = 0;
  #buf: Buffer = EMPTY;
  #timerId = -1;
  #closeAfter = false;
  #reason: DownstreamCloseReason | undefined;
  readonly #client: string;

  // The exchange in progress.
  #head: RequestHead | undefined;
  #cluster: Cluster | undefined;
  #member: Member | undefined;
  #upstream: UpstreamConnection | undefined;
  #reused = false;
  #attempts = 0;
  #startedMs = 0;
  #sentMs = 0;
  #ttfbMs: number | null = null;
  #reqRemaining = 0;
  #reqScanner: ChunkedScanner | undefined;
  #reqDone = false;
  #written = false;
  /** The head sent upstream (latin1), kept until the exchange ends for a retry. */
  #upstreamHead = '';
  /** The request can be sent again whole: head plus `#replayBody` (within REPLAY_LIMIT). */
  #replayable = false;
  #replayBody: Buffer[] | undefined;
  #replayBytes = 0;
  /** Request body bytes produced before an upstream connection was ready. */
  #queue: Buffer[] | undefined;
  /** A 'drain' listener is attached (only once the client first pushed back). */
  #drainListening = false;
  #resBuf: Buffer = EMPTY;
  /**
   * The bytes being handled (client or upstream) are a view of the proxy's shared read buffer,
   * valid only during the read callback: what is kept or written is copied.
   */
  #shared = false;
  /** The response head, until it leaves with the first body bytes (`#writeBody`). */
  #resHeadOut = '';
  #res: ResponseHead | undefined;
  #resRemaining = 0;
  #resScanner: ChunkedScanner | undefined;
  #responseStarted = false;
  #status = 0;
  #bytesOut = 0;
  #upstreamBroken = false;
  #error: string | undefined;
  /** A WebSocket tunnel with pings on: all tunnel bytes pass through it. */
  #pinger: WebSocketPinger | undefined;

  constructor(
    readonly socket: Socket,
    readonly ctx: ListenerContext,
  ) {
    this.openedAtMs = ctx.clock.now();
    this.#client = socket.remoteAddress ?? '';
    socket.setNoDelay(true);
    (socket as ClientSocket)[CONNECTION] = this;
    if (ctx.readBuffer === undefined || !readIntoBuffer(socket as ClientSocket, ctx.readBuffer, DownstreamConnection.#onRead)) socket.on('data', DownstreamConnection.#onData);
    socket.on('end', DownstreamConnection.#onEnd);
    socket.on('error', DownstreamConnection.#onError);
    socket.on('close', DownstreamConnection.#onClose);
    this.#timerId = ctx.wheel.add(ctx.client.headersTimeoutMs > 0 ? ctx.client.headersTimeoutMs : ctx.client.idleTimeoutMs, DownstreamConnection.#onTimer, this);
    this.state = 'head';
  }

  /** Close now if idle; otherwise after the current response. */
  closeWhenIdle(reason: DownstreamCloseReason): void {
    if (this.state === 'idle' || (this.state === 'head' && this.#buf.length === 0)) this.#close(reason, false);
    else {
      this.#closeAfter = true;
      this.#reason ??= reason;
    }
  }

  destroy(reason: DownstreamCloseReason): void {
    this.#close(reason, true);
  }

  // ---- shared listeners (`this` is the client socket; the wheel passes the connection) -------

  static #onData(this: ClientSocket, chunk: Buffer): void {
    this[CONNECTION].#data(chunk);
  }

  /** Bytes read into the shared buffer (readIntoBuffer). */
  static #onRead(this: ClientSocket, nread: number): boolean {
    const conn = this[CONNECTION];
    const shared = conn.ctx.readBuffer as Buffer;
    conn.#shared = true;
    conn.#data(shared.subarray(0, nread));
    conn.#shared = false;
    // Pipelined bytes or a partial head wait in #buf past this call: a copy of them.
    if (conn.#buf.length > 0 && conn.#buf.buffer === shared.buffer) conn.#buf = Buffer.from(conn.#buf);
    return true; // keep reading
  }

  static #onEnd(this: ClientSocket): void {
    this[CONNECTION].#end();
  }

  static #onError(this: ClientSocket): void {
    this[CONNECTION].#reason ??= 'error';
  }

  static #onClose(this: ClientSocket): void {
    const conn = this[CONNECTION];
    if (conn.state !== 'closed') conn.#close(conn.#reason ?? 'clientClose', true);
    else if (conn.#timerId !== -1) {
      conn.ctx.wheel.cancel(conn.#timerId); // the linger deadline
      conn.#timerId = -1;
      conn.ctx.lingering(conn, false);
    }
  }

  static #onDrain(this: ClientSocket): void {
    // The client took what we wrote: let the upstream send more.
    const conn = this[CONNECTION];
    if (conn.state === 'response' || conn.state === 'tunnel') conn.#upstream?.socket.resume();
  }

  static #onTimer(this: void, _id: number, data: unknown): void {
    (data as DownstreamConnection).#timerFired();
  }

  /** The client is not taking our writes: stop reading upstream until it drains. */
  #clientBackpressure(): void {
    this.#upstream?.socket.pause();
    if (!this.#drainListening) {
      this.#drainListening = true;
      this.socket.on('drain', DownstreamConnection.#onDrain);
    }
  }

  // ---- client side -------------------------------------------------------------------------

  #data(chunk: Buffer): void {
    switch (this.state) {
      case 'idle':
        this.state = 'head';
        this.ctx.setIdle(this, false);
        this.#setTimer(this.ctx.client.headersTimeoutMs);
        this.#buf = chunk;
        this.#parse();
        return;
      case 'head':
        this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
        this.#parse();
        return;
      case 'body':
        this.#requestBody(chunk, 0);
        return;
      case 'tunnel':
        if (this.#shared) chunk = Buffer.from(chunk); // written on, so it must outlive the read
        // With pings on, the pinger forwards (swallowing its own pongs, adding its pings).
        if (this.#pinger === undefined) this.#upstream?.socket.write(chunk);
        else if (!this.#pinger.fromClient(chunk)) this.socket.pause();
        if (this.#timerId !== -1) this.ctx.wheel.touch(this.#timerId);
        return;
      case 'await':
      case 'response':
        // Pipelined bytes of the next request: keep them; the socket is paused meanwhile.
        this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
        this.socket.pause();
        return;
      case 'closed':
        return;
    }
  }

  #parse(): void {
    let head: RequestHead | null;
    try {
      head = parseRequestHead(this.#buf, 0, this.#buf.length, this.ctx.limits);
    } catch (error) {
      if (error instanceof HttpParseError) {
        this.ctx.metrics.rejected(error.code);
        this.#error = error.code;
        this.#reject(error.status, error.code);
        return;
      }
      throw error;
    }
    if (head === null) return;
    const rest = this.#buf.subarray(head.headBytes);
    this.#buf = EMPTY;
    this.#start(head, rest);
  }

  #start(head: RequestHead, rest: Buffer): void {
    const ctx = this.ctx;
    const now = ctx.clock.now();
    this.requests += 1;
    this.#head = head;
    this.#startedMs = now;
    this.#attempts = 0;
    this.#error = undefined;
    const policy = ctx.client;
    if (
      head.connectionClose ||
      ctx.draining ||
      (policy.maxRequestsPerConnection > 0 && this.requests >= policy.maxRequestsPerConnection) ||
      (policy.maxConnectionAgeMs > 0 && now - this.openedAtMs >= policy.maxConnectionAgeMs)
    ) {
      this.#closeAfter = true;
      this.#reason ??= head.connectionClose ? 'clientClose' : ctx.draining ? 'drain' : this.requests >= policy.maxRequestsPerConnection && policy.maxRequestsPerConnection > 0 ? 'maxRequests' : 'maxAge';
    }
    this.#reqDone = !head.chunked && head.contentLength <= 0;
    this.#reqRemaining = head.contentLength > 0 ? head.contentLength : 0;
    if (head.chunked) {
      this.#reqScanner ??= new ChunkedScanner();
      this.#reqScanner.reset();
    }

    if (head.method === 'CONNECT') return this.#local(405, 'ERR_CONNECT_NOT_ALLOWED', true, rest);
    let target = head.target;
    let hostHeader = head.host ?? '';
    if (!target.startsWith('/') && target !== '*') {
      // absolute-form (RFC 9112 3.2.2): the target's authority replaces Host.
      const match = /^https?:\/\/([^/?#]+)(.*)$/i.exec(target);
      if (match === null) return this.#local(400, 'ERR_BAD_TARGET', true, rest);
      hostHeader = match[1] as string;
      target = match[2] === '' ? '/' : (match[2] as string);
    }
    const cluster = ctx.router.match(hostHeader, target);
    if (cluster === undefined) return this.#local(404, 'ERR_NO_ROUTE', !this.#reqDone, rest);
    this.#cluster = cluster;

    // The head to send upstream: hop-by-hop fields dropped, forwarding fields appended.
    let xff: string | undefined;
    let via: string | undefined;
    const h = head.headers;
    for (let i = 0; i < h.length; i += 2) {
      const name = h[i] as string;
      if (name.length === 15 && name.toLowerCase() === 'x-forwarded-for') xff = xff === undefined ? (h[i + 1]) : `${xff}, ${h[i + 1] as string}`;
      else if (name.length === 3 && name.toLowerCase() === 'via') via = via === undefined ? (h[i + 1]) : `${via}, ${h[i + 1] as string}`;
    }
    const extra = [
      'X-Forwarded-For', xff === undefined ? this.#client : `${xff}, ${this.#client}`,
      'X-Forwarded-Proto', ctx.protocol,
      'X-Forwarded-Host', hostHeader,
      'Via', via === undefined ? VIA_SELF[head.versionMinor] : `${via}, ${VIA_SELF[head.versionMinor]}`,
    ];
    if (hostHeader !== head.host) extra.push('Host', hostHeader);
    if (head.upgrade !== undefined) extra.push('Connection', 'upgrade', 'Upgrade', head.upgrade);
    // An HTTP/1.0 client cannot read a chunked body: ask the backend in HTTP/1.0 (keeping the
    // upstream connection alive if it agrees), so it frames the response by length or close.
    if (head.versionMinor === 0) extra.push('Connection', 'keep-alive');
    const alsoDrop = hostHeader !== head.host ? DROP_FORWARDED_AND_HOST : DROP_FORWARDED;
    // Kept as a latin1 string: socket.write encodes it straight into the write request, with no
    // Buffer allocated per request.
    this.#upstreamHead = buildRequestHead(head.method, target, head.headers, head.connectionTokens, extra, { alsoDrop, versionMinor: head.versionMinor });
    this.#replayable = IDEMPOTENT.has(head.method) || this.#reqDone;
    this.#replayBytes = this.#upstreamHead.length;
    this.#written = false;
    this.state = this.#reqDone ? 'await' : 'body';
    this.#setTimer(this.#reqDone ? cluster.config.timeouts.responseHeadersTimeoutMs : policy.requestTimeoutMs);
    if (this.#reqDone && rest.length > 0) {
      // Pipelined bytes are here already: read no more until this exchange is over.
      this.#buf = rest;
      this.socket.pause();
    }
    this.#acquire(undefined);
    // The acquire may have answered already (no healthy upstream): the exchange is over then.
    if (this.#head !== head || (this.state as State) === 'closed') return;
    if (!this.#reqDone && rest.length > 0) this.#requestBody(rest, 0);
  }

  #acquire(avoid: Member | undefined): void {
    const cluster = this.#cluster as Cluster;
    const member = cluster.pick(avoid, this.#attempts === 0 ? this.#startedMs : this.ctx.clock.now());
    if (member === undefined) {
      cluster.metrics.noHealthyUpstream();
      return this.#local(503, 'ERR_NO_HEALTHY_UPSTREAM', !this.#reqDone, EMPTY);
    }
    this.#attempts += 1;
    this.#member = member;
    member.view.activeRequests += 1;
    member.pool.acquire(this);
  }

  /** The pool's answer to `#acquire` (PoolWaiter). */
  onAcquired(error: Error | undefined, conn: UpstreamConnection | undefined, reused: boolean): void {
    const member = this.#member as Member;
    if (this.state === 'closed' || this.#head === undefined) {
      member.view.activeRequests -= 1;
      if (conn !== undefined) member.pool.release(conn, true, undefined, false);
      return;
    }
    if (error !== undefined || conn === undefined) {
      member.view.activeRequests -= 1;
      (this.#cluster as Cluster).record(member, 'connect-failure');
      const code = (error as { code?: string } | undefined)?.code ?? 'ERR_UPSTREAM_CONNECT';
      // Nothing reached the backend, so any request may go to another endpoint: try each other
      // endpoint once at most, on top of the retry budget for failures after writing.
      const cluster = this.#cluster as Cluster;
      const budget = cluster.config.retries.maxAttempts + cluster.members.length - 1;
      if (this.#attempts < budget && !this.#written) {
        cluster.metrics.retry();
        this.#retried = true;
        return this.#acquire(member);
      }
      this.#error = code;
      return this.#local(code === 'ERR_UPSTREAM_CONNECT_TIMEOUT' ? 504 : 502, code, !this.#reqDone, EMPTY);
    }
    this.#upstream = conn;
    this.#reused = reused;
    conn.sink = this;
    member.pool.metrics.requestSent(reused);
    const socket = conn.socket;
    const pieces = this.#queue;
    this.#queue = undefined;
    this.#sentMs = this.ctx.clock.now();
    let ok: boolean;
    if (pieces === undefined) ok = socket.write(this.#upstreamHead, 'latin1');
    else {
      // Head and early body bytes leave in one writev.
      socket.cork();
      ok = socket.write(this.#upstreamHead, 'latin1');
      for (const piece of pieces) ok = socket.write(piece);
      socket.uncork();
    }
    this.#written = true;
    if (!ok && this.state === 'body') this.socket.pause();
  }

  /** Forward request body bytes from `chunk[offset..]`; the rest after the body is pipelined. */
  #requestBody(chunk: Buffer, offset: number): void {
    let end: number;
    if (this.#reqScanner !== undefined && (this.#head as RequestHead).chunked) {
      try {
        end = this.#reqScanner.push(chunk, offset, chunk.length);
      } catch (error) {
        if (error instanceof HttpParseError) {
          this.ctx.metrics.rejected(error.code);
          this.#error = error.code;
          this.#upstreamBroken = true;
          return this.#local(400, error.code, true, EMPTY);
        }
        throw error;
      }
      if (end === -1) end = chunk.length;
      else this.#reqDone = true;
    } else {
      const n = Math.min(this.#reqRemaining, chunk.length - offset);
      end = offset + n;
      this.#reqRemaining -= n;
      if (this.#reqRemaining === 0) this.#reqDone = true;
    }
    const piece = offset === 0 && end === chunk.length ? chunk : chunk.subarray(offset, end);
    if (piece.length > 0) this.#sendBody(piece);
    this.ctx.wheel.touch(this.#timerId);
    if (this.#reqDone) {
      if (end < chunk.length) {
        this.#buf = chunk.subarray(end); // pipelined
        this.socket.pause();
      }
      if (this.state === 'body') {
        this.state = 'await';
        this.#setTimer((this.#cluster as Cluster).config.timeouts.responseHeadersTimeoutMs);
      }
    }
  }

  #sendBody(piece: Buffer): void {
    if (this.#shared) piece = Buffer.from(piece); // kept for a retry and written: not a view
    if (this.#replayable) {
      this.#replayBytes += piece.length;
      if (this.#replayBytes > REPLAY_LIMIT) {
        this.#replayable = false;
        this.#replayBody = undefined;
      } else (this.#replayBody ??= []).push(piece);
    }
    const upstream = this.#upstream;
    if (upstream === undefined) {
      const queue = (this.#queue ??= []);
      queue.push(piece);
      if (queue.length > 64) this.socket.pause();
      return;
    }
    if (!upstream.socket.write(piece)) this.socket.pause();
  }

  onUpstreamDrain(): void {
    if (this.state === 'body' || this.state === 'tunnel') this.socket.resume();
  }

  // ---- upstream side -----------------------------------------------------------------------

  onUpstreamData(chunk: Buffer, shared: boolean): void {
    if (this.state === 'tunnel') {
      if (shared) chunk = Buffer.from(chunk); // written, so it must outlive the call
      const ok = this.#pinger === undefined ? this.socket.write(chunk) : this.#pinger.fromBackend(chunk);
      if (!ok) this.#clientBackpressure();
      if (this.#timerId !== -1) this.ctx.wheel.touch(this.#timerId);
      return;
    }
    if (!this.#responseStarted) {
      this.#responseStarted = true;
      this.#ttfbMs = this.ctx.clock.now() - this.#sentMs;
      (this.#cluster as Cluster).latency.record((this.#member as Member).view, this.#ttfbMs);
    }
    this.#shared = shared;
    if (this.#res === undefined) {
      this.#resBuf = this.#resBuf.length === 0 ? chunk : Buffer.concat([this.#resBuf, chunk]);
      this.#responseHead();
      // An incomplete head (or the start of the next) outlives the call: keep a copy.
      if (shared && this.#resBuf.length > 0 && this.#resBuf.buffer === chunk.buffer) this.#resBuf = Buffer.from(this.#resBuf);
    } else this.#responseBody(chunk, 0);
    this.#shared = false;
  }

  #responseHead(): void {
    const head = this.#head as RequestHead;
    for (;;) {
      let res: ResponseHead | null;
      try {
        res = parseResponseHead(this.#resBuf, 0, this.#resBuf.length, this.ctx.limits, head.method);
      } catch (error) {
        const code = error instanceof HttpParseError ? error.code : 'ERR_UPSTREAM_RESPONSE';
        this.#error = `upstream ${code}`;
        this.#upstreamBroken = true;
        (this.#cluster as Cluster).record(this.#member as Member, '5xx');
        return this.#local(502, 'ERR_BAD_UPSTREAM_RESPONSE', true, EMPTY);
      }
      if (res === null) return;
      let rest = this.#resBuf.subarray(res.headBytes);
      this.#resBuf = EMPTY;
      if (res.statusCode >= 100 && res.statusCode < 200 && !res.tunnel) {
        // 100 Continue and other interim responses: forward and read the next head.
        this.socket.write(buildResponseHead(res.statusCode, res.reason, res.headers, res.connectionTokens, []), 'latin1');
        this.#resBuf = rest;
        if (rest.length === 0) return;
        continue;
      }
      this.#res = res;
      this.#status = res.statusCode;
      this.state = res.tunnel ? 'tunnel' : 'response';
      const close = this.#closeAfter || res.bodyUntilClose;
      if (res.bodyUntilClose) {
        this.#closeAfter = true;
        this.#reason ??= 'clientClose';
      }
      let extra: readonly string[];
      if (res.tunnel) {
        extra = res.upgrade === undefined ? [] : ['Connection', 'upgrade', 'Upgrade', res.upgrade];
      } else if (close) {
        extra = CONNECTION_CLOSE;
      } else {
        const hintSec = Math.floor((this.ctx.client.idleTimeoutMs - this.ctx.client.keepAliveHintMarginMs) / 1000);
        extra = hintSec > 0 ? keepAliveHint(hintSec) : [];
        if (head.versionMinor === 0) extra = ['Connection', 'keep-alive', ...extra];
      }
      const out = buildResponseHead(res.statusCode, res.reason, res.headers, res.connectionTokens, extra);
      this.#bytesOut += out.length;
      this.#resRemaining = res.contentLength > 0 ? res.contentLength : 0;
      if (res.chunked) {
        this.#resScanner ??= new ChunkedScanner();
        this.#resScanner.reset();
      }
      this.#setTimer(res.tunnel ? this.ctx.tunnelIdleTimeoutMs : (this.#cluster as Cluster).config.timeouts.idleStreamTimeoutMs);
      if (res.tunnel) {
        this.socket.write(out, 'latin1');
        if (this.#shared) rest = Buffer.from(rest);
        // WebSocket pings on: from here on every tunnel byte passes through the pinger.
        if (this.ctx.tunnelPing.intervalMs > 0 && isWebSocketUpgrade(res.upgrade)) this.#startPinger();
        if (rest.length > 0) {
          if (this.#pinger === undefined) this.socket.write(rest);
          else this.#pinger.fromBackend(rest);
        }
        if (this.#buf.length > 0 && this.state === 'tunnel') {
          const early = this.#buf;
          this.#buf = EMPTY;
          if (this.#pinger === undefined) (this.#upstream as UpstreamConnection).socket.write(early);
          else this.#pinger.fromClient(early);
        }
        if (this.state === 'tunnel') this.socket.resume();
        return;
      }
      if (res.noBody || (!res.chunked && !res.bodyUntilClose && res.contentLength <= 0)) {
        this.socket.write(out, 'latin1');
        return this.#finish();
      }
      if (rest.length === 0) {
        this.socket.write(out, 'latin1'); // the body comes in a later read
        return;
      }
      this.#resHeadOut = out;
      this.#responseBody(rest, 0);
      return;
    }
  }

  #startPinger(): void {
    const upstream = (this.#upstream as UpstreamConnection).socket;
    this.#pinger = new WebSocketPinger({
      intervalMs: this.ctx.tunnelPing.intervalMs,
      timeoutMs: this.ctx.tunnelPing.timeoutMs,
      missedLimit: 1,
      clock: this.ctx.clock,
      toClient: (data) => this.socket.write(data),
      toBackend: (data) => upstream.write(data),
      // A side that stopped answering, or a malformed frame: close both sockets.
      onFailure: (error: LifelineError) => {
        this.#error = error.code;
        this.#upstreamBroken = true;
        this.#close('error', true);
      },
    }).start();
  }

  #responseBody(chunk: Buffer, offset: number): void {
    const res = this.#res as ResponseHead;
    let end = chunk.length;
    let done = false;
    if (res.chunked) {
      try {
        const at = (this.#resScanner as ChunkedScanner).push(chunk, offset, chunk.length);
        if (at !== -1) {
          end = at;
          done = true;
        }
      } catch (error) {
        // A broken chunked body from upstream: the client's response is cut off; close both.
        this.#writeBody(EMPTY);
        this.#error = `upstream ${error instanceof HttpParseError ? error.code : 'ERR_UPSTREAM_RESPONSE'}`;
        this.#upstreamBroken = true;
        return this.#close('error', true);
      }
    } else if (!res.bodyUntilClose) {
      const n = Math.min(this.#resRemaining, chunk.length - offset);
      end = offset + n;
      this.#resRemaining -= n;
      done = this.#resRemaining === 0;
    }
    if (end < chunk.length) this.#upstreamBroken = true; // bytes after the response: do not reuse
    const piece = offset === 0 && end === chunk.length ? chunk : chunk.subarray(offset, end);
    this.#bytesOut += piece.length;
    if (!this.#writeBody(piece)) this.#clientBackpressure();
    this.ctx.wheel.touch(this.#timerId);
    if (done) this.#finish();
  }

  /** Response body bytes to the client, preceded by the head when it has not left yet. */
  #writeBody(piece: Buffer): boolean {
    const head = this.#resHeadOut;
    // A view of the shared read buffer is copied: a write may hold it after this call.
    if (head === '') return this.socket.write(this.#shared ? Buffer.from(piece) : piece);
    this.#resHeadOut = '';
    if (piece.length > COPY_WITH_HEAD_MAX) {
      this.socket.cork();
      this.socket.write(head, 'latin1');
      const ok = this.socket.write(this.#shared ? Buffer.from(piece) : piece);
      this.socket.uncork();
      return ok;
    }
    const out = Buffer.allocUnsafe(head.length + piece.length);
    out.write(head, 0, 'latin1');
    piece.copy(out, head.length);
    return this.socket.write(out);
  }

  onUpstreamClose(error: Error | undefined): void {
    const upstream = this.#upstream;
    this.#upstream = undefined;
    if (this.state === 'closed' || upstream === undefined) return;
    const member = this.#member as Member;
    const cluster = this.#cluster as Cluster;
    if (this.state === 'tunnel') return this.#close('serverClose', false);
    if (this.#res !== undefined && this.#res.bodyUntilClose && error === undefined) {
      this.#upstreamBroken = true;
      return this.#finish();
    }
    if (!this.#responseStarted) {
      member.view.activeRequests -= 1;
      cluster.record(member, 'reset');
      // Retry on a fresh connection: only a reused connection's failure, and only when the
      // request can be replayed whole (idempotent, or nothing was written).
      const replayable = this.#replayable && (IDEMPOTENT.has((this.#head as RequestHead).method) || !this.#written);
      if (this.#reused && replayable && this.#attempts < cluster.config.retries.maxAttempts) {
        cluster.metrics.retry();
        this.#queue = this.#replayBody?.slice();
        this.#written = false;
        this.#retried = true;
        // Another endpoint when there is one: a reset may mean this one is going away.
        return this.#acquire(error === undefined ? undefined : member);
      }
      this.#error = `${this.#reused ? 'reused' : 'new'} upstream connection closed before the response${this.#written ? ' (request written, not replayable)' : ''}: ${error?.message ?? 'closed'}`;
      return this.#local(502, 'ERR_UPSTREAM_CLOSED', !this.#reqDone, EMPTY);
    }
    // The response was cut off: the client cannot be told but by closing.
    this.#error = `upstream closed mid-response: ${error?.message ?? 'closed'}`;
    this.#close('error', true);
  }

  #retried = false;

  // ---- exchange end ------------------------------------------------------------------------

  #finish(): void {
    const head = this.#head as RequestHead;
    const res = this.#res as ResponseHead;
    const cluster = this.#cluster as Cluster;
    const member = this.#member as Member;
    const upstream = this.#upstream;
    this.#upstream = undefined;
    member.view.activeRequests -= 1;
    if (upstream !== undefined) {
      const reusable = !this.#upstreamBroken && !res.connectionClose && this.#reqDone;
      member.pool.release(upstream, reusable, res.keepAliveHint, res.keepAliveHint !== undefined);
    }
    cluster.record(member, res.statusCode >= 500 ? '5xx' : 'success');
    if (this.#retried) cluster.metrics.retrySucceeded();
    if (!this.#reqDone) {
      // The response ended before the request body: the rest of the body cannot be skipped safely.
      this.#closeAfter = true;
    }
    this.#log(head, this.#status, cluster.name, member.pool.key);
    this.#endExchange();
  }

  /** Answer locally; `close` when the connection cannot carry another request after it. */
  #local(status: number, code: string, close: boolean, rest: Buffer): void {
    const head = this.#head;
    if (close) this.#closeAfter = true;
    this.#status = status;
    this.#error ??= code;
    if (this.#upstream !== undefined) {
      const upstream = this.#upstream;
      this.#upstream = undefined;
      (this.#member as Member).view.activeRequests -= 1;
      (this.#member as Member).pool.release(upstream, false, undefined, false);
    }
    const text = localResponse(status, code, this.#closeAfter);
    this.#bytesOut += text.length;
    this.socket.write(text, 'latin1');
    if (head !== undefined) this.#log(head, status, this.#cluster?.name ?? null, this.#member?.pool.key ?? null);
    if (!this.#closeAfter && rest.length > 0) this.#buf = rest;
    this.#endExchange();
  }

  /** A head the wire layer refused: answer and close (nothing after it can be trusted). */
  #reject(status: number, code: string): void {
    this.#closeAfter = true;
    this.#reason ??= 'error';
    this.#status = status;
    this.socket.write(localResponse(status, code, true), 'latin1');
    this.ctx.metrics.request(status, 0);
    this.#close('error', false);
  }

  #log(head: RequestHead, status: number, cluster: string | null, upstream: string | null): void {
    const durationMs = this.ctx.clock.now() - this.#startedMs;
    this.ctx.metrics.request(status, durationMs);
    if (!this.ctx.accessLog.enabled) return;
    this.ctx.accessLog.write({
      time: new Date().toISOString(),
      listener: this.ctx.name,
      client: this.#client,
      method: head.method,
      target: head.target,
      status,
      durationMs: Math.round(durationMs * 1000) / 1000,
      bytesOut: this.#bytesOut,
      cluster,
      upstream,
      upstreamReused: this.#reused,
      upstreamTtfbMs: this.#ttfbMs === null ? null : Math.round(this.#ttfbMs * 1000) / 1000,
      attempts: this.#attempts,
      ...(this.#error === undefined ? {} : { error: this.#error }),
      pid: process.pid,
    });
  }

  #endExchange(): void {
    this.#head = undefined;
    this.#res = undefined;
    this.#resBuf = EMPTY;
    this.#resHeadOut = '';
    this.#member = undefined;
    this.#cluster = undefined;
    this.#upstreamHead = '';
    this.#replayable = false;
    this.#replayBody = undefined;
    this.#queue = undefined;
    this.#reused = false;
    this.#retried = false;
    this.#responseStarted = false;
    this.#ttfbMs = null;
    this.#upstreamBroken = false;
    this.#bytesOut = 0;
    this.#error = undefined;
    if (this.#closeAfter) {
      this.#close(this.#reason ?? 'clientClose', false);
      return;
    }
    this.state = 'idle';
    this.#setTimer(this.ctx.client.idleTimeoutMs);
    this.ctx.setIdle(this, true);
    // Paused for pipelined bytes or backpressure only: no pause/resume churn per request.
    if (this.socket.isPaused()) this.socket.resume();
    if (this.#buf.length > 0) {
      const pipelined = this.#buf;
      this.#buf = EMPTY;
      this.#data(pipelined);
    }
  }

  // ---- timers and closing ------------------------------------------------------------------

  #setTimer(ms: number): void {
    if (ms <= 0) ms = 2 ** 30 - 1; // 0 = no limit in the config
    this.ctx.wheel.reset(this.#timerId, Math.min(ms, 2 ** 30 - 1));
  }

  #timerFired(): void {
    this.#timerId = -1;
    switch (this.state) {
      case 'idle':
        return this.#close('idleTimeout', false);
      case 'head':
        if (this.#buf.length === 0 && this.requests > 0) return this.#close('idleTimeout', false);
        this.ctx.metrics.rejected('ERR_HEADERS_TIMEOUT');
        return this.#reject(408, 'ERR_HEADERS_TIMEOUT');
      case 'body':
        this.#error = 'ERR_REQUEST_TIMEOUT';
        this.#upstreamBroken = true;
        return this.#local(408, 'ERR_REQUEST_TIMEOUT', true, EMPTY);
      case 'await':
        this.#error = 'ERR_UPSTREAM_RESPONSE_TIMEOUT';
        this.#upstreamBroken = true;
        return this.#local(504, 'ERR_UPSTREAM_RESPONSE_TIMEOUT', true, EMPTY);
      case 'response':
      case 'tunnel':
        this.#error = 'ERR_STREAM_IDLE_TIMEOUT';
        this.#upstreamBroken = true;
        return this.#close('error', true);
      case 'closed':
        this.ctx.lingering(this, false);
        this.socket.destroy(); // lingered LINGER_AFTER_CLOSE_MS after our FIN
        return;
    }
  }

  #end(): void {
    // The client half-closed (the listener allows half-open, so this decides): a complete
    // request still gets its response, then the close; one that can no longer complete (a
    // partial head, a cut body) closes now; a tunnel passes the FIN on.
    switch (this.state) {
      case 'idle':
      case 'head':
        return this.#close('clientClose', false);
      case 'body':
        this.#error = 'ERR_CLIENT_CLOSED_REQUEST';
        this.#upstreamBroken = true;
        return this.#close('clientClose', true);
      case 'tunnel':
        this.#pinger?.close(); // a half-closed client cannot answer pings
        this.#upstream?.socket.end();
        return;
      case 'await':
      case 'response':
        this.#closeAfter = true;
        this.#reason ??= 'clientClose';
        return;
      case 'closed':
        return;
    }
  }

  #close(reason: DownstreamCloseReason, destroy: boolean): void {
    if (this.state === 'closed') return;
    const wasIdle = this.state === 'idle';
    this.state = 'closed';
    this.#pinger?.close();
    if (this.#timerId !== -1) this.ctx.wheel.cancel(this.#timerId);
    this.#timerId = -1;
    const upstream = this.#upstream;
    if (upstream !== undefined) {
      this.#upstream = undefined;
      const member = this.#member as Member;
      member.view.activeRequests -= 1;
      member.pool.release(upstream, false, undefined, false);
    }
    if (wasIdle) this.ctx.setIdle(this, false);
    this.ctx.metrics.connectionClosed(this.#reason ?? reason);
    this.ctx.closed(this);
    if (destroy) this.socket.destroy();
    else {
      this.socket.end();
      // Our FIN is out; a client that never closes its side must not hold the socket for ever
      // (nginx's lingering_timeout).
      if (!this.socket.destroyed) {
        this.#timerId = this.ctx.wheel.add(LINGER_AFTER_CLOSE_MS, DownstreamConnection.#onTimer, this);
        this.ctx.lingering(this, true);
      }
    }
  }
}
