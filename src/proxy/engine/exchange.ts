/**
 * One request and its response through the proxy: created when a request head has been parsed
 * and routed, ended exactly once. It holds every piece of per-request state (the connection it
 * came on holds none) and does what does not depend on the client's protocol: pick an endpoint,
 * take a pooled connection (cancellable), send the request, read the response head and body
 * from the backend, retry by the one retry rule, and write the access-log line.
 *
 * Phases: request -> awaiting -> responding -> done (or upgraded -> done; request or awaiting
 * -> done for a local answer). `#to` rejects any other move. A response may begin before the
 * request body is complete (then the client connection closes after it).
 *
 * Retries (src/http/retry-rule.ts): a failure before any response byte is tried again on
 * another endpoint when one is available, on a new connection when it is the same endpoint,
 * within `retries.maxAttempts` and `retries.timeBudgetMs`, for the causes in `retries.retryOn`.
 * The failed endpoint's idle connections are probed and the closing ones dropped.
 */
import { HttpParseError, ChunkedScanner, parseResponseHead } from '../../http/wire/index.js';
import type { HeadLimits, RequestHead, ResponseHead } from '../../http/wire/index.js';
import { canRetry, IDEMPOTENT_METHODS } from '../../http/retry-rule.js';
import type { RetryFailure } from '../../http/retry-rule.js';
import type { Clock } from '../../core/clock.js';
import type { CloseReason } from '../../core/close-reason.js';
import type { RetryCondition } from '../config/index.js';
import type { ListenerMetrics } from '../metrics/index.js';
import type { AccessLog } from './access-log.js';
import type { Cluster, Member } from './cluster.js';
import type { PoolWaiter, PoolWant } from './endpoint-pool.js';
import type { UpstreamConnection, UpstreamSink } from './upstream-connection.js';
import type { ClientSide } from './client-side.js';
import { owned } from './borrowed-bytes.js';

/** What every exchange of a listener shares. */
export interface ExchangeContext {
  readonly listenerName: string;
  readonly clock: Clock;
  readonly metrics: ListenerMetrics;
  readonly accessLog: AccessLog;
  readonly limits: HeadLimits;
}

export type ExchangePhase = 'request' | 'awaiting' | 'responding' | 'upgraded' | 'done';
const MOVES: Readonly<Record<ExchangePhase, readonly ExchangePhase[]>> = {
  request: ['awaiting', 'responding', 'upgraded', 'done'],
  awaiting: ['responding', 'upgraded', 'done'],
  responding: ['done'],
  upgraded: ['done'],
  done: [],
};

/** A request body up to this size is kept, so the request can be sent again whole. */
const REPLAY_LIMIT = 64 * 1024;
const EMPTY = Buffer.alloc(0);

export class Exchange implements UpstreamSink, PoolWaiter {
  phase: ExchangePhase = 'request';
  /** The request body has been read whole. */
  requestDone: boolean;
  /** The client connection cannot carry another request after this one. */
  closeConnection = false;
  /** Response bytes written to the client (the client side adds the head's). */
  bytesOut = 0;
  status = 0;
  attempts = 0;
  /** Stable code of what went wrong (ERR_*), its sentence, and the socket errno behind it. */
  errorCode: string | null = null;
  errorDetail: string | null = null;
  errno: string | null = null;

  #member: Member | null = null;
  #upstream: UpstreamConnection | null = null;
  #want: PoolWant | null = null;
  #reused = false;
  #written = false;
  #retried = false;
  #sentMs = 0;
  /** The endpoint of the latest attempt, for the log. */
  #endpointKey: string | null = null;
  #ttfbMs: number | null = null;
  /** The whole request body so far, while it can be sent again (null: it cannot). */
  #replay: Buffer[] | null;
  #replayBytes: number;
  /** Body bytes read before an upstream connection was ready. */
  #queue: Buffer[] | null = null;
  #res: ResponseHead | null = null;
  #resBuf: Buffer = EMPTY;
  #resRemaining = 0;
  #resScanner: ChunkedScanner | null = null;
  /** The upstream connection can carry another request after this response. */
  #upstreamReusable = true;

