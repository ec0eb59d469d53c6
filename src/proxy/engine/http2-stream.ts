/**
 * One request/response on an HTTP/2 client connection: the client side of an Exchange
 * (ClientSide) for one `node:http2` server stream, as Http1Stream is for an HTTP/1.1 request.
 * Routing, clusters, retries, pools and the access log are the Exchange's, shared with HTTP/1.
 *
 * What it translates:
 * - The request: an HTTP/1.1 head is synthesised (method, `:path`, `:authority` as Host, the
 *   fields); a body without Content-Length goes upstream chunked (this stream frames each DATA
 *   piece), one with Content-Length as it is.
 * - The response: the backend's head becomes HTTP/2 fields without the hop-by-hop ones HTTP/2
 *   forbids (Connection, Keep-Alive, Transfer-Encoding, Upgrade, ...); a chunked body is
 *   de-chunked (the backend's framing was validated by the Exchange's reader).
 * - Flow control: `stream.write()` false -> the exchange pauses the backend; 'drain' resumes it.
 *   The upstream pushing back pauses the request stream (its window stops opening).
 *
 * One wheel deadline per stream; its meaning follows the exchange's phase (request body,
 * response head, response stream idle), as on an HTTP/1 connection.
 */
import { constants } from 'node:http2';
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { STATUS_CODES } from 'node:http';
import { ChunkedDecoder, isHopByHop } from '../../http/wire/index.js';
import type { RequestHead, ResponseHead } from '../../http/wire/index.js';
import { wheelTimeoutMs } from '../../core/timer-wheel.js';
import type { ClientSide } from './client-side.js';
import { Exchange } from './exchange.js';
import type { Member } from './cluster.js';
import type { UpstreamConnection } from './upstream-connection.js';
import type { ListenerContext } from './listener-context.js';
import { startExchange, logLocalAnswer } from './start-exchange.js';
import { trailerFields } from './http2-upstream-fields.js';

const NO_TOKENS: readonly string[] = Object.freeze([]);
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');

/** Synthesise the HTTP/1.1 request head of an HTTP/2 request (RFC 9113 8.3.1). */
export function requestHeadFromHttp2(headers: IncomingHttpHeaders, rawHeaders: readonly string[], endStream: boolean): RequestHead {
  const method = String(headers[':method'] ?? 'GET');
  const authority = headers[':authority'] ?? headers.host;
  const flat: string[] = [];
  // :authority replaces Host (RFC 9113 8.3.1), and goes first as an HTTP/1.1 head has it.
  if (authority !== undefined) flat.push('Host', authority);
  let contentLength = -1;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    if (name.charCodeAt(0) === 0x3a /* : */ || name === 'host') continue;
    const value = rawHeaders[i + 1] as string;
    if (name === 'content-length') contentLength = Number(value);
    flat.push(name, value);
  }
  const chunked = !endStream && contentLength < 0;
  if (chunked) flat.push('Transfer-Encoding', 'chunked');
  return {
    method,
    target: String(headers[':path'] ?? '/'),
    versionMinor: 1,
    headers: flat,
    headBytes: 0,
    contentLength: endStream ? -1 : contentLength,
    chunked,
    connectionClose: false,
    connectionTokens: NO_TOKENS,
    upgrade: undefined,
    expectContinue: false,
    host: authority,
  };
}

/** HTTP/2 response fields from an HTTP/1 head: lowercase names, no connection-specific ones. */
function responseFields(res: ResponseHead): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':status': res.statusCode };
  const h = res.headers;
  for (let i = 0; i + 1 < h.length; i += 2) {
    const name = (h[i] as string).toLowerCase();
    if (isHopByHop(name, res.connectionTokens) || name === 'transfer-encoding') continue;
    if (name === 'content-length' && res.chunked) continue;
    const value = h[i + 1] as string;
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (name === 'set-cookie') out[name] = Array.isArray(prev) ? [...prev, value] : [String(prev), value];
    else out[name] = `${String(prev)}, ${value}`;
  }
  return out;
}

