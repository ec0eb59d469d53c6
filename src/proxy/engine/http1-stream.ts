/**
 * One request/response on an HTTP/1.1 client connection (HAProxy's h1s beside the connection's
 * h1c): the client side of an Exchange (ClientSide). It holds the HTTP/1 framing of this
 * request's body and writes the response to the client socket: the head rebuilt with the
 * keep-alive decision (Connection: close, or the Keep-Alive hint), the body as the backend
 * framed it (chunked bytes are validated upstream, not re-encoded).
 *
 * The connection keeps one stream at a time (pipelined requests wait in its buffer).
 */
import { buildResponseHead, ChunkedScanner, HttpParseError } from '../../http/wire/index.js';
import type { RequestHead, ResponseHead } from '../../http/wire/index.js';
import type { ClientSide } from './client-side.js';
import type { Exchange } from './exchange.js';
import type { Member } from './cluster.js';
import type { UpstreamConnection } from './upstream-connection.js';
import type { Http1Connection } from './http1-connection.js';
import { owned } from './borrowed-bytes.js';
import { writeBytes, writeText, writeWithHead } from './client-output.js';
import { localResponse } from './local-response.js';

/**
 * A response head goes out in one write with the body bytes that came with it. Up to this many
 * body bytes are copied next to the head (one small buffer, one write); a larger first piece goes
 * with the head in one corked writev instead of a copy.
 */
const COPY_WITH_HEAD_MAX = 16 * 1024;

const CONNECTION_CLOSE: readonly string[] = ['Connection', 'close'];

/** `Keep-Alive: timeout=N` as extra fields, built once per N: every response carries one. */
const keepAliveFields: (readonly string[])[] = [];
function keepAliveHint(seconds: number): readonly string[] {
  if (seconds > 3600) return ['Keep-Alive', `timeout=${seconds}`];
  return (keepAliveFields[seconds] ??= ['Keep-Alive', `timeout=${seconds}`]);
}

export class Http1Stream implements ClientSide {
  readonly protocol: string;
  /** The exchange this stream carries (set right after both are made). */
  exchange: Exchange | undefined;
  /** Content-Length bytes of the request body still to come. */
  #bodyRemaining: number;
  /** The chunked request body's scanner, or null for a length-delimited body. */
  readonly #bodyScanner: ChunkedScanner | null;

  constructor(
    readonly conn: Http1Connection,
    readonly head: RequestHead,
  ) {
    this.protocol = head.versionMinor === 0 ? 'HTTP/1.0' : 'HTTP/1.1';
    this.#bodyRemaining = head.contentLength > 0 ? head.contentLength : 0;
    this.#bodyScanner = head.chunked ? new ChunkedScanner() : null;
  }

  get clientAddress(): string {
    return this.conn.clientAddress;
  }
  get scheme(): 'http' | 'https' {
    return this.conn.ctx.protocol;
  }

  /**
   * Feed request body bytes from `chunk[offset..]` to the exchange. Returns the offset where the
   * body ended (the rest is the next, pipelined request), or -1 when all of `chunk` was body.
   */
  requestBody(ex: Exchange, chunk: Buffer, offset: number, shared: boolean): number {
    let end: number;
    let done = false;
    if (this.#bodyScanner !== null) {
      try {
        end = this.#bodyScanner.push(chunk, offset, chunk.length);
      } catch (error) {
        if (!(error instanceof HttpParseError)) throw error;
        this.conn.ctx.metrics.rejected(error.code);
        ex.reject(400, error.code);
        return -1;
      }
      if (end === -1) end = chunk.length;
      else done = true;
    } else {
      const n = Math.min(this.#bodyRemaining, chunk.length - offset);
      end = offset + n;
      this.#bodyRemaining -= n;
      done = this.#bodyRemaining === 0;
    }
    if (end > offset) ex.sendBody(offset === 0 && end === chunk.length ? chunk : chunk.subarray(offset, end), shared);
    if (done && ex.phase !== 'done') ex.requestComplete();
    return done && end < chunk.length ? end : -1;
  }

  // ---- ClientSide ---------------------------------------------------------------------------

  interim(res: ResponseHead): void {
    writeText(this.conn, buildResponseHead(res.statusCode, res.reason, res.headers, res.connectionTokens, []));
  }

  respond(ex: Exchange, res: ResponseHead, first: Buffer, shared: boolean, complete: boolean): boolean {
    const conn = this.conn;
    const close = ex.closeConnection || conn.mustClose(this.head);
    if (close) ex.closeConnection = true;
    let extra: readonly string[];
    if (close) extra = CONNECTION_CLOSE;
    else {
      const hintSec = conn.hintSeconds;
      extra = hintSec > 0 ? keepAliveHint(hintSec) : [];
      if (this.head.versionMinor === 0) extra = ['Connection', 'keep-alive', ...extra];
    }
    const head = buildResponseHead(res.statusCode, res.reason, res.headers, res.connectionTokens, extra);
    ex.bytesOut += head.length;
    if (!complete) conn.streaming(ex);
    if (first.length === 0) return writeText(conn, head);
    if (first.length > COPY_WITH_HEAD_MAX) return writeWithHead(conn, head, first, shared);
    const out = Buffer.allocUnsafe(head.length + first.length);
    out.write(head, 0, 'latin1');
    first.copy(out, head.length);
    return writeBytes(conn, out, false);
  }

  body(piece: Buffer, shared: boolean): boolean {
    this.conn.touch();
    return writeBytes(this.conn, piece, shared);
  }

  upgrade(ex: Exchange, res: ResponseHead, upstream: UpstreamConnection, member: Member, rest: Buffer, shared: boolean): void {
    const extra = res.upgrade === undefined ? [] : ['Connection', 'upgrade', 'Upgrade', res.upgrade];
    const head = buildResponseHead(res.statusCode, res.reason, res.headers, res.connectionTokens, extra);
    ex.bytesOut += head.length;
    writeText(this.conn, head);
    this.conn.startTunnel(upstream, member, res.upgrade, owned(rest, shared));
  }

  trailers(): void {
    // An HTTP/1.1 client gets trailers in the last chunk (framed by the upstream side).
  }

  local(ex: Exchange, status: number, code: string): void {
    if (this.conn.mustClose(this.head)) ex.closeConnection = true;
    const text = localResponse(status, code, ex.closeConnection);
    ex.bytesOut += text.length;
    writeText(this.conn, text);
  }

  ended(ex: Exchange): void {
    this.conn.exchangeEnded(ex);
  }

  abort(ex: Exchange): void {
    this.conn.abortExchange(ex);
  }

  pauseRequest(): void {
    this.conn.socket.pause();
  }

  resumeRequest(): void {
    this.conn.socket.resume();
  }

  awaiting(_ex: Exchange, timeoutMs: number): void {
    this.conn.setTimer(timeoutMs);
  }
}
