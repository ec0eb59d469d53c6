/**
 * One try of an Exchange on one endpoint over HTTP/1.1 (the UpstreamAttempt seam): the wait for a pooled connection (cancellable), the
 * request written to it, the response read from it (Http1ResponseReader), and the connection's
 * return to its pool. A retry is a new Attempt; the Exchange keeps what spans them (the replay
 * buffer, the phase, the answer).
 *
 * The attempt counts itself in its endpoint's `activeRequests` from `start()` until it ends
 * (`release`, `finish`, or `handOver` to a tunnel, which then owns the count).
 */
import type { KeepAliveHint } from '../../http/wire/index.js';
import type { CloseReason } from '../../core/close-reason.js';
import type { Member } from './cluster.js';
import type { PoolWaiter, PoolWant } from './endpoint-pool.js';
import type { UpstreamConnection, UpstreamSink } from './upstream-connection.js';
import { HttpParseError } from '../../http/wire/index.js';
import type { ResponseHead } from '../../http/wire/index.js';
import { Http1ResponseReader } from './http1-response-reader.js';

const EMPTY = Buffer.alloc(0);
import type { Exchange } from './exchange.js';
import type { UpstreamAttempt } from './upstream-attempt.js';

export class Attempt implements UpstreamAttempt, PoolWaiter, UpstreamSink {
  upstream: UpstreamConnection | null = null;
  /** The connection had served an earlier request. */
  reused = false;
  /** Some request bytes were handed to the connection. */
  written = false;
  /** Time from sending the request to the first response byte; null before it. */
  ttfbMs: number | null = null;
  readonly reader: Http1ResponseReader;
  #want: PoolWant | null = null;
  #sentMs = 0;
  #ended = false;
  /** Body bytes to send once the connection is there. */
  #queue: Buffer[] | null;

  constructor(
    readonly ex: Exchange,
    readonly member: Member,
    /** The request body so far (a retry's replay), sent right after the head. */
    queue: Buffer[] | null,
  ) {
    this.#queue = queue;
    this.reader = new Http1ResponseReader(ex.ctx.limits, ex.head.method);
  }

  get connected(): boolean {
    return this.upstream !== null;
  }

  /** Ask the endpoint's pool; `fresh`: never a pooled connection (this endpoint just failed). */
  start(fresh: boolean): void {
    this.member.view.activeRequests += 1;
    this.#want = this.member.pool.acquire(this, fresh);
  }

  /** The pool's answer (PoolWaiter). */
  onAcquired(error: Error | undefined, conn: UpstreamConnection | undefined, reused: boolean): void {
    this.#want = null;
    if (this.#ended) {
      // Given up while the pool answered: the connection goes back untouched.
      if (conn !== undefined) this.member.pool.release(conn, 'reuse', undefined, false);
      return;
    }
    if (error !== undefined || conn === undefined) {
      this.#end();
      return this.ex.connectFailed(this, error);
    }
    this.upstream = conn;
    this.reused = reused;
    conn.sink = this;
    this.member.pool.metrics.requestSent(reused);
    const socket = conn.socket;
    const pieces = this.#queue;
    this.#queue = null;
    this.#sentMs = this.ex.ctx.clock.now();
    let ok: boolean;
    if (pieces === null) ok = socket.write(this.ex.upstreamHead, 'latin1');
    else {
      // Head and early body bytes leave in one writev.
      socket.cork();
      ok = socket.write(this.ex.upstreamHead, 'latin1');
      for (const piece of pieces) ok = socket.write(piece);
      socket.uncork();
    }
    this.written = true;
    if (!ok && !this.ex.requestDone) this.ex.client.pauseRequest();
  }

