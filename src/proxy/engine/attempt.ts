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
import { Http1ResponseReader } from './http1-response-reader.js';
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
    this.ex.responseBytes(this, chunk, shared);
  }

  onUpstreamClose(error: Error | undefined): void {
    if (this.upstream === null) return;
    this.upstream = null;
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
