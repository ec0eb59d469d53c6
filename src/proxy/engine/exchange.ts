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
import type { HeadLimits, RequestHead, ResponseHead } from '../../http/wire/index.js';
import { IDEMPOTENT_METHODS } from '../../http/retry-rule.js';
import { IllegalTransitionError } from '../../core/state-table.js';
import type { RetryFailure } from '../../http/retry-rule.js';
import type { Clock } from '../../core/clock.js';
import type { CloseReason } from '../../core/close-reason.js';
import type { RetryCondition } from '../config/index.js';
import type { ListenerMetrics } from '../metrics/index.js';
import type { AccessLog } from './access-log.js';
import type { Cluster } from './cluster.js';
import type { ClientSide } from './client-side.js';
import type { UpstreamConnection } from './upstream-connection.js';
import { owned } from './borrowed-bytes.js';
import { attemptTimeoutMs, mayRetry } from './retry-decision.js';
import { logExchange } from './exchange-log.js';
import type { OutgoingHttpHeaders } from 'node:http2';
import { Attempt } from './attempt.js';
import { Http2Attempt } from './http2-attempt.js';
import type { UpstreamAttempt } from './upstream-attempt.js';

/** What every exchange of a listener shares. */
export interface ExchangeContext {
  readonly listenerName: string;
  readonly clock: Clock;
  readonly metrics: ListenerMetrics;
  readonly accessLog: AccessLog;
  readonly limits: HeadLimits;
}

export type ExchangePhase = 'request' | 'awaiting' | 'responding' | 'upgraded' | 'done';
/** The moves an exchange may make (`#to` rejects any other). */
export const EXCHANGE_MOVES: Readonly<Record<ExchangePhase, readonly ExchangePhase[]>> = {
  request: ['awaiting', 'responding', 'upgraded', 'done'],
  awaiting: ['responding', 'upgraded', 'done'],
  responding: ['done'],
  upgraded: ['done'],
  done: [],
};

/** A request body up to this size is kept, so the request can be sent again whole. */
const REPLAY_LIMIT = 64 * 1024;
const EMPTY = Buffer.alloc(0);

export class Exchange {
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

  /** The request body arrives unframed (an HTTP/2 client's DATA going to an HTTP/2 backend). */
  rawRequestBody = false;
  /** Request trailers from an HTTP/2 client, for an HTTP/2 backend (set before the body ends). */
  requestTrailers: OutgoingHttpHeaders | null = null;

  /** The try in progress; the latest one (for the log) stays after it ends. */
  #attempt: UpstreamAttempt | null = null;
  #last: UpstreamAttempt | null = null;
  #retried = false;
  /** The whole request body so far, while it can be sent again (null: it cannot). */
  #replay: Buffer[] | null;
  #replayBytes: number;
  /** The request's hash key for ring-hash and maglev (undefined for the other balancers). */
  readonly #hashKey: string | undefined;

  constructor(
    readonly ctx: ExchangeContext,
    readonly client: ClientSide,
    readonly head: RequestHead,
    readonly cluster: Cluster,
    /** The head to send upstream (latin1), for an HTTP/1.1 backend. */
    readonly upstreamHead: string,
    readonly startedMs: number,
    /** The fields to send upstream, for an HTTP/2 backend (`protocol: http2`); else null. */
    readonly upstreamFields: OutgoingHttpHeaders | null = null,
  ) {
    this.requestDone = !head.chunked && head.contentLength <= 0;
    // Over HTTP/2 any method is kept for a replay: a stream the backend did not process
    // (GOAWAY, REFUSED_STREAM) is sent again whatever its method.
    this.#replay = IDEMPOTENT_METHODS.has(head.method) || this.requestDone || upstreamFields !== null ? [] : null;
    this.#replayBytes = upstreamHead.length;
    this.#hashKey = cluster.keyOf(head, client.clientAddress);
    if (this.requestDone) this.#to('awaiting');
  }

  /** Pick an endpoint and ask its pool for a connection. */
  begin(): void {
    this.#try(null);
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
    this.#attempt?.send(piece);
  }

