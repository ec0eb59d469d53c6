/**
 * One try of an Exchange as a stream on a multiplexed HTTP/2 connection to its endpoint
 * (`protocol: http2` clusters): the UpstreamAttempt seam's HTTP/2 side, as Attempt is HTTP/1's.
 *
 * - The request: the exchange's HTTP/2 fields (http2-upstream-fields.ts), then the body as DATA.
 *   A body that reached the proxy chunked (an HTTP/1.1 client) is de-chunked on the way; an
 *   HTTP/2 client's DATA passes as it is. END_STREAM when the request is complete.
 * - The response: the backend's fields become a ResponseHead framed for the client's protocol;
 *   DATA pieces go on as they come (chunk-framed for an HTTP/1.1 client without Content-Length);
 *   trailers go to an HTTP/2 client as trailers, to an HTTP/1.1 client in the last chunk.
 * - Failures: a stream the backend did not process (REFUSED_STREAM, or above a GOAWAY's
 *   last-stream-id, which nghttp2 reports as REFUSED_STREAM) is `refused`: sent again whatever
 *   its method. Any other close before the response is a `reset`.
 * - Flow control: `stream.write()` false pauses the client's request body until 'drain'; the
 *   client pushing back pauses the stream (its window stops opening).
 */
import { constants } from 'node:http2';
import type { ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import { ChunkedDecoder } from '../../http/wire/index.js';
import type { CloseReason } from '../../core/close-reason.js';
import type { Member } from './cluster.js';
import type { Exchange } from './exchange.js';
import type { UpstreamAttempt } from './upstream-attempt.js';
import type { Http2UpstreamPool, Http2Waiter, Http2Want } from './http2-upstream-pool.js';
import type { Http2UpstreamSession } from './http2-upstream-session.js';
import { chunk, framingFor, lastChunk, responseHeadFromHttp2, trailerFields } from './http2-upstream-fields.js';
import type { Http2BodyFraming } from './http2-upstream-fields.js';

const EMPTY = Buffer.alloc(0);

export class Http2Attempt implements UpstreamAttempt, Http2Waiter {
  reused = false;
  written = false;
  ttfbMs: number | null = null;
  #want: Http2Want | null = null;
  #session: Http2UpstreamSession | null = null;
  #stream: ClientHttp2Stream | null = null;
  #queue: Buffer[] | null;
  /** Strips the chunked framing of a body that reached the proxy chunked. */
  readonly #decoder: ChunkedDecoder | null;
  readonly #framing: Http2BodyFraming;
  /** The response's body is chunk-framed here (an HTTP/1.1 client, no Content-Length). */
  #chunking = false;
  #trailers: IncomingHttpHeaders | null = null;
  #requestEnded = false;
  #sentMs = 0;
  #ended = false;

  constructor(
    readonly ex: Exchange,
    readonly member: Member,
    readonly pool: Http2UpstreamPool,
    /** The request body so far (a retry's replay), sent right after the fields. */
    queue: Buffer[] | null,
  ) {
    this.#queue = queue;
    this.#decoder = ex.head.chunked && !ex.rawRequestBody ? new ChunkedDecoder() : null;
    this.#framing = framingFor(ex.client.protocol);
  }

  get connected(): boolean {
    return this.#stream !== null;
  }

  start(fresh: boolean): void {
    this.member.view.activeRequests += 1;
    this.#want = this.pool.acquire(this, fresh);
  }

  /** The pool's answer (Http2Waiter): a stream slot on `session`. */
  onSession(error: Error | undefined, session: Http2UpstreamSession | undefined, reused: boolean): void {
    this.#want = null;
    if (this.#ended) {
      if (session !== undefined) this.pool.release(session);
      return;
    }
    if (error !== undefined || session === undefined) {
      this.#end();
      return this.ex.connectFailed(this, error);
    }
    this.#session = session;
    this.reused = reused;
    const pieces = this.#queue;
    this.#queue = null;
    const fields = this.ex.upstreamFields ?? {};
    const endStream = this.ex.requestDone && (pieces === null || pieces.length === 0);
    // Request trailers, when the client announced them (Trailer): the stream then ends with HEADERS.
    const waitForTrailers = !endStream && fields['trailer'] !== undefined;
    let stream: ClientHttp2Stream;
    try {
      stream = session.session.request(fields, { endStream, waitForTrailers });
    } catch (cause) {
      // The connection began closing (a GOAWAY raced this stream): nothing was sent.
      this.#session = null;
      this.pool.release(session);
      this.#end();
      return this.ex.streamFailed(this, 'refused', (cause as Error).message);
    }
    this.#stream = stream;
    this.written = true;
    this.#sentMs = this.ex.ctx.clock.now();
    this.#requestEnded = endStream;
    // END_STREAM on the response HEADERS (a gRPC "trailers-only" error, a 204): from the flags,
    // as `stream.endAfterHeaders` is not yet set when 'response' is emitted.
    stream.on('response', (headers: IncomingHttpHeaders, flags: number) => this.#onResponse(headers, (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0));
    stream.on('headers', (headers: IncomingHttpHeaders) => this.#onInterim(headers));
    stream.on('data', (piece: Buffer) => this.#onData(piece));
    stream.on('trailers', (trailers: IncomingHttpHeaders) => {
      this.#trailers = trailers;
    });
    stream.on('end', () => this.#onEnd());
    stream.on('drain', () => this.ex.upstreamDrained());
    stream.on('error', () => {}); // 'close' follows, with rstCode saying why
    stream.on('close', () => this.#onClose(stream));
    if (waitForTrailers) stream.once('wantTrailers', () => stream.sendTrailers(this.ex.requestTrailers ?? {}));
    if (pieces !== null) for (const piece of pieces) this.#write(piece);
    if (this.ex.requestDone) this.endRequest();
  }

  send(piece: Buffer): void {
    if (this.#stream === null) {
      const queue = (this.#queue ??= []);
      queue.push(piece);
      if (queue.length > 64) this.ex.client.pauseRequest();
      return;
    }
    if (!this.#write(piece)) this.ex.client.pauseRequest();
  }

  #write(piece: Buffer): boolean {
    const stream = this.#stream;
    if (stream === null || stream.destroyed || this.#requestEnded) return true;
    const decoder = this.#decoder;
    if (decoder === null) return stream.write(piece);
    let ok = true;
    decoder.decode(piece, (data) => {
      if (data.length > 0) ok = stream.write(data) && ok;
    });
    return ok;
  }

  endRequest(): void {
    const stream = this.#stream;
    if (stream === null || this.#requestEnded) return;
    this.#requestEnded = true;
    if (!stream.destroyed) stream.end();
  }

  unsent(): Buffer[] | null {
    return this.written ? null : this.#queue;
  }

  pause(): void {
    this.#stream?.pause();
  }

  resume(): void {
    this.#stream?.resume();
  }

  // ---- the response -------------------------------------------------------------------------

  #heard(): void {
    const session = this.#session;
    if (session !== null) session.heard += 1;
    if (this.ttfbMs === null) {
      this.ttfbMs = this.ex.ctx.clock.now() - this.#sentMs;
      this.ex.cluster.latency.record(this.member.view, this.ttfbMs);
    }
  }

  #onInterim(headers: IncomingHttpHeaders): void {
    const status = Number(headers[':status'] ?? 0);
    if (status < 100 || status >= 200) return; // trailers come through 'trailers'
    this.#heard();
    this.ex.responseInterim(this, responseHeadFromHttp2(headers, this.ex.head.method, false, this.#framing));
  }

  #onResponse(headers: IncomingHttpHeaders, endStream: boolean): void {
    this.#heard();
    const res = responseHeadFromHttp2(headers, this.ex.head.method, endStream, this.#framing);
    this.#chunking = res.chunked;
    if (this.ex.responseHead(this, res)) this.ex.responseStart(this, res, EMPTY, false, endStream || res.noBody);
  }

  #onData(piece: Buffer): void {
    const session = this.#session;
    if (session !== null) session.heard += 1;
    if (piece.length === 0) return;
    this.ex.responseData(this, this.#chunking ? chunk(piece) : piece, false);
  }

  #onEnd(): void {
    if (this.#ended) return;
    if (this.#chunking) this.ex.responseData(this, lastChunk(this.#trailers), false);
    const trailers = this.#framing === 'raw' && this.#trailers !== null ? trailerFields(this.#trailers) : null;
    this.ex.responseEnd(this, trailers);
  }

  #onClose(stream: ClientHttp2Stream): void {
    if (this.#ended) return;
    const code = stream.rstCode ?? constants.NGHTTP2_INTERNAL_ERROR;
    const refused = code === constants.NGHTTP2_REFUSED_STREAM;
    const session = this.#session;
    this.#stream = null;
    this.#session = null;
    this.#end();
    if (session !== null) this.pool.release(session);
    const detail = `stream closed with ${rstName(code)}${session?.goaway === true ? ' after the backend\'s GOAWAY' : ''}`;
    this.ex.streamFailed(this, refused ? 'refused' : 'reset', detail);
  }

  // ---- ending -------------------------------------------------------------------------------

  release(reason: CloseReason): void {
    this.#want?.cancel();
    this.#want = null;
    if (this.#ended) return;
    this.#end();
    this.#dropStream(reason === 'aborted' || reason === 'response_timeout' ? constants.NGHTTP2_CANCEL : constants.NGHTTP2_INTERNAL_ERROR);
  }

  complete(requestDone: boolean): void {
    if (this.#ended) return;
    this.#end();
    // A response that ended before the request body: RST_STREAM(NO_ERROR) stops the rest (RFC 9113 8.1).
    this.#dropStream(requestDone ? -1 : constants.NGHTTP2_NO_ERROR);
  }

  /** The stream leaves this attempt (reset with `code` unless -1) and its slot goes back. */
  #dropStream(code: number): void {
    const stream = this.#stream;
    const session = this.#session;
    this.#stream = null;
    this.#session = null;
    if (stream !== null) {
      stream.removeAllListeners('data');
      if (code !== -1 && !stream.closed && !stream.destroyed) stream.close(code);
      else if (stream.isPaused()) stream.resume();
    }
    if (session !== null) this.pool.release(session);
  }

  #end(): void {
    this.#ended = true;
    this.member.view.activeRequests -= 1;
  }
}

const RST_NAMES: Record<number, string> = {
  [constants.NGHTTP2_NO_ERROR]: 'NO_ERROR',
  [constants.NGHTTP2_PROTOCOL_ERROR]: 'PROTOCOL_ERROR',
  [constants.NGHTTP2_INTERNAL_ERROR]: 'INTERNAL_ERROR',
  [constants.NGHTTP2_FLOW_CONTROL_ERROR]: 'FLOW_CONTROL_ERROR',
  [constants.NGHTTP2_REFUSED_STREAM]: 'REFUSED_STREAM',
  [constants.NGHTTP2_CANCEL]: 'CANCEL',
  [constants.NGHTTP2_ENHANCE_YOUR_CALM]: 'ENHANCE_YOUR_CALM',
};

function rstName(code: number): string {
  return RST_NAMES[code] ?? `error code ${code}`;
}
