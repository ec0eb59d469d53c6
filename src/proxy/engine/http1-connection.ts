/**
 * One HTTP/1.1 client connection on a raw socket (HAProxy's h1c): read request heads, route each
 * to an Exchange through an Http1Stream, keep the connection alive or close it by the listener's
 * client policy, and carry an upgraded (WebSocket) connection as a byte tunnel.
 *
 * Why raw sockets and not http.Server/http.request: the per-request objects of Node's HTTP stack
 * cost most of a Node proxy's CPU; this path parses heads with the strict wire layer
 * (src/http/wire), forwards body bytes as they are and allocates little per request.
 *
 * States: http1-states.ts (every move through the listener's StateTable, which rejects others).
 *
 * Invariants
 * - One exchange at a time; pipelined requests wait in `#buf` (the socket is paused meanwhile,
 *   so the buffer cannot grow without bound).
 * - Nothing ambiguous is forwarded: a head the wire layer rejects gets 400/431/505 and a close.
 * - One wheel deadline per connection; its meaning follows the state.
 * - The connection holds no per-request state: that is the Exchange's and the Http1Stream's.
 */
import type { Socket } from 'node:net';
import { HttpParseError, parseRequestHead } from '../../http/wire/index.js';
import type { RequestHead } from '../../http/wire/index.js';
import { wheelTimeoutMs } from '../../core/timer-wheel.js';
import { reasonFromError } from '../../core/close-reason.js';
import type { CloseReason } from '../../core/close-reason.js';
import { LINGER_MS } from '../../http/server/lingering-close.js';
import { Exchange } from './exchange.js';
import { Http1Stream } from './http1-stream.js';
import { Tunnel } from './tunnel.js';
import type { Member } from './cluster.js';
import type { Http1State } from './http1-states.js';
import type { UpstreamConnection } from './upstream-connection.js';
import type { ListenerContext } from './listener-context.js';
import { startExchange, logLocalAnswer } from './start-exchange.js';
import type { LocalAnswer } from './start-exchange.js';
import { owned } from './borrowed-bytes.js';
import { mayCloseAtOnce, writeText } from './client-output.js';
import { attachClientSocket, detachClientSocket, listenForDrain, onConnectionDeadline, peerAddress } from './http1-socket-events.js';
import { HTTP2_PREFACE } from './http2-front.js';
import { localResponse } from './local-response.js';

const EMPTY = Buffer.alloc(0);

export class Http1Connection {
  state: Http1State = 'head';
  /** Links of the listener's list for `state`. */
  prev: Http1Connection | undefined;
  next: Http1Connection | undefined;
  /** Clock ms, whole (wholeMs). */
  readonly openedAtMs: number;
  readonly clientAddress: string;
  /** Requests begun on this connection. */
  requests = 0;
  /** A drain has reached this connection (DrainRun's mark). */
  drainMarked = false;
  /** When it last became idle (clock ms, whole), for the operator's view. */
  idleSinceMs = 0;
  #buf: Buffer = EMPTY;
  #timerId = -1;
  /** Close once the exchange in flight is over (drain, a limit, the client's FIN). */
  #closeAfter = false;
  #reason: CloseReason | undefined;
  /** The request in flight (its Exchange hangs on it), or null. */
  #stream: Http1Stream | null = null;
  #tunnel: Tunnel | null = null;
  /** A 'drain' listener is attached (only once the client first pushed back). */
  #drainListening = false;

  constructor(
    readonly socket: Socket,
    readonly ctx: ListenerContext,
  ) {
    this.openedAtMs = wholeMs(ctx.clock.now());
    this.clientAddress = peerAddress(socket);
    attachClientSocket(socket, this, ctx.readBuffer);
    ctx.table.add(this, 'head');
    this.#timerId = ctx.wheel.add(wheelTimeoutMs(ctx.client.headersTimeoutMs > 0 ? ctx.client.headersTimeoutMs : ctx.client.idleTimeoutMs), onConnectionDeadline, this);
  }

  /** `Keep-Alive: timeout=` of this listener's responses, whole seconds (0: none). */
  get hintSeconds(): number {
    return this.ctx.hintSeconds;
  }

