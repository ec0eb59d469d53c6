/**
 * `parseResponseHead`: the strict, incremental parser of an upstream's response head, and the
 * body framing of that response (RFC 9112 6.3), which depends on the request method.
 *
 * Why: the proxy relays upstream bytes as they are and must know exactly where each response
 * ends, or it would hand the tail of one response to the next client (response splitting), and
 * it must know when the upstream connection can be reused and for how long (`Keep-Alive` hint).
 *
 * Invariants: same field rules as requests (no obs-fold, bare CR/LF, CTLs, CL+TE, duplicate CL);
 * a response whose length is only known at close sets `bodyUntilClose` and `connectionClose`.
 * Transfer-Encoding in a response may list codings (`gzip, chunked`); chunked must be last and
 * appear once, otherwise the response is refused (rather than read until close).
 */
import { CR, FIELD_VALUE, LF, SP, latin1 } from './char-tables.js';
import { exhausted, scanFields } from './header-fields.js';
import { NO_TOKENS, fields } from './framing-fields.js';
import { HttpParseError } from './http-parse-error.js';
import { httpVersion } from './request-head.js';
import type { HeadLimits } from './head-limits.js';

/** What a `Keep-Alive` response header advertised. Absent fields were not given (or malformed). */
export interface KeepAliveHint {
  /** `timeout=N`: the server closes an idle connection after about N seconds. */
  timeoutSec?: number;
  /** `max=M`: the server accepts M more requests on this connection. */
  max?: number;
}

/** A parsed response head and its framing. */
export interface ResponseHead {
  statusCode: number;
  /** Reason phrase as received (may be empty). */
  reason: string;
  versionMinor: 0 | 1;
  /** Flat [name, value, ...]: names as received, values trimmed of OWS. */
  headers: string[];
  /** Bytes from `start` through the final CRLF. */
  headBytes: number;
  /**
   * No body follows the head, whatever the fields say: a response to HEAD, 1xx, 204, 304, or
   * 2xx to CONNECT. After a 1xx other than 101 another response head follows.
   */
  noBody: boolean;
  /** Body bytes to read when Content-Length frames the body; 0 with `noBody`; -1 otherwise. */
  contentLength: number;
  /** The body is chunked: scan it with ChunkedScanner. */
  chunked: boolean;
  /** The body ends when the upstream closes (no framing); implies `connectionClose`. */
  bodyUntilClose: boolean;
  /** The connection cannot carry another exchange after this response. */
  connectionClose: boolean;
  /** Lowercased options of all Connection headers; a shared frozen empty array when none. */
  connectionTokens: readonly string[];
  /** 101, or 2xx to CONNECT: after the head, the connection is a byte tunnel. */
  tunnel: boolean;
  /** The Upgrade value of a 101 response that carries `Connection: upgrade`; else undefined. */
  upgrade: string | undefined;
  /** Parsed `Keep-Alive` header; undefined when there was none. */
  keepAliveHint: KeepAliveHint | undefined;
  /** Some part of the Keep-Alive header could not be read (and was ignored). */
  keepAliveHintMalformed: boolean;
}

function incomplete(start: number, lim: number, maxHeaderBytes: number): null {
  exhausted(start, lim, maxHeaderBytes);
  return null;
}

/**
 * Parse the response head in buf[start, end), for a request made with `requestMethod`.
 *
 * @returns the head, or null when more bytes are needed.
 * @throws HttpParseError on anything invalid or too large (the proxy answers its client 502).
 * @example
 *   const head = parseResponseHead(buf, 0, n, limits, 'GET');
 *   if (head?.chunked) scanner.reset();
 */