  /** Body bytes (owned): written, or queued until the connection is there. */
  send(piece: Buffer): void {
    const upstream = this.upstream;
    if (upstream === null) {
      const queue = (this.#queue ??= []);
      queue.push(piece);
      if (queue.length > 64) this.ex.client.pauseRequest();
      return;
    }
    if (!upstream.socket.write(piece)) this.ex.client.pauseRequest();
  }

  /** The body's own framing (Content-Length, the last chunk) tells the backend where it ends. */
  endRequest(): void {}

  /** Body bytes that never left (the connection never came): a retry sends them. */
  unsent(): Buffer[] | null {
    return this.written ? null : this.#queue;
  }

  pause(): void {
    this.upstream?.socket.pause();
  }

  resume(): void {
    this.upstream?.socket.resume();
  }

  // ---- UpstreamSink -------------------------------------------------------------------------

  onUpstreamData(chunk: Buffer, shared: boolean): void {
    if (this.ttfbMs === null) {
      this.ttfbMs = this.ex.ctx.clock.now() - this.#sentMs;
      this.ex.cluster.latency.record(this.member.view, this.ttfbMs);
    }
    const reader = this.reader;
    if (reader.head !== null) return this.#body(chunk, 0, shared, null);
    reader.append(chunk);
    this.#head(shared);
    // An incomplete head (or the start of the next) outlives the call.
    if (shared) reader.keep(chunk);
  }

  /** Heads in the bytes so far: interim ones passed on, then the final one. */
  #head(shared: boolean): void {
    const reader = this.reader;
    for (;;) {
      let next: ReturnType<Http1ResponseReader['nextHead']>;
      try {
        next = reader.nextHead();
      } catch (error) {
        return this.ex.badResponse(this, `upstream sent a bad response head: ${error instanceof HttpParseError ? error.code : 'ERR_UPSTREAM_RESPONSE'}`);
      }
      if (next === null) return;
      const { res, rest } = next;
      if (res.statusCode >= 100 && res.statusCode < 200 && !res.tunnel) {
        // 100 Continue and other interim responses: forward and read the next head.
        this.ex.responseInterim(this, res);
        reader.again(rest);
        if (rest.length === 0) return;
        continue;
      }
      if (!this.ex.responseHead(this, res)) return;
      if (res.tunnel) {
        const upstream = this.handOver();
        if (upstream !== null) this.ex.responseUpgrade(this, res, upstream, rest, shared);
        return;
      }
      if (!reader.begin(res)) return this.ex.responseStart(this, res, EMPTY, false, true);
      // With no body bytes yet, the head goes alone; the body comes in a later read.
      if (rest.length === 0) return this.ex.responseStart(this, res, EMPTY, false, false);
      return this.#body(rest, 0, shared, res);
    }
  }

  /** Body bytes from `chunk[offset..]`; with `start`, the head goes out with them. */
  #body(chunk: Buffer, offset: number, shared: boolean, start: ResponseHead | null): void {
    const reader = this.reader;
    let end: number;
    try {
      end = reader.bodyEnd(chunk, offset);
    } catch (error) {
      // A broken chunked body from upstream: the client's response is cut off.
      return this.ex.badBody(this, `upstream sent a bad chunked body: ${error instanceof HttpParseError ? error.code : 'ERR_UPSTREAM_RESPONSE'}`, start);
    }
    const piece = offset === 0 && end === chunk.length ? chunk : chunk.subarray(offset, end);
    if (start !== null) return this.ex.responseStart(this, start, piece, shared, reader.done);
    this.ex.responseData(this, piece, shared);
    if (reader.done) this.ex.responseEnd(this, null);
  }

  onUpstreamClose(error: Error | undefined): void {
    if (this.upstream === null) return;
    this.upstream = null;
    const head = this.reader.head;
    if (head !== null && head.bodyUntilClose && error === undefined) {
      // A body delimited by the close: this was its end.
      this.reader.reusable = false;
      return this.ex.responseEnd(this, null);
    }
    this.ex.upstreamClosed(this, error);
  }

  onUpstreamDrain(): void {
    this.ex.upstreamDrained();
  }

  // ---- ending -------------------------------------------------------------------------------

  /** Give up: the wait is cancelled, the connection (if any) closes as `reason`. */
  release(reason: CloseReason): void {
    this.#want?.cancel();
    this.#want = null;
    if (this.#ended) return;
    this.#end();
    const upstream = this.upstream;
    this.upstream = null;
    if (upstream !== null) this.member.pool.release(upstream, reason, undefined, false);
  }

  /** The response is complete: reused when its framing was clean and the request was all sent. */
  complete(requestDone: boolean): void {
    const res = this.reader.head;
    if (res === null) return;
    this.finish(!this.reader.reusable || !requestDone ? 'aborted' : res.connectionClose ? 'peer_close' : 'reuse', res.keepAliveHint);
  }

  /** The response is complete: the connection goes back to its pool, reused if it can be. */
  finish(outcome: 'reuse' | CloseReason, hint: KeepAliveHint | undefined): void {
    if (this.#ended) return;
    this.#end();
    const upstream = this.upstream;
    this.upstream = null;
    if (upstream === null) return;
    // The last piece may have met the client's backpressure: a pooled connection must read again
    // (to see its FIN while idle, and the next response), or the next request on it hangs.
    if (upstream.socket.isPaused()) upstream.socket.resume();
    this.member.pool.release(upstream, outcome, hint, hint !== undefined);
  }

  /** An accepted upgrade: the connection and the active count go to the tunnel. */
  handOver(): UpstreamConnection | null {
    const upstream = this.upstream;
    this.upstream = null;
    this.#ended = true;
    if (upstream !== null) upstream.sink = undefined;
    return upstream;
  }

  #end(): void {
    this.#ended = true;
    this.member.view.activeRequests -= 1;
  }
}
