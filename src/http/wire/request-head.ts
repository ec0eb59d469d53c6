/**
 * `parseRequestHead`: a strict, incremental HTTP/1.1 request-head parser over a Buffer range.
 *
 * Why: the proxy reads requests from raw sockets and must decide the framing of each one exactly
 * once, the same way for every split of the bytes, and refuse anything two parsers might read
 * differently (RFC 9112 11.2, request smuggling). Stateless: call it again with the same `start`
 * and a larger `end` when more bytes arrive; a head arrives whole in one read almost always, and
 * the rescan of a partial head is bounded by `maxHeaderBytes`.
 *
 * Invariants: returns null only when no error is visible in the buffered bytes and the head is
 * not complete; throws `HttpParseError` at the first invalid byte; `headBytes` covers the
 * tolerated leading empty line, the request line, the fields and the final CRLF.
 */
import { CR, LF, SP, TARGET, TOKEN, latin1, lit } from './char-tables.js';
import { exhausted, scanFields } from './header-fields.js';
import { NO_TOKENS, fields } from './framing-fields.js';
import { HttpParseError } from './http-parse-error.js';
import type { HeadLimits } from './head-limits.js';

/** A parsed request head. Strings are latin1-decoded bytes, so they re-encode to the same bytes. */
export interface RequestHead {
  /** As received (methods are case-sensitive); common methods are shared constant strings. */
  method: string;
  /** The request-target as received: origin-form, absolute-form, authority-form (CONNECT) or `*` (OPTIONS). */
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  versionMinor: 0 | 1;
  /** Flat [name, value, name, value, ...]: names as received, values trimmed of OWS. */
  headers: string[];
  /** Bytes from `start` through the final CRLF; the body (if any) starts at start + headBytes. */
  headBytes: number;
  /** Content-Length, or -1 when absent. With `chunked` false and -1 the request has no body. */
  contentLength: number;
  /** Transfer-Encoding: chunked (the only accepted request coding). Scan the body with ChunkedScanner. */
  chunked: boolean;
  /** The connection closes after this exchange: `Connection: close`, or HTTP/1.0 without keep-alive. */
  connectionClose: boolean;
  /** Lowercased options of all Connection headers, in order; a shared frozen empty array when none. */
  connectionTokens: readonly string[];
  /** Upgrade header value(s) when `Connection: upgrade` is present in HTTP/1.1; else undefined. */
  upgrade: string | undefined;
  /** `Expect: 100-continue` in HTTP/1.1. Other expectations are left to the caller (417). */
  expectContinue: boolean;
  /** The Host value (may be empty); undefined only for an HTTP/1.0 request without Host. */
  host: string | undefined;
}

const HTTP_SLASH = lit('HTTP/');

/** Null for an incomplete head, unless it can only be too large (then 431). */
function incomplete(start: number, lim: number, maxHeaderBytes: number): null {
  exhausted(start, lim, maxHeaderBytes);
  return null;
}

/** Return a shared constant for the common methods, else decode. Case-sensitive, as methods are. */
function methodString(buf: Buffer, a: number, b: number): string {
  const c0 = buf[a];
  switch (b - a) {
    case 3:
      if (c0 === 0x47 && buf[a + 1] === 0x45 && buf[a + 2] === 0x54) return 'GET';
      if (c0 === 0x50 && buf[a + 1] === 0x55 && buf[a + 2] === 0x54) return 'PUT';
      break;
    case 4:
      if (c0 === 0x50 && buf[a + 1] === 0x4f && buf[a + 2] === 0x53 && buf[a + 3] === 0x54) return 'POST';
      if (c0 === 0x48 && buf[a + 1] === 0x45 && buf[a + 2] === 0x41 && buf[a + 3] === 0x44) return 'HEAD';
      break;
  }
  return latin1(buf, a, b);
}

/**
 * Check `HTTP/d.d` followed by `terminator` at `pos`, as far as the bytes go.
 * Returns the minor version (0 or 1), or -1 if more bytes are needed. Shape errors throw
 * `badCode`; a well-formed version other than 1.0/1.1 throws ERR_HTTP_VERSION_NOT_SUPPORTED,
 * but only once the terminator confirms the shape.
 */
export function httpVersion(
  buf: Buffer, pos: number, lim: number, terminator: number, badCode: 'ERR_HTTP_BAD_REQUEST_LINE' | 'ERR_HTTP_BAD_STATUS_LINE',
): number {
  const n = Math.min(lim - pos, 9);
  for (let k = 0; k < n; k++) {
    const c = buf[pos + k]!;
    let ok: boolean;
    if (k < 5) ok = c === HTTP_SLASH[k];
    else if (k === 6) ok = c === 0x2e;
    else if (k === 8) ok = c === terminator;
    else ok = c >= 0x30 && c <= 0x39;
    if (!ok) {
      if (c === LF) throw new HttpParseError('ERR_HTTP_BARE_LF', 'line ends in LF without CR', pos + k);
      throw new HttpParseError(badCode, k < 8 ? 'malformed HTTP version' : 'unexpected bytes after the HTTP version', pos + k);
    }
  }
  if (n < 9) return -1;
  const major = buf[pos + 5]! - 0x30;
  const minor = buf[pos + 7]! - 0x30;
  if (major !== 1 || minor > 1) {
    throw new HttpParseError('ERR_HTTP_VERSION_NOT_SUPPORTED', `HTTP/${major}.${minor} is not supported`, pos);
  }
  return minor;
}