export function parseResponseHead(
  buf: Buffer, start: number, end: number, limits: HeadLimits, requestMethod: string,
): ResponseHead | null {
  const maxHeaderBytes = limits.maxHeaderBytes;
  const lim = end - start > maxHeaderBytes ? start + maxHeaderBytes : end;
  let pos = start;
  const minor = httpVersion(buf, pos, lim, SP, 'ERR_HTTP_BAD_STATUS_LINE');
  if (minor < 0) return incomplete(start, lim, maxHeaderBytes);
  pos += 9;
  let status = 0;
  for (let k = 0; k < 3; k++, pos++) {
    if (pos >= lim) return incomplete(start, lim, maxHeaderBytes);
    const d = buf[pos]! - 0x30;
    if (d < 0 || d > 9 || (k === 0 && (d < 1 || d > 5))) {
      throw new HttpParseError('ERR_HTTP_BAD_STATUS_LINE', 'status code is not 100-599', pos);
    }
    status = status * 10 + d;
  }
  if (pos >= lim) return incomplete(start, lim, maxHeaderBytes);
  // RFC 9112 4 requires SP before an empty reason; "HTTP/1.1 200\r\n" is accepted too, being unambiguous.
  let c = buf[pos]!;
  if (c === SP) {
    pos++;
  } else if (c !== CR) {
    if (c === LF) throw new HttpParseError('ERR_HTTP_BARE_LF', 'line ends in LF without CR', pos);
    throw new HttpParseError('ERR_HTTP_BAD_STATUS_LINE', 'status code is not followed by a space', pos);
  }
  const reasonStart = pos;
  while (pos < lim) {
    c = buf[pos]!;
    if (FIELD_VALUE[c] !== 1) break;
    pos++;
  }
  if (pos >= lim) return incomplete(start, lim, maxHeaderBytes);
  if (c !== CR) {
    if (c === LF) throw new HttpParseError('ERR_HTTP_BARE_LF', 'line ends in LF without CR', pos);
    throw new HttpParseError('ERR_HTTP_BAD_STATUS_LINE', `control byte 0x${c.toString(16)} in the reason phrase`, pos);
  }
  const reasonEnd = pos;
  if (pos + 1 >= lim) return incomplete(start, lim, maxHeaderBytes);
  if (buf[pos + 1] !== LF) throw new HttpParseError('ERR_HTTP_BARE_CR', 'CR not followed by LF', pos);
  pos += 2;

  fields.reset();
  const headers: string[] = [];
  const headEnd = scanFields(buf, pos, start, lim, maxHeaderBytes, limits.maxHeaders, false, minor, headers);
  if (headEnd < 0) return null;
  const st = fields;
  if (st.hasTransferEncoding && st.chunkedCount === 1 && !st.lastIsChunked) {
    throw new HttpParseError('ERR_HTTP_BAD_TRANSFER_ENCODING', 'chunked is not the final transfer coding', headEnd);
  }
  const tunnel = status === 101 || (requestMethod === 'CONNECT' && status >= 200 && status < 300);
  const noBody = tunnel || status < 200 || status === 204 || status === 304 || requestMethod === 'HEAD';
  const chunked = !noBody && st.lastIsChunked;
  const bodyUntilClose = !noBody && !chunked && (st.hasTransferEncoding || !st.hasContentLength);
  let keepAliveHint: KeepAliveHint | undefined;
  if (st.keepAliveSeen) {
    const t = st.keepAliveTimeout;
    const m = st.keepAliveMax;
    // Object literals, one per combination, rather than adding properties one by one.
    keepAliveHint = t >= 0 ? (m >= 0 ? { timeoutSec: t, max: m } : { timeoutSec: t }) : m >= 0 ? { max: m } : {};
  }
  return {
    statusCode: status,
    reason: latin1(buf, reasonStart, reasonEnd),
    versionMinor: minor === 1 ? 1 : 0,
    headers,
    headBytes: headEnd - start,
    noBody,
    contentLength: noBody ? 0 : chunked || bodyUntilClose ? -1 : st.contentLength,
    chunked,
    bodyUntilClose,
    connectionClose: bodyUntilClose || st.connectionClose || (minor === 0 && !st.connectionKeepAlive),
    connectionTokens: st.connectionTokens ?? NO_TOKENS,
    tunnel,
    upgrade: status === 101 && st.connectionUpgrade ? st.upgrade : undefined,
    keepAliveHint,
    keepAliveHintMalformed: st.keepAliveMalformed,
  };
}