  /** Close now if idle; otherwise after the exchange in flight. */
  closeWhenIdle(reason: CloseReason): void {
    if (this.state === 'idle' || (this.state === 'head' && this.#buf.length === 0)) this.#close(reason, false);
    else {
      this.#closeAfter = true;
      this.#reason ??= reason;
    }
  }

  destroy(reason: CloseReason): void {
    this.#close(reason, true);
  }

  /**
   * The keep-alive decision for the response to `head` (the listener's client policy, shared with
   * lifeline/server): true when the connection must close after it. Records why.
   */
  mustClose(head: RequestHead): boolean {
    if (this.#closeAfter) return true;
    const reason = this.ctx.closeAfter(head, this.requests, this.openedAtMs);
    if (reason === undefined) return false;
    this.#closeAfter = true;
    this.#reason ??= reason;
    return true;
  }

  // ---- deadlines and backpressure (the writes themselves: client-output.ts) ----------------

  /** The response body streams: the deadline becomes the stream idle timeout. */
  streaming(ex: Exchange): void {
    this.setTimer(ex.cluster.config.timeouts.idleStreamTimeoutMs);
  }

  /** Push the current deadline back (bytes moved). */
  touch(): void {
    if (this.#timerId !== -1) this.ctx.wheel.touch(this.#timerId);
  }

  setTimer(ms: number): void {
    if (this.#timerId === -1) this.#timerId = this.ctx.wheel.add(wheelTimeoutMs(ms), onConnectionDeadline, this);
    else this.ctx.wheel.reset(this.#timerId, wheelTimeoutMs(ms));
  }

  /** The client is not taking what was written (a write returned false): stop reading upstream
   * until it drains. */
  pushback(): void {
    this.#stream?.exchange?.clientBackpressure();
    this.#tunnel?.clientBackpressure();
    if (!this.#drainListening) {
      this.#drainListening = true;
      listenForDrain(this.socket);
    }
  }

  // ---- socket events (http1-socket-events.ts dispatches them here) -------------------------

  /** @internal Bytes from the client; `shared`: a view of the listener's read buffer. */
  onBytes(chunk: Buffer, shared: boolean): void {
    this.#data(chunk, shared);
    // Pipelined bytes or a partial head wait in #buf past this call: a copy of them.
    if (shared && this.#buf.length > 0 && this.#buf.buffer === chunk.buffer) this.#buf = Buffer.from(this.#buf);
  }

  /** @internal The client half-closed. */
  onClientEnd(): void {
    this.#end();
  }

  /** @internal A socket error: it names the reason of the close that follows. */
  onSocketError(error: Error): void {
    this.#reason ??= reasonFromError(error);
  }

  /** @internal The socket is gone. */
  onSocketClose(): void {
    if (this.state !== 'closed') this.#close(this.#reason ?? 'peer_close', true);
  }

  /** @internal The client took what we wrote: let the upstream send more. */
  onClientDrain(): void {
    this.#stream?.exchange?.clientDrained();
    this.#tunnel?.clientDrained();
  }

  /** @internal The connection's deadline came. */
  onDeadline(): void {
    this.#timerId = -1;
    this.#timerFired();
  }

  // ---- reading -----------------------------------------------------------------------------

  #data(chunk: Buffer, shared: boolean): void {
    switch (this.state) {
      case 'idle':
        this.#to('head');
        this.setTimer(this.ctx.client.headersTimeoutMs);
        this.#buf = chunk;
        this.#parse(shared);
        return;
      case 'head':
        this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
        this.#parse(shared);
        return;
      case 'exchange': {
        const stream = this.#stream;
        const ex = stream?.exchange;
        if (stream !== null && ex !== undefined && !ex.requestDone) {
          this.touch();
          const end = stream.requestBody(ex, chunk, 0, shared);
          if (end !== -1) this.#keepPipelined(owned(chunk.subarray(end), shared));
          return;
        }
        this.#keepPipelined(owned(chunk, shared));
        return;
      }
      case 'tunnel':
        this.touch();
        this.#tunnel?.fromClient(chunk, shared);
        return;
      case 'lingering':
      case 'closed':
        return;
    }
  }

  /** Bytes of the next request while one is in flight: keep them, read no more meanwhile. */
  #keepPipelined(bytes: Buffer): void {
    this.#buf = this.#buf.length === 0 ? bytes : Buffer.concat([this.#buf, bytes]);
    this.socket.pause();
  }

  #parse(shared: boolean): void {
    // HTTP/2 with prior knowledge: its preface is where the first request line would be.
    if (this.requests === 0 && this.#buf[0] === 0x50 && this.ctx.http2PriorKnowledge) {
      const n = Math.min(this.#buf.length, HTTP2_PREFACE.length);
      if (this.#buf.compare(HTTP2_PREFACE, 0, n, 0, n) === 0) {
        if (n === HTTP2_PREFACE.length) this.#toHttp2();
        return;
      }
    }
    let head: RequestHead | null;
    try {
      head = parseRequestHead(this.#buf, 0, this.#buf.length, this.ctx.limits);
    } catch (error) {
      if (!(error instanceof HttpParseError)) throw error;
      this.ctx.metrics.rejected(error.code);
      this.#reject(error.status, error.code);
      return;
    }
    if (head === null) return;
    const rest = this.#buf.subarray(head.headBytes);
    this.#buf = EMPTY;
    this.requests += 1;
    this.#to('exchange');
    const stream = new Http1Stream(this, head);
    const started = startExchange(this.ctx, stream, head, this.ctx.clock.now());
    if (!(started instanceof Exchange)) {
      // Answered locally without a cluster (no route, a bad target, CONNECT).
      return this.#answerLocally(stream, started, rest);
    }
    const ex = started;
    this.#stream = stream;
    stream.exchange = ex;
    this.setTimer(ex.requestDone ? ex.cluster.config.timeouts.responseHeadersTimeoutMs : this.ctx.client.requestTimeoutMs);
    if (ex.requestDone && rest.length > 0) this.#keepPipelined(owned(rest, shared));
    ex.begin();
    if (ex.phase === 'done' || this.#stream !== stream) return;
    if (!ex.requestDone && rest.length > 0) {
      const end = stream.requestBody(ex, rest, 0, shared);
      if (end !== -1) this.#keepPipelined(owned(rest.subarray(end), shared));
    }
  }

  /** A request answered before any exchange began: close, or go on with what follows. */
  #answerLocally(stream: Http1Stream, answer: LocalAnswer, rest: Buffer): void {
    const head = stream.head;
    // A body we did not read cannot be skipped safely.
    const close = answer.close || head.chunked || head.contentLength > 0 || this.mustClose(head);
    const text = localResponse(answer.status, answer.code, close);
    writeText(this, text);
    logLocalAnswer(this.ctx, stream, head, answer, text.length);
    if (close) return this.#close(this.#reason ?? (answer.close ? 'protocol_error' : 'aborted'), false);
    this.#buf = rest.length > 0 ? Buffer.from(rest) : EMPTY;
    this.#idle();
  }

  /** The client spoke the HTTP/2 preface: the socket leaves this connection for the HTTP/2 side. */
  #toHttp2(): void {
    const read = Buffer.from(this.#buf);
    this.#buf = EMPTY;
    this.#cancelTimer();
    detachClientSocket(this.socket);
    this.#to('closed');
    this.ctx.handOffHttp2(this.socket, read);
  }

  // ---- the exchange's end --------------------------------------------------------------------

  /** Http1Stream.ended: the exchange is over. */
  exchangeEnded(ex: Exchange): void {
    const stream = this.#stream;
    if (stream?.exchange !== ex) return;
    this.#stream = null;
    if (this.state !== 'exchange') return; // a tunnel now, or closed already
    // Without a recorded reason it closes for the exchange's sake: a close-delimited response
    // (the backend's doing), or a request body that cannot be skipped after a failure.
    if (ex.closeConnection || this.#closeAfter) return this.#close(this.#reason ?? (ex.errorCode === null ? 'peer_close' : 'aborted'), mayCloseAtOnce(this.socket, stream.head, ex, this.ctx.protocol, this.#buf.length));
    this.#idle();
  }

  /** Http1Stream.abort: the response was cut off. */
  abortExchange(ex: Exchange): void {
    if (this.#stream?.exchange !== ex) return;
    this.#stream = null;
    this.#close(ex.errorCode === 'ERR_STREAM_IDLE_TIMEOUT' ? 'stream_idle_timeout' : 'aborted', true);
  }

  #idle(): void {
    this.#to('idle');
    this.idleSinceMs = wholeMs(this.ctx.clock.now());
    this.setTimer(this.ctx.client.idleTimeoutMs);
    if (this.ctx.draining) return this.closeWhenIdle('drain');
    // Paused for pipelined bytes or backpressure only: no pause/resume churn per request.
    if (this.socket.isPaused()) this.socket.resume();
    if (this.#buf.length > 0) {
      const pipelined = this.#buf;
      this.#buf = EMPTY;
      this.#data(pipelined, false);
    }
  }

  // ---- tunnel ------------------------------------------------------------------------------

  /** Http1Stream.upgrade: from here on bytes pass both ways. */
  startTunnel(upstream: UpstreamConnection, member: Member, upgrade: string | undefined, rest: Buffer): void {
    this.#to('tunnel');
    this.setTimer(this.ctx.tunnelIdleTimeoutMs);
    const early = this.#buf;
    this.#buf = EMPTY;
    this.#tunnel = new Tunnel(this, upstream, member, upgrade, rest, early);
    if (this.state === 'tunnel') this.socket.resume();
  }

  /** The tunnel ended (either side closed, or a ping went unanswered). */
  tunnelEnded(reason: CloseReason, destroy: boolean): void {
    this.#close(reason, destroy);
  }

  // ---- timers and closing ------------------------------------------------------------------

  #timerFired(): void {
    switch (this.state) {
      case 'idle':
        return this.#close('idle_timeout', false);
      case 'head':
        if (this.#buf.length === 0 && this.requests > 0) return this.#close('idle_timeout', false);
        this.ctx.metrics.rejected('ERR_HEADERS_TIMEOUT');
        return this.#reject(408, 'ERR_HEADERS_TIMEOUT', 'headers_timeout');
      case 'exchange': {
        const ex = this.#stream?.exchange;
        if (ex === undefined) return this.#close('protocol_error', true);
        // The exchange's next step sets the next deadline (setTimer adds one).
        if (ex.phase === 'request') {
          this.#reason ??= 'request_timeout';
          return ex.requestTimedOut();
        }
        if (ex.phase === 'awaiting') return ex.responseTimedOut();
        return ex.streamTimedOut();
      }
      case 'tunnel':
        return this.#close('stream_idle_timeout', true);
      case 'lingering':
        this.ctx.table.move(this, 'closed');
        this.socket.destroy(); // lingered LINGER_MS after our FIN
        return;
      case 'closed':
        return;
    }
  }

  #end(): void {
    // The client half-closed (the listener allows half-open, so this decides): a complete
    // request still gets its response, then the close; one that can no longer complete (a
    // partial head, a cut body) closes now; a tunnel passes the FIN on.
    switch (this.state) {
      case 'idle':
        return this.#close('peer_idle_close', false);
      case 'head':
        return this.#close(this.#buf.length === 0 && this.requests > 0 ? 'peer_idle_close' : 'peer_close', false);
      case 'exchange': {
        const ex = this.#stream?.exchange;
        if (ex !== undefined && !ex.requestDone) {
          ex.cancel('ERR_CLIENT_CLOSED_REQUEST');
          return this.#close('peer_close', true);
        }
        this.#closeAfter = true;
        this.#reason ??= 'peer_close';
        return;
      }
      case 'tunnel':
        this.#tunnel?.clientEnded();
        return;
      case 'lingering':
      case 'closed':
        return;
    }
  }

  /** A head the wire layer refused: answer and close (nothing after it can be trusted). */
  #reject(status: number, code: string, reason: CloseReason = 'protocol_error'): void {
    this.#reason ??= reason;
    this.socket.write(localResponse(status, code, true), 'latin1');
    this.ctx.metrics.request(status, 0);
    this.#close(reason, false);
  }

  #close(reason: CloseReason, destroy: boolean): void {
    if (this.state === 'closed' || this.state === 'lingering') {
      if (destroy && this.state === 'lingering') {
        this.#cancelTimer();
        this.ctx.table.move(this, 'closed');
        this.socket.destroy();
      }
      return;
    }
    const ex = this.#stream?.exchange;
    this.#stream = null;
    ex?.cancel('ERR_CLIENT_CLOSED');
    const tunnel = this.#tunnel;
    this.#tunnel = null;
    tunnel?.close(reason);
    this.ctx.metrics.connectionClosed(this.#reason ?? reason);
    if (destroy || this.socket.destroyed) {
      this.#cancelTimer();
      this.#to('closed');
      this.socket.destroy();
    } else {
      // Our FIN is out; a client that never closes its side must not hold the socket for ever
      // (nginx's lingering_timeout).
      this.#to('lingering');
      this.socket.end();
      this.setTimer(LINGER_MS);
    }
    this.ctx.closed(this, this.#reason ?? reason);
  }

  #cancelTimer(): void {
    if (this.#timerId !== -1) this.ctx.wheel.cancel(this.#timerId);
    this.#timerId = -1;
  }

  #to(next: Http1State): void {
    this.ctx.table.move(this, next);
  }
}

/**
 * Clock times kept on a connection, in whole ms: a fractional number is a separate heap object
 * (16 bytes) per field per connection, a small integer is stored in the field itself.
 */
function wholeMs(ms: number): number {
  return Math.floor(ms);
}
