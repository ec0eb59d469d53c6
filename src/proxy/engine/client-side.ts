/**
 * The protocol seam on the client side: what an Exchange needs from the connection (or stream)
 * its request came on. HTTP/1.1 on raw sockets (http1-connection.ts) is one implementation; an
 * HTTP/2 stream is another. Everything above it (routing, clusters, retries, upstream pools, the
 * access log) sees Exchanges only.
 *
 * Bytes handed over with `shared: true` are borrowed (a view of the shared read buffer, valid
 * only during the call): the implementation passes them through `owned()` before keeping or
 * writing them.
 */
import type { OutgoingHttpHeaders } from 'node:http2';
import type { ResponseHead } from '../../http/wire/index.js';
import type { Exchange } from './exchange.js';
import type { UpstreamConnection } from './upstream-connection.js';
import type { Member } from './cluster.js';

export interface ClientSide {
  /** The client's address, for X-Forwarded-For and the access log. */
  readonly clientAddress: string;
  /** The scheme the client used, for X-Forwarded-Proto. */
  readonly scheme: 'http' | 'https';
  /** The protocol the client speaks, for the access log (`HTTP/1.1`, `HTTP/2`). */
  readonly protocol: string;
  /** An interim (1xx) response to pass on. */
  interim(res: ResponseHead): void;
  /**
   * The response begins: its head, with `first` body bytes (maybe none) as the backend framed
   * them. `complete`: the response has no more body. Returns false when the client pushes back.
   */
  respond(ex: Exchange, res: ResponseHead, first: Buffer, shared: boolean, complete: boolean): boolean;
  /** More response body bytes, as the backend framed them. Returns false when the client pushes back. */
  body(piece: Buffer, shared: boolean): boolean;
  /**
   * The backend accepted an upgrade: from here bytes flow raw both ways over `upstream`, which
   * the client side now owns (it releases it to `member`'s pool when the tunnel ends).
   */
  upgrade(ex: Exchange, res: ResponseHead, upstream: UpstreamConnection, member: Member, rest: Buffer, shared: boolean): void;
  /**
   * Trailer fields of a response from an HTTP/2 backend, for a client that takes them as fields
   * (HTTP/2); called just before `ended`. An HTTP/1.1 client got them in the last chunk already.
   */
  trailers(fields: OutgoingHttpHeaders): void;
  /** Answer the client with a local response for `code`; the exchange is over. */
  local(ex: Exchange, status: number, code: string): void;
  /** The exchange is over (response complete, or answered locally). Called exactly once. */
  ended(ex: Exchange): void;
  /** The response cannot be completed (cut off mid-body): end the client's side of it now. */
  abort(ex: Exchange): void;
  /** Stop reading the request body (the upstream pushes back), and start again. */
  pauseRequest(): void;
  resumeRequest(): void;
  /** The exchange now waits for the response head (the request is complete). */
  awaiting(ex: Exchange, timeoutMs: number): void;
}