  /** The request body is complete. */
  requestComplete(): void {
    this.requestDone = true;
    this.#attempt?.endRequest();
    if (this.phase === 'request') {
      this.#to('awaiting');
      this.client.awaiting(this, this.#responseTimeoutMs());
    }
  }

  /** The client took what was written: let the backend send more. */
  clientDrained(): void {
    this.#attempt?.resume();
  }

  /** The client pushes back: stop reading the backend until it drains. */
  clientBackpressure(): void {
    this.#attempt?.pause();
  }

  // ---- attempts -----------------------------------------------------------------------------

  /** A new attempt, avoiding the endpoint of `failed` when another is available. */
  #try(failed: UpstreamAttempt | null): void {
    const now = this.ctx.clock.now();
    const member = this.cluster.pick(failed?.member, this.attempts === 0 ? this.startedMs : now, this.#hashKey);
    if (member === undefined) {
      this.cluster.metrics.noHealthyUpstream();
      return this.#fail(503, 'ERR_NO_HEALTHY_UPSTREAM', 'aborted');
    }
    this.attempts += 1;
    // A retry sends the whole body so far: the replay buffer, or (nothing was written) what waited.
    const queue = failed === null ? null : (this.#replay?.slice() ?? failed.unsent());
    const attempt: UpstreamAttempt = this.upstreamFields !== null && member.h2 !== undefined ? new Http2Attempt(this, member, member.h2, queue) : new Attempt(this, member, queue);
    this.#attempt = attempt;
    this.#last = attempt;
    // Never a pooled connection to the endpoint that just failed: its siblings may be dying too.
    attempt.start(member === failed?.member);
  }

  /** Attempt: its connection could not be made. */
  connectFailed(attempt: UpstreamAttempt, error: Error | undefined): void {
    if (attempt !== this.#attempt || this.phase === 'done') return;
    const code = (error as { code?: string } | undefined)?.code ?? 'ERR_UPSTREAM_CONNECT';
    if (code === 'ERR_POOL_CLOSED' && attempt.member.draining) {
      // Its endpoint was removed while it waited for a connection: never sent, so not a try.
      this.attempts -= 1;
      return this.#try(attempt);
    }
    this.cluster.record(attempt.member, 'connect-failure');
    const errno = (error as { errno?: unknown } | undefined)?.errno;
    this.errno = typeof errno === 'string' ? errno : null;
    this.errorDetail = error?.message ?? null;
    this.#retryOrFail('connect-failure', code === 'ERR_UPSTREAM_CONNECT_TIMEOUT' ? 504 : 502, code);
  }

  /** Attempt: the backend took what was written. */
  upstreamDrained(): void {
    if (!this.requestDone) this.client.resumeRequest();
  }

  // ---- the response, from either attempt (heads and body pieces; the attempt reads its protocol) --

  /** An interim (1xx) head. */
  responseInterim(attempt: UpstreamAttempt, res: ResponseHead): void {
    if (attempt === this.#attempt && this.phase !== 'done') this.client.interim(res);
  }

  /**
   * The final head. False when the exchange does not take it: a retryable status was retried
   * (the attempt is released), or the attempt is no longer current.
   */
  responseHead(attempt: UpstreamAttempt, res: ResponseHead): boolean {
    if (attempt !== this.#attempt || this.phase === 'done') return false;
    const code = res.statusCode;
    if ((code === 502 || code === 503 || code === 504) && this.#mayRetry('status', String(code) as RetryCondition)) {
      this.errorDetail = `upstream answered ${code}`;
      this.cluster.record(attempt.member, '5xx');
      this.#retry(attempt, 'aborted', String(code));
      return false;
    }
    this.status = code;
    return true;
  }

  /** The response begins, with `first` body bytes (maybe none); `complete`: no more body. */
  responseStart(attempt: UpstreamAttempt, res: ResponseHead, first: Buffer, shared: boolean, complete: boolean): void {
    this.#to('responding');
    if (res.bodyUntilClose) this.closeConnection = true;
    this.bytesOut += first.length;
    if (!this.client.respond(this, res, first, shared, complete)) attempt.pause();
    if (complete) this.#finish(attempt);
  }

  /** More body bytes, framed for the client as the head said. */
  responseData(attempt: UpstreamAttempt, piece: Buffer, shared: boolean): void {
    if (attempt !== this.#attempt || this.phase !== 'responding') return;
    this.bytesOut += piece.length;
    if (!this.client.body(piece, shared)) attempt.pause();
  }

  /** The response is complete; `trailers` for an HTTP/2 client (null: none, or framed in the body). */
  responseEnd(attempt: UpstreamAttempt, trailers: OutgoingHttpHeaders | null): void {
    if (attempt !== this.#attempt || this.phase !== 'responding') return;
    if (trailers !== null) this.client.trailers(trailers);
    this.#finish(attempt);
  }

  /** The backend accepted an upgrade: the connection becomes the client side's tunnel. */
  responseUpgrade(attempt: UpstreamAttempt, res: ResponseHead, upstream: UpstreamConnection, rest: Buffer, shared: boolean): void {
    this.#attempt = null;
    this.#to('upgraded');
    this.client.upgrade(this, res, upstream, attempt.member, rest, shared);
    this.#end();
  }

  /** The backend's response head could not be read. */
  badResponse(attempt: UpstreamAttempt, detail: string): void {
    if (attempt !== this.#attempt || this.phase === 'done') return;
    this.errorDetail = detail;
    this.cluster.record(attempt.member, '5xx');
    this.#fail(502, 'ERR_BAD_UPSTREAM_RESPONSE', 'protocol_error');
  }

  /** The backend's body framing broke: the client's response is cut off (`start`: its head goes first). */
  badBody(attempt: UpstreamAttempt, detail: string, start: ResponseHead | null): void {
    if (attempt !== this.#attempt || this.phase === 'done') return;
    this.errorCode = 'ERR_BAD_UPSTREAM_RESPONSE';
    this.errorDetail = detail;
    if (start !== null) this.responseStart(attempt, start, EMPTY, false, false);
    this.#abort('protocol_error');
  }

  /** The connection closed (FIN, or `error`) before the response was complete. */
  upstreamClosed(attempt: UpstreamAttempt, error: Error | undefined): void {
    if (attempt !== this.#attempt || this.phase === 'done') return;
    const errno = (error as { code?: unknown } | undefined)?.code;
    this.errno = typeof errno === 'string' ? errno : null;
    if (attempt.ttfbMs === null) {
      // Nothing of the response yet: another endpoint may answer.
      this.cluster.record(attempt.member, 'reset');
      this.errorDetail = `${attempt.reused ? 'reused' : 'new'} upstream connection closed before the response${this.#replay === null ? ' (request written, not replayable)' : ''}: ${error?.message ?? 'closed'}`;
      return this.#retryOrFail(error === undefined ? 'closed-before-response' : 'reset', 502, 'ERR_UPSTREAM_CLOSED');
    }
    // The response was cut off: the client cannot be told but by closing.
    this.errorCode = 'ERR_UPSTREAM_CLOSED';
    this.errorDetail = `upstream closed mid-response: ${error?.message ?? 'closed'}`;
    this.#abort('aborted');
  }

  /** An HTTP/2 stream failed: `refused` when the backend said it did not process it. */
  streamFailed(attempt: UpstreamAttempt, failure: 'refused' | 'reset', detail: string): void {
    if (attempt !== this.#attempt || this.phase === 'done') return;
    if (this.phase !== 'responding') {
      if (failure === 'reset') this.cluster.record(attempt.member, 'reset');
      this.errorDetail = `upstream HTTP/2 stream ${failure === 'refused' ? 'not processed' : 'failed'} before the response: ${detail}`;
      return this.#retryOrFail(failure, 502, 'ERR_UPSTREAM_CLOSED');
    }
    this.errorCode = 'ERR_UPSTREAM_CLOSED';
    this.errorDetail = `upstream HTTP/2 stream failed mid-response: ${detail}`;
    this.#abort('aborted');
  }

  // ---- timers (the client side owns the one deadline and says which ran out) ---------------

  /** No response head within the response timeout. */
  responseTimedOut(): void {
    this.errno = 'ETIMEDOUT';
    this.errorDetail = 'no response head within the response timeout';
    const attempt = this.#attempt;
    if (attempt !== null && attempt.connected) return this.#retryOrFail('response-timeout', 504, 'ERR_UPSTREAM_RESPONSE_TIMEOUT', 'response_timeout');
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
    this.#attempt?.release('aborted');
    this.#end();
  }

  /** Answer locally (a bad request body from the client, say); the upstream side is dropped. */
  reject(status: number, code: string): void {
    this.closeConnection = true;
    this.#fail(status, code, 'aborted');
  }

  // ---- ending -------------------------------------------------------------------------------

  #mayRetry(failure: RetryFailure, condition: RetryCondition): boolean {
    return mayRetry(this.cluster.config.retries, {
      condition,
      elapsedMs: this.ctx.clock.now() - this.startedMs,
      method: this.head.method,
      failure,
      written: this.#attempt?.written ?? false,
      reusedConnection: this.#attempt?.reused ?? false,
      replayable: this.#replay !== null,
      responseStarted: this.phase === 'responding' || this.phase === 'upgraded',
      attempts: this.attempts,
    });
  }

  #retryOrFail(failure: RetryFailure, status: number, code: string, dropAs: CloseReason = 'aborted'): void {
    if (failure === 'refused') this.#attempt?.member.pool.metrics.streamRefused();
    // retryOn's `reset` covers a close before the response as well as an RST.
    const condition: RetryCondition = failure === 'connect-failure' ? 'connect-failure' : failure === 'response-timeout' ? 'response-timeout' : 'reset';
    const attempt = this.#attempt;
    if (attempt !== null && this.#mayRetry(failure, condition)) return this.#retry(attempt, dropAs, condition);
    this.#fail(status, code, dropAs);
  }

  /** Send the request again, elsewhere when possible. */
  #retry(failed: UpstreamAttempt, dropAs: CloseReason, cause: string): void {
    failed.release(dropAs);
    this.cluster.metrics.retry(cause);
    this.#retried = true;
    failed.member.pool.purgeIdle();
    this.#try(failed);
    if (this.phase === 'awaiting' && this.#attempt !== null) this.client.awaiting(this, this.#responseTimeoutMs());
  }

  #responseTimeoutMs(): number {
    return attemptTimeoutMs(this.cluster.config, this.attempts, this.ctx.clock.now() - this.startedMs);
  }

  /** The response is complete. */
  #finish(attempt: UpstreamAttempt): void {
    this.#attempt = null;
    attempt.complete(this.requestDone);
    this.cluster.record(attempt.member, this.status >= 500 ? '5xx' : 'success');
    if (this.#retried) this.cluster.metrics.retrySucceeded();
    // The response ended before the request body: the rest of the body cannot be skipped safely.
    if (!this.requestDone) this.closeConnection = true;
    this.#end();
  }

  /** Answer locally with `status`; the upstream connection (if any) closes as `dropAs`. */
  #fail(status: number, code: string, dropAs: CloseReason): void {
    if (this.phase === 'done') return;
    this.#attempt?.release(dropAs);
    this.#attempt = null;
    this.status = status;
    this.errorCode = code;
    if (!this.requestDone) this.closeConnection = true;
    this.client.local(this, status, code);
    this.#end();
  }

  /** The response was cut off: close the client's side too. */
  #abort(reason: CloseReason): void {
    this.#attempt?.release(reason);
    this.#attempt = null;
    this.closeConnection = true;
    this.client.abort(this);
    this.#end();
  }

  #end(): void {
    if (this.phase === 'done') return;
    this.#to('done');
    const last = this.#last;
    logExchange(this.ctx, this.client, this.head, this.cluster.name, {
      startedMs: this.startedMs,
      status: this.status,
      bytesOut: this.bytesOut,
      upstream: last === null ? null : last.member.pool.key,
      upstreamReused: last?.reused ?? false,
      ttfbMs: last?.ttfbMs ?? null,
      attempts: this.attempts,
      error: this.errorCode,
      errorDetail: this.errorDetail,
      errno: this.errno,
    });
    this.client.ended(this);
  }

  #to(next: ExchangePhase): void {
    if (!EXCHANGE_MOVES[this.phase].includes(next)) throw new IllegalTransitionError('exchange', this.phase, next);
    this.phase = next;
  }
}