  constructor(
    readonly ctx: ExchangeContext,
    readonly client: ClientSide,
    readonly head: RequestHead,
    readonly cluster: Cluster,
    /** The head to send upstream (latin1). */
    readonly upstreamHead: string,
    readonly startedMs: number,
  ) {
    this.requestDone = !head.chunked && head.contentLength <= 0;
    this.#replay = IDEMPOTENT_METHODS.has(head.method) || this.requestDone ? [] : null;
    this.#replayBytes = upstreamHead.length;
    if (this.requestDone) this.#to('awaiting');
  }

  /** Pick an endpoint and ask its pool for a connection. */
  begin(): void {
    this.#acquire(null);
  }

  // ---- request ------------------------------------------------------------------------------

  /** Request body bytes, as the client framed them. */
  sendBody(piece: Buffer, shared: boolean): void {
    piece = owned(piece, shared); // kept for a retry, or handed to a write
    if (this.#replay !== null) {
      this.#replayBytes += piece.length;
      if (this.#replayBytes > REPLAY_LIMIT) this.#replay = null;
      else this.#replay.push(piece);
    }
    const upstream = this.#upstream;
    if (upstream === null) {
      const queue = (this.#queue ??= []);
      queue.push(piece);
      if (queue.length > 64) this.client.pauseRequest();
      return;
    }
    if (!upstream.socket.write(piece)) this.client.pauseRequest();
  }

  /** The request body is complete. */
  requestComplete(): void {
    this.requestDone = true;
    if (this.phase === 'request') {
      this.#to('awaiting');
      this.client.awaiting(this, this.#responseTimeoutMs());
    }
  }

  // ---- upstream connection ------------------------------------------------------------------

  #acquire(failed: Member | null): void {
    const now = this.ctx.clock.now();
    const member = this.cluster.pick(failed ?? undefined, this.attempts === 0 ? this.startedMs : now);
    if (member === undefined) {
      this.cluster.metrics.noHealthyUpstream();
      return this.#fail(503, 'ERR_NO_HEALTHY_UPSTREAM', null);
    }
    this.attempts += 1;
    this.#member = member;
    this.#endpointKey = member.pool.key;
    member.view.activeRequests += 1;
    // Never a pooled connection to the endpoint that just failed: its siblings may be dying too.
    this.#want = member.pool.acquire(this, member === failed);
  }

  /** The pool's answer to `#acquire` (PoolWaiter). */
  onAcquired(error: Error | undefined, conn: UpstreamConnection | undefined, reused: boolean): void {
    this.#want = null;
    const member = this.#member;
    if (member === null) return;
    if (this.phase === 'done') {
      // The client went away while the connection was on its way (a pool answers a cancelled
      // want only when it had already dialled): give it back.
      if (conn !== undefined) member.pool.release(conn, 'reuse', undefined, false);
      return;
    }
    if (error !== undefined || conn === undefined) {
      member.view.activeRequests -= 1;
      this.#member = null;
      this.cluster.record(member, 'connect-failure');
      const code = (error as { code?: string } | undefined)?.code ?? 'ERR_UPSTREAM_CONNECT';
      const errno = (error as { errno?: unknown } | undefined)?.errno;
      this.errno = typeof errno === 'string' ? errno : null;
      this.errorDetail = error?.message ?? null;
      return this.#retryOrFail('connect-failure', member, code === 'ERR_UPSTREAM_CONNECT_TIMEOUT' ? 504 : 502, code);
    }
    this.#upstream = conn;
    this.#reused = reused;
    conn.sink = this;
    member.pool.metrics.requestSent(reused);
    const socket = conn.socket;
    const pieces = this.#queue;
    this.#queue = null;
    this.#sentMs = this.ctx.clock.now();
    let ok: boolean;
    if (pieces === null) ok = socket.write(this.upstreamHead, 'latin1');
    else {
      // Head and early body bytes leave in one writev.
      socket.cork();
      ok = socket.write(this.upstreamHead, 'latin1');
      for (const piece of pieces) ok = socket.write(piece);
      socket.uncork();
    }
    this.#written = true;
    if (!ok && !this.requestDone) this.client.pauseRequest();
  }

  onUpstreamDrain(): void {
    if (!this.requestDone || this.phase === 'upgraded') this.client.resumeRequest();
  }

  /** The client took what was written: let the backend send more. */
  clientDrained(): void {
    this.#upstream?.socket.resume();
  }

  /** The client pushes back: stop reading the backend until it drains. */
  clientBackpressure(): void {
    this.#upstream?.socket.pause();
  }

  // ---- response -----------------------------------------------------------------------------

  onUpstreamData(chunk: Buffer, shared: boolean): void {
    if (this.#ttfbMs === null) {
      this.#ttfbMs = this.ctx.clock.now() - this.#sentMs;
      if (this.#member !== null) this.cluster.latency.record(this.#member.view, this.#ttfbMs);
    }
    if (this.#res !== null) return this.#responseBody(chunk, 0, shared);
    this.#resBuf = this.#resBuf.length === 0 ? chunk : Buffer.concat([this.#resBuf, chunk]);
    this.#responseHead(shared);
    // An incomplete head (or the start of the next) outlives the call: keep a copy.
    if (shared && this.#resBuf.length > 0 && this.#resBuf.buffer === chunk.buffer) this.#resBuf = Buffer.from(this.#resBuf);
  }

  #responseHead(shared: boolean): void {
    for (;;) {
      let res: ResponseHead | null;
      try {
        res = parseResponseHead(this.#resBuf, 0, this.#resBuf.length, this.ctx.limits, this.head.method);
      } catch (error) {
        this.errorDetail = `upstream sent a bad response head: ${error instanceof HttpParseError ? error.code : 'ERR_UPSTREAM_RESPONSE'}`;
        if (this.#member !== null) this.cluster.record(this.#member, '5xx');
        return this.#fail(502, 'ERR_BAD_UPSTREAM_RESPONSE', 'protocol_error');
      }
      if (res === null) return;
      const rest = this.#resBuf.subarray(res.headBytes);
      this.#resBuf = EMPTY;
      if (res.statusCode >= 100 && res.statusCode < 200 && !res.tunnel) {
        // 100 Continue and other interim responses: forward and read the next head.
        this.client.interim(res);
        this.#resBuf = rest;
        if (rest.length === 0) return;
        continue;
      }
      const retryStatus = res.statusCode === 502 || res.statusCode === 503 || res.statusCode === 504;
      if (retryStatus && this.#member !== null && this.#mayRetry('status', String(res.statusCode) as RetryCondition)) {
        this.errorDetail = `upstream answered ${res.statusCode}`;
        this.cluster.record(this.#member, '5xx');
        return this.#retry(this.#member, 'aborted');
      }
      this.#res = res;
      this.status = res.statusCode;
      if (res.tunnel) {
        const upstream = this.#upstream;
        const member = this.#member;
        if (upstream === null || member === null) return;
        // The connection and its endpoint's active count now belong to the tunnel.
        this.#to('upgraded');
        this.#upstream = null;
        this.#member = null;
        upstream.sink = undefined;
        this.client.upgrade(this, res, upstream, member, rest, shared);
        return this.#end();
      }
      this.#to('responding');
      if (res.bodyUntilClose) this.closeConnection = true;
      this.#resRemaining = res.contentLength > 0 ? res.contentLength : 0;
      if (res.chunked) this.#resScanner = new ChunkedScanner();
      if (res.noBody || (!res.chunked && !res.bodyUntilClose && res.contentLength <= 0)) {
        this.client.respond(this, res, EMPTY, false, true);
        return this.#finish();
      }
      if (rest.length === 0) {
        this.client.respond(this, res, EMPTY, false, false); // the body comes in a later read
        return;
      }
      return this.#responseBody(rest, 0, shared, res);
    }
  }

  /** Response body bytes from `chunk[offset..]`; with `start`, the head goes out with them. */
  #responseBody(chunk: Buffer, offset: number, shared: boolean, start?: ResponseHead): void {
    const res = this.#res;
    if (res === null) return;
    let end = chunk.length;
    let done = false;
    if (this.#resScanner !== null) {
      try {
        const at = this.#resScanner.push(chunk, offset, chunk.length);
        if (at !== -1) {
          end = at;
          done = true;
        }
      } catch (error) {
        // A broken chunked body from upstream: the client's response is cut off.
        this.errorCode = 'ERR_BAD_UPSTREAM_RESPONSE';
        this.errorDetail = `upstream sent a bad chunked body: ${error instanceof HttpParseError ? error.code : 'ERR_UPSTREAM_RESPONSE'}`;
        if (start !== undefined) this.client.respond(this, start, EMPTY, false, false);
        return this.#abort('protocol_error');
      }
    } else if (!res.bodyUntilClose) {
      const n = Math.min(this.#resRemaining, chunk.length - offset);
      end = offset + n;
      this.#resRemaining -= n;
      done = this.#resRemaining === 0;
    }
    if (end < chunk.length) this.#upstreamReusable = false; // bytes after the response: do not reuse
    const piece = offset === 0 && end === chunk.length ? chunk : chunk.subarray(offset, end);
    this.bytesOut += piece.length;
    const ok = start !== undefined ? this.client.respond(this, start, piece, shared, done) : this.client.body(piece, shared);
    if (!ok) this.clientBackpressure();
    if (done) this.#finish();
  }

  onUpstreamClose(error: Error | undefined): void {
    const upstream = this.#upstream;
    this.#upstream = null;
    if (this.phase === 'done' || upstream === null) return;
    const member = this.#member;
    if (this.#res !== null && this.#res.bodyUntilClose && error === undefined) {
      this.#upstreamReusable = false;
      return this.#finish();
    }
    const errno = (error as { code?: unknown } | undefined)?.code;
    this.errno = typeof errno === 'string' ? errno : null;
    if (this.#ttfbMs === null && member !== null) {
      // Nothing of the response yet: another endpoint may answer.
      this.cluster.record(member, 'reset');
      this.errorDetail = `${this.#reused ? 'reused' : 'new'} upstream connection closed before the response${this.#written && this.#replay === null ? ' (request written, not replayable)' : ''}: ${error?.message ?? 'closed'}`;
      return this.#retryOrFail('reset', member, 502, 'ERR_UPSTREAM_CLOSED');
    }
    // The response was cut off: the client cannot be told but by closing.
    this.errorCode = 'ERR_UPSTREAM_CLOSED';
    this.errorDetail = `upstream closed mid-response: ${error?.message ?? 'closed'}`;
    this.#abort('aborted');
  }

  // ---- timers (the client side owns the one deadline and says which ran out) ---------------

  /** No response head within the response timeout. */
  responseTimedOut(): void {
    const member = this.#member;
    this.errno = 'ETIMEDOUT';
    this.errorDetail = 'no response head within the response timeout';
    if (member !== null && this.#upstream !== null) return this.#retryOrFail('response-timeout', member, 504, 'ERR_UPSTREAM_RESPONSE_TIMEOUT', 'response_timeout');
    this.#fail(504, 'ERR_UPSTREAM_RESPONSE_TIMEOUT', 'response_timeout');
  }

  /** The request body stopped arriving. */
  requestTimedOut(): void {
    this.closeConnection = true;
    this.#fail(408, 'ERR_REQUEST_TIMEOUT', 'aborted');
  }

  /** The response stream stood still too long: cut it off. */
  streamTimedOut(): void {
    this.errorCode = 'ERR_STREAM_IDLE_TIMEOUT';
    this.#abort('stream_idle_timeout');
  }

  /** The client went away (or its connection failed): end without answering. */
  cancel(code: string): void {
    if (this.phase === 'done') return;
    this.errorCode ??= code;
    this.#release('aborted');
    this.#end();
  }

  /** Answer locally (a bad request body from the client, say); the upstream side is dropped. */
  reject(status: number, code: string): void {
    this.closeConnection = true;
    this.#fail(status, code, 'aborted');
  }

  // ---- ending -------------------------------------------------------------------------------

  #mayRetry(failure: RetryFailure, condition: RetryCondition): boolean {
    const retries = this.cluster.config.retries;
    if (!retries.retryOn.includes(condition)) return false;
    if (retries.timeBudgetMs > 0 && this.ctx.clock.now() - this.startedMs >= retries.timeBudgetMs) return false;
    return canRetry({
      method: this.head.method,
      failure,
      written: this.#written,
      replayable: this.#replay !== null,
      responseStarted: this.phase === 'responding' || this.phase === 'upgraded',
      attempts: this.attempts,
      maxAttempts: retries.maxAttempts,
    });
  }

  #retryOrFail(failure: RetryFailure, member: Member, status: number, code: string, dropAs: CloseReason = 'aborted'): void {
    const condition: RetryCondition = failure === 'connect-failure' ? 'connect-failure' : failure === 'reset' ? 'reset' : 'response-timeout';
    if (this.#mayRetry(failure, condition)) return this.#retry(member, dropAs);
    this.#fail(status, code, dropAs);
  }

  /** Send the request again, elsewhere when possible. */
  #retry(failed: Member, dropAs: CloseReason): void {
    this.#release(dropAs);
    this.cluster.metrics.retry();
    this.#retried = true;
    this.#written = false;
    this.#ttfbMs = null;
    this.#resBuf = EMPTY;
    this.#queue = this.#replay === null ? null : this.#replay.slice();
    failed.pool.purgeIdle();
    this.#acquire(failed);
    if (this.phase === 'awaiting' && this.#member !== null) this.client.awaiting(this, this.#responseTimeoutMs());
  }

  #responseTimeoutMs(): number {
    const timeoutMs = this.cluster.config.timeouts.responseHeadersTimeoutMs;
    const budgetMs = this.cluster.config.retries.timeBudgetMs;
    if (budgetMs <= 0 || this.attempts <= 1) return timeoutMs;
    const leftMs = Math.max(1, this.startedMs + budgetMs - this.ctx.clock.now());
    return timeoutMs <= 0 ? leftMs : Math.min(timeoutMs, leftMs);
  }

  /** The response is complete. */
  #finish(): void {
    const res = this.#res;
    const member = this.#member;
    if (res === null || member === null) return;
    const upstream = this.#upstream;
    this.#upstream = null;
    member.view.activeRequests -= 1;
    this.#member = null;
    if (upstream !== null) {
      const outcome = !this.#upstreamReusable || !this.requestDone ? 'aborted' : res.connectionClose ? 'peer_close' : 'reuse';
      member.pool.release(upstream, outcome, res.keepAliveHint, res.keepAliveHint !== undefined);
    }
    this.cluster.record(member, res.statusCode >= 500 ? '5xx' : 'success');
    if (this.#retried) this.cluster.metrics.retrySucceeded();
    // The response ended before the request body: the rest of the body cannot be skipped safely.
    if (!this.requestDone) this.closeConnection = true;
    this.#end();
  }

  /** Answer locally with `status`; the upstream connection (if any) closes as `dropAs`. */
  #fail(status: number, code: string, dropAs: CloseReason | null): void {
    if (this.phase === 'done') return;
    if (dropAs !== null) this.#release(dropAs);
    this.status = status;
    this.errorCode = code;
    if (!this.requestDone) this.closeConnection = true;
    this.client.local(this, status, code);
    this.#end();
  }

  /** The response was cut off: close the client's side too. */
  #abort(reason: CloseReason): void {
    this.#release(reason);
    this.closeConnection = true;
    this.client.abort(this);
    this.#end();
  }

  /** Give up the upstream connection (closing it as `reason`) or the wait for one. */
  #release(reason: CloseReason): void {
    this.#want?.cancel();
    this.#want = null;
    const member = this.#member;
    if (member === null) return;
    this.#member = null;
    member.view.activeRequests -= 1;
    const upstream = this.#upstream;
    this.#upstream = null;
    if (upstream !== null) member.pool.release(upstream, reason, undefined, false);
  }

  #end(): void {
    if (this.phase === 'done') return;
    this.#to('done');
    this.#log();
    this.client.ended(this);
  }

  #to(next: ExchangePhase): void {
    if (!MOVES[this.phase].includes(next)) throw new Error(`exchange: illegal move from '${this.phase}' to '${next}'`);
    this.phase = next;
  }

  #log(): void {
    const ctx = this.ctx;
    const durationMs = ctx.clock.now() - this.startedMs;
    ctx.metrics.request(this.status, durationMs);
    if (!ctx.accessLog.enabled) return;
    ctx.accessLog.write({
      time: new Date().toISOString(),
      listener: ctx.listenerName,
      client: this.client.clientAddress,
      protocol: this.client.protocol,
      method: this.head.method,
      target: this.head.target,
      status: this.status,
      durationMs: Math.round(durationMs * 1000) / 1000,
      bytesOut: this.bytesOut,
      cluster: this.cluster.name,
      upstream: this.#endpointKey,
      upstreamReused: this.#reused,
      upstreamTtfbMs: this.#ttfbMs === null ? null : Math.round(this.#ttfbMs * 1000) / 1000,
      attempts: this.attempts,
      ...(this.errorCode === null ? {} : { error: this.errorCode }),
      ...(this.errorDetail === null ? {} : { errorDetail: this.errorDetail }),
      ...(this.errno === null ? {} : { errno: this.errno }),
      pid: process.pid,
    });
  }
}