/** RFC 9112 3.2: the four target forms, each only where it belongs. */
function checkTarget(method: string, buf: Buffer, a: number, b: number): void {
  const c = buf[a]!;
  let ok: boolean;
  if (method === 'CONNECT') {
    ok = authorityForm(buf, a, b);
  } else if (c === 0x2f) {
    ok = true; // origin-form
  } else if (c === 0x2a) {
    ok = b - a === 1 && method === 'OPTIONS'; // asterisk-form
  } else {
    ok = absoluteForm(buf, a, b);
  }
  if (!ok) throw new HttpParseError('ERR_HTTP_BAD_REQUEST_LINE', `request-target ${JSON.stringify(latin1(buf, a, b))} is not valid for ${method}`, a);
}

/** host ":" port: no "/", "?", "#", "@" or "*", and a colon. */
function authorityForm(buf: Buffer, a: number, b: number): boolean {
  let colon = false;
  for (let i = a; i < b; i++) {
    const c = buf[i]!;
    if (c === 0x3a) colon = true;
    else if (c === 0x2f || c === 0x3f || c === 0x23 || c === 0x40 || c === 0x2a) return false;
  }
  return colon;
}

/** scheme "://" ...: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ). */
function absoluteForm(buf: Buffer, a: number, b: number): boolean {
  let i = a;
  const first = buf[i]! | 0x20;
  if (first < 0x61 || first > 0x7a) return false;
  for (i++; i < b; i++) {
    const c = buf[i]!;
    const l = c | 0x20;
    if ((l >= 0x61 && l <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e) continue;
    break;
  }
  return b - i > 3 && buf[i] === 0x3a && buf[i + 1] === 0x2f && buf[i + 2] === 0x2f;
}

/**
 * Parse the request head in buf[start, end).
 *
 * @returns the head, or null when more bytes are needed.
 * @throws HttpParseError (400, 431 or 505) on anything invalid or too large.
 * @example
 *   const head = parseRequestHead(buf, 0, buf.length, { maxHeaderBytes: 16384, maxHeaders: 100 });
 *   if (head === null) return; // wait for more bytes
 *   const bodyStart = head.headBytes;
 */
export function parseRequestHead(buf: Buffer, start: number, end: number, limits: HeadLimits): RequestHead | null {
  const maxHeaderBytes = limits.maxHeaderBytes;
  const lim = end - start > maxHeaderBytes ? start + maxHeaderBytes : end;
  let pos = start;
  if (pos >= lim) return null;
  // RFC 9112 2.2: ignore at least one empty line before the request line. Exactly one here.
  if (buf[pos] === CR) {
    if (pos + 1 >= lim) return incomplete(start, lim, maxHeaderBytes);
    if (buf[pos + 1] !== LF) throw new HttpParseError('ERR_HTTP_BARE_CR', 'CR not followed by LF', pos);
    pos += 2;
  }
  const methodStart = pos;
  while (pos < lim && TOKEN[buf[pos]!] === 1) pos++;
  if (pos >= lim) return incomplete(start, lim, maxHeaderBytes);
  if (buf[pos] !== SP || pos === methodStart) {
    const c = buf[pos]!;
    if (c === LF) throw new HttpParseError('ERR_HTTP_BARE_LF', 'line ends in LF without CR', pos);
    throw new HttpParseError('ERR_HTTP_BAD_REQUEST_LINE', pos === methodStart ? 'request line does not start with a method' : `byte 0x${c.toString(16)} in the method`, pos);
  }
  const methodEnd = pos++;
  const targetStart = pos;
  while (pos < lim && TARGET[buf[pos]!] === 1) pos++;
  if (pos >= lim) return incomplete(start, lim, maxHeaderBytes);
  if (buf[pos] !== SP || pos === targetStart) {
    const c = buf[pos]!;
    if (c === LF) throw new HttpParseError('ERR_HTTP_BARE_LF', 'line ends in LF without CR', pos);
    const what = pos === targetStart ? 'empty request-target or extra space' : c === CR ? 'request line without an HTTP version' : `byte 0x${c.toString(16)} in the request-target`;
    throw new HttpParseError('ERR_HTTP_BAD_REQUEST_LINE', what, pos);
  }
  const targetEnd = pos++;
  const minor = httpVersion(buf, pos, lim, CR, 'ERR_HTTP_BAD_REQUEST_LINE');
  if (minor < 0) return incomplete(start, lim, maxHeaderBytes);
  if (pos + 9 >= lim) return incomplete(start, lim, maxHeaderBytes);
  if (buf[pos + 9] !== LF) {
    throw new HttpParseError('ERR_HTTP_BARE_CR', 'CR not followed by LF', pos + 8);
  }
  pos += 10;
  const method = methodString(buf, methodStart, methodEnd);
  checkTarget(method, buf, targetStart, targetEnd);

  fields.reset();
  const headers: string[] = [];
  const headEnd = scanFields(buf, pos, start, lim, maxHeaderBytes, limits.maxHeaders, true, minor, headers);
  if (headEnd < 0) return null;
  const st = fields;
  if (minor === 1 && st.hostCount === 0) throw new HttpParseError('ERR_HTTP_BAD_HOST', 'HTTP/1.1 request without Host', headEnd - 2);
  return {
    method,
    target: latin1(buf, targetStart, targetEnd),
    versionMinor: minor === 1 ? 1 : 0,
    headers,
    headBytes: headEnd - start,
    contentLength: st.contentLength,
    chunked: st.lastIsChunked,
    connectionClose: st.connectionClose || (minor === 0 && !st.connectionKeepAlive),
    connectionTokens: st.connectionTokens ?? NO_TOKENS,
    upgrade: minor === 1 && st.connectionUpgrade ? st.upgrade : undefined,
    expectContinue: minor === 1 && st.expectContinue,
    host: st.host,
  };
}
