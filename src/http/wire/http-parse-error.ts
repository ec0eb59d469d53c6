/**
 * The one error the wire layer throws for bytes it will not accept.
 *
 * Why: the proxy answers a bad request with `status` and closes, and answers a bad upstream
 * response with 502; both decisions, the log line and the metric label come from the stable
 * `code`, never from the message. `offset` is the index in the buffer given to the parser where
 * the problem was found, for logs and tests.
 *
 * Invariants: a parse error is final for the connection: the framing of everything after the
 * bad byte is unknown, so the caller must not read another message from it.
 */
import { LifelineError } from '../../core/errors.js';

/** Every code an `HttpParseError` can carry, with the status a server answers (400 unless noted). */
export const HTTP_PARSE_ERROR_CODES = {
  /** Request line not `method SP request-target SP HTTP/1.x CRLF`, or a target of the wrong form. */
  ERR_HTTP_BAD_REQUEST_LINE: 400,
  /** Status line not `HTTP/1.x SP 3DIGIT SP reason CRLF` (responses only). */
  ERR_HTTP_BAD_STATUS_LINE: 400,
  /** A well-formed `HTTP/d.d` other than 1.0 and 1.1: 505. */
  ERR_HTTP_VERSION_NOT_SUPPORTED: 505,
  /** Field line: empty or non-token name, whitespace before the colon, CTL (NUL...) in a value. */
  ERR_HTTP_BAD_HEADER: 400,
  /** A field line starting with SP or HTAB (obsolete line folding). */
  ERR_HTTP_OBS_FOLD: 400,
  /** A CR not followed by LF. */
  ERR_HTTP_BARE_CR: 400,
  /** A LF not preceded by CR (LF-only line endings are not accepted). */
  ERR_HTTP_BARE_LF: 400,
  /** Both Content-Length and Transfer-Encoding. */
  ERR_HTTP_CL_TE: 400,
  /** Content-Length that is not 1*DIGIT up to 2^53-1, or given more than once. */
  ERR_HTTP_BAD_CONTENT_LENGTH: 400,
  /** Transfer-Encoding other than exactly `chunked` (requests), duplicated, or in HTTP/1.0. */
  ERR_HTTP_BAD_TRANSFER_ENCODING: 400,
  /** HTTP/1.1 request without exactly one Host, or a Host value with characters a host cannot hold. */
  ERR_HTTP_BAD_HOST: 400,
  /** Head (request line and fields) longer than `maxHeaderBytes`: 431. */
  ERR_HTTP_HEADERS_TOO_LARGE: 431,
  /** More than `maxHeaders` field lines: 431. */
  ERR_HTTP_TOO_MANY_HEADERS: 431,
  /** Chunked body framing: size, extension, CRLF after data, bare CR/LF in framing. */
  ERR_HTTP_BAD_CHUNK: 400,
  /** Trailer section after the last chunk: bad field line or larger than its limit. */
  ERR_HTTP_BAD_TRAILER: 400,
} as const;

export type HttpParseErrorCode = keyof typeof HTTP_PARSE_ERROR_CODES;

/** Statuses a server may answer a parse error with (413 and 501 are for callers' own checks). */
export type HttpParseStatus = 400 | 413 | 431 | 501 | 505;

/**
 * Bytes that are not a valid HTTP/1.1 message (or exceed a limit).
 *
 * @example
 *   try { parseRequestHead(buf, 0, n, limits) }
 *   catch (err) { if (err instanceof HttpParseError) reply(err.status); }
 */
export class HttpParseError extends LifelineError {
  /** The status to answer a client with. For an upstream response the proxy answers 502 instead. */
  readonly status: HttpParseStatus;
  /** Index in the parsed buffer where the problem was found. */
  readonly offset: number;
  declare readonly code: HttpParseErrorCode;

  constructor(code: HttpParseErrorCode, message: string, offset: number, status?: HttpParseStatus) {
    super(code, message);
    this.status = status ?? HTTP_PARSE_ERROR_CODES[code];
    this.offset = offset;
  }
}