/** The response names a Trailer field (HTTP/2 backends send lowercase names). */
function announcesTrailers(res: ResponseHead): boolean {
  const h = res.headers;
  for (let i = 0; i < h.length; i += 2) if (h[i] === 'trailer') return true;
  return false;
}

function onDeadline(this: void, _id: number, data: unknown): void {
  (data as Http2Stream).onDeadline();
}

export class Http2Stream implements ClientSide {
  readonly protocol = 'HTTP/2';
  exchange: Exchange | undefined;
  #timerId = -1;
  #decoder: ChunkedDecoder | null = null;
  #responded = false;
  /** Trailers from an HTTP/2 backend, sent when the stream asks for them. */
  #trailers: OutgoingHttpHeaders | null = null;

  constructor(
    readonly ctx: ListenerContext,
    readonly stream: ServerHttp2Stream,
    readonly head: RequestHead,
    readonly clientAddress: string,
  ) {}

  get scheme(): 'http' | 'https' {
    return this.ctx.protocol;
  }

  /** Route the request and start its exchange (or answer it locally). */
  start(): void {
    const stream = this.stream;
    const started = startExchange(this.ctx, this, this.head, this.ctx.clock.now());
    if (!(started instanceof Exchange)) {
      const text = this.#localBody(started.status, started.code);
      logLocalAnswer(this.ctx, this, this.head, started, text.length);
      return;
    }
    const ex = started;
    this.exchange = ex;
    // An HTTP/2 backend takes the DATA as it is: no HTTP/1 framing to add and strip again.
    ex.rawRequestBody = ex.upstreamFields !== null;
    stream.on('drain', () => ex.clientDrained());
    stream.on('close', () => this.#closed());
    if (!ex.requestDone) {
      this.#setTimer(this.ctx.client.requestTimeoutMs);
      stream.on('data', (chunk: Buffer) => this.#requestData(chunk));
      stream.on('end', () => this.#requestEnd());
      // Request trailers go on only to an HTTP/2 backend (they come before 'end').
      if (ex.rawRequestBody) stream.once('trailers', (fields: IncomingHttpHeaders) => (ex.requestTrailers = trailerFields(fields)));
    } else this.#setTimer(ex.cluster.config.timeouts.responseHeadersTimeoutMs);
    ex.begin();
  }

  #requestData(chunk: Buffer): void {
    const ex = this.exchange;
    if (ex === undefined || ex.phase === 'done' || ex.requestDone || chunk.length === 0) return;
    this.#touch();
    if (this.head.chunked && !ex.rawRequestBody) ex.sendBody(Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`, 'latin1'), chunk, CRLF]), false);
    else ex.sendBody(chunk, false);
  }

  #requestEnd(): void {
    const ex = this.exchange;
    if (ex === undefined || ex.phase === 'done' || ex.requestDone) return;
    if (this.head.chunked && !ex.rawRequestBody) ex.sendBody(LAST_CHUNK, false);
    ex.requestComplete();
  }

  /** The client reset the stream or its session went away before the response ended. */
  #closed(): void {
    this.#cancelTimer();
    const ex = this.exchange;
    if (ex !== undefined && ex.phase !== 'done') ex.cancel('ERR_CLIENT_CLOSED');
  }

  // ---- ClientSide ---------------------------------------------------------------------------

  interim(_res: ResponseHead): void {
    // 100 Continue is not asked for over HTTP/2 here (the head carries no Expect); others are dropped.
  }

  respond(ex: Exchange, res: ResponseHead, first: Buffer, shared: boolean, complete: boolean): boolean {
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return true;
    this.#responded = true;
    if (res.chunked) this.#decoder = new ChunkedDecoder();
    const endStream = complete && first.length === 0;
    // Trailers may follow from an HTTP/2 backend when the client asked for them (gRPC sends
    // `te: trailers`) or the response announces them: the stream then ends with a HEADERS frame.
    const waitForTrailers = !endStream && ex.upstreamFields !== null && (this.#wantsTrailers() || announcesTrailers(res));
    if (waitForTrailers) stream.once('wantTrailers', () => stream.sendTrailers(this.#trailers ?? {}));
    stream.respond(responseFields(res), { endStream, waitForTrailers });
    if (!complete) this.#setTimer(ex.cluster.config.timeouts.idleStreamTimeoutMs);
    return first.length === 0 ? true : this.#write(first, shared);
  }

  body(piece: Buffer, shared: boolean): boolean {
    this.#touch();
    return this.#write(piece, shared);
  }

  #write(piece: Buffer, shared: boolean): boolean {
    const stream = this.stream;
    if (stream.destroyed || stream.writableEnded) return true;
    const decoder = this.#decoder;
    if (decoder === null) return stream.write(shared ? Buffer.from(piece) : piece);
    let ok = true;
    decoder.decode(piece, (data) => {
      if (data.length > 0) ok = stream.write(shared ? Buffer.from(data) : data) && ok;
    });
    return ok;
  }

  upgrade(ex: Exchange, _res: ResponseHead, upstream: UpstreamConnection, member: Member, _rest: Buffer, _shared: boolean): void {
    // No Upgrade is asked for over HTTP/2: a backend that switches protocols anyway is broken.
    ex.errorCode = 'ERR_BAD_UPSTREAM_RESPONSE';
    member.pool.release(upstream, 'protocol_error', undefined, false);
    if (!this.stream.destroyed) this.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  }

  trailers(fields: OutgoingHttpHeaders): void {
    this.#trailers = fields;
  }

  #wantsTrailers(): boolean {
    const h = this.head.headers;
    for (let i = 0; i + 1 < h.length; i += 2) if (h[i] === 'te' && (h[i + 1] as string).toLowerCase().includes('trailers')) return true;
    return false;
  }

  local(ex: Exchange, status: number, code: string): void {
    ex.bytesOut += this.#localBody(status, code).length;
  }

  #localBody(status: number, code: string): string {
    const body = `${status} ${STATUS_CODES[status] ?? ''}: ${code}\n`;
    const stream = this.stream;
    if (stream.destroyed || stream.closed || stream.headersSent) return body;
    stream.respond({ ':status': status, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'x-lifeline-error': code });
    stream.end(body);
    return body;
  }

  ended(ex: Exchange): void {
    this.#cancelTimer();
    const stream = this.stream;
    if (stream.destroyed) return;
    if (this.#responded && !stream.writableEnded) stream.end();
    // A request body still arriving after the response: RST_STREAM(NO_ERROR) tells the client to
    // stop sending it (RFC 9113 8.1).
    if (!ex.requestDone && !stream.closed) stream.close(constants.NGHTTP2_NO_ERROR);
  }

  abort(_ex: Exchange): void {
    this.#cancelTimer();
    if (!this.stream.destroyed) this.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
  }

  pauseRequest(): void {
    this.stream.pause();
  }

  resumeRequest(): void {
    this.stream.resume();
  }

  awaiting(_ex: Exchange, timeoutMs: number): void {
    this.#setTimer(timeoutMs);
  }

  // ---- the stream's deadline ---------------------------------------------------------------

  /** @internal The deadline came: what it means follows the exchange's phase. */
  onDeadline(): void {
    this.#timerId = -1;
    const ex = this.exchange;
    if (ex === undefined) return;
    if (ex.phase === 'request') return ex.requestTimedOut();
    if (ex.phase === 'awaiting') return ex.responseTimedOut();
    if (ex.phase === 'responding') return ex.streamTimedOut();
  }

  #setTimer(ms: number): void {
    if (this.#timerId === -1) this.#timerId = this.ctx.wheel.add(wheelTimeoutMs(ms), onDeadline, this);
    else this.ctx.wheel.reset(this.#timerId, wheelTimeoutMs(ms));
  }

  #touch(): void {
    if (this.#timerId !== -1) this.ctx.wheel.touch(this.#timerId);
  }

  #cancelTimer(): void {
    if (this.#timerId !== -1) this.ctx.wheel.cancel(this.#timerId);
    this.#timerId = -1;
  }
}
