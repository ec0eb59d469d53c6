/**
 * Framing fields: recognising Content-Length, Transfer-Encoding, Connection, Host, Upgrade, Expect
 * and Keep-Alive by their bytes, reading their values, and the state that collects the result.
 *
 * Why from bytes: the names are matched by length and a case-folded compare, and the values are
 * parsed where they lie, so no lowercased copy of any string is made for framing decisions.
 *
 * Invariants: `fields` is module scratch state: parsing is synchronous and never re-entered, so
 * one instance, reset by each parse, saves an allocation per message. Nothing in it outlives a
 * call except the arrays and strings handed to the caller. Every check throws at the field that
 * breaks a rule, so the outcome never depends on how the head was split into reads.
 */
import { COMMA, DQUOTE, EQUALS, HOST, HTAB, SEMI, SP, TOKEN, eqLower, latin1, lit } from './char-tables.js';
import { HttpParseError } from './http-parse-error.js';

export const K_OTHER = 0;
const K_CONTENT_LENGTH = 1;
const K_TRANSFER_ENCODING = 2;
const K_CONNECTION = 3;
const K_HOST = 4;
const K_UPGRADE = 5;
const K_EXPECT = 6;
const K_KEEP_ALIVE = 7;

const L_CONTENT_LENGTH = lit('content-length');
const L_TRANSFER_ENCODING = lit('transfer-encoding');
const L_CONNECTION = lit('connection');
const L_KEEP_ALIVE = lit('keep-alive');
const L_HOST = lit('host');
const L_UPGRADE = lit('upgrade');
const L_EXPECT = lit('expect');
const L_CHUNKED = lit('chunked');
const L_CLOSE = lit('close');
const L_100_CONTINUE = lit('100-continue');
const L_TIMEOUT = lit('timeout');
const L_MAX = lit('max');

/** Framing facts gathered while scanning one head. */
export class FieldState {
  contentLength = -1;
  hasContentLength = false;
  hasTransferEncoding = false;
  /** Times `chunked` appeared among the transfer codings, and whether it was the last one. */
  chunkedCount = 0;
  lastIsChunked = false;
  connectionTokens: string[] | null = null;
  connectionClose = false;
  connectionKeepAlive = false;
  connectionUpgrade = false;
  hostCount = 0;
  host: string | undefined = undefined;
  upgrade: string | undefined = undefined;
  expectContinue = false;
  keepAliveSeen = false;
  keepAliveTimeout = -1;
  keepAliveMax = -1;
  keepAliveMalformed = false;

  reset(): void {
    this.contentLength = -1;
    this.hasContentLength = false;
    this.hasTransferEncoding = false;
    this.chunkedCount = 0;
    this.lastIsChunked = false;
    this.connectionTokens = null;
    this.connectionClose = false;
    this.connectionKeepAlive = false;
    this.connectionUpgrade = false;
    this.hostCount = 0;
    this.host = undefined;
    this.upgrade = undefined;
    this.expectContinue = false;
    this.keepAliveSeen = false;
    this.keepAliveTimeout = -1;
    this.keepAliveMax = -1;
    this.keepAliveMalformed = false;
  }
}

/** Scratch state of the parse in progress (see the module comment). */
export const fields = new FieldState();

/** A shared empty list for messages without a Connection header. Never mutated. */
export const NO_TOKENS: readonly string[] = Object.freeze([]);

/** Which framing field a name is (K_OTHER for the rest): length first, then a case-folded compare. */
export function classify(buf: Buffer, a: number, len: number): number {
  const first = buf[a]! | 0x20;
  switch (len) {
    case 4: return first === 0x68 && eqLower(buf, a, L_HOST) ? K_HOST : K_OTHER;
    case 6: return first === 0x65 && eqLower(buf, a, L_EXPECT) ? K_EXPECT : K_OTHER;
    case 7: return first === 0x75 && eqLower(buf, a, L_UPGRADE) ? K_UPGRADE : K_OTHER;
    case 10:
      if (first === 0x63) return eqLower(buf, a, L_CONNECTION) ? K_CONNECTION : K_OTHER;
      return first === 0x6b && eqLower(buf, a, L_KEEP_ALIVE) ? K_KEEP_ALIVE : K_OTHER;
    case 14:
      if (first !== 0x63) return K_OTHER;
      if (eqLower(buf, a, L_CONTENT_LENGTH)) return K_CONTENT_LENGTH;
      return framingLookalike(buf, a, L_CONTENT_LENGTH);
    case 17:
      if (first !== 0x74) return K_OTHER;
      if (eqLower(buf, a, L_TRANSFER_ENCODING)) return K_TRANSFER_ENCODING;
      return framingLookalike(buf, a, L_TRANSFER_ENCODING);
    default: return K_OTHER;
  }
}

/**
 * `Content_Length` / `Transfer_Encoding`: CGI-style servers (PHP, WSGI behind some gateways) map
 * "_" and "-" to the same variable, so such a field would frame the body for the backend while
 * this parser ignores it. Refused, as nginx drops underscored names by default.
 */
function framingLookalike(buf: Buffer, a: number, lower: Uint8Array): number {
  let underscore = false;
  for (let i = 0; i < lower.length; i++) {
    const c = buf[a + i]!;
    if (c === 0x5f && lower[i] === 0x2d) underscore = true;
    else if ((c | 0x20) !== lower[i]) return K_OTHER;
  }
  if (underscore) throw new HttpParseError('ERR_HTTP_BAD_HEADER', `field name ${JSON.stringify(latin1(buf, a, a + lower.length))} mimics a framing field`, a);
  return K_OTHER;
}

/** Apply one framing field's value to `fields`, throwing at the first rule it breaks. */
export function framingField(
  buf: Buffer, kind: number, a: number, b: number, value: string, isRequest: boolean, versionMinor: number,
): void {
  const st = fields;
  switch (kind) {
    case K_CONTENT_LENGTH:
      if (st.hasTransferEncoding) throw new HttpParseError('ERR_HTTP_CL_TE', 'both Transfer-Encoding and Content-Length', a);
      if (st.hasContentLength) throw new HttpParseError('ERR_HTTP_BAD_CONTENT_LENGTH', 'Content-Length given more than once', a);
      st.hasContentLength = true;
      st.contentLength = contentLength(buf, a, b);
      return;
    case K_TRANSFER_ENCODING:
      if (st.hasContentLength) throw new HttpParseError('ERR_HTTP_CL_TE', 'both Content-Length and Transfer-Encoding', a);
      if (versionMinor === 0) throw new HttpParseError('ERR_HTTP_BAD_TRANSFER_ENCODING', 'Transfer-Encoding in an HTTP/1.0 message', a);
      if (isRequest) {
        if (st.hasTransferEncoding) throw new HttpParseError('ERR_HTTP_BAD_TRANSFER_ENCODING', 'Transfer-Encoding given more than once', a);
        if (b - a !== 7 || !eqLower(buf, a, L_CHUNKED)) {
          throw new HttpParseError('ERR_HTTP_BAD_TRANSFER_ENCODING', `request Transfer-Encoding must be exactly "chunked"; got ${JSON.stringify(value)}`, a);
        }
        st.chunkedCount = 1;
        st.lastIsChunked = true;
      } else {
        transferCodings(buf, a, b);
      }
      st.hasTransferEncoding = true;
      return;
    case K_CONNECTION:
      connectionTokens(buf, a, b);
      return;
    case K_HOST:
      if (!isRequest) return;
      if (++st.hostCount > 1) throw new HttpParseError('ERR_HTTP_BAD_HOST', 'Host given more than once', a);
      for (let i = a; i < b; i++) {
        if (HOST[buf[i]!] !== 1) throw new HttpParseError('ERR_HTTP_BAD_HOST', `byte 0x${buf[i]!.toString(16)} in Host`, i);
      }
      st.host = value;
      return;
    case K_UPGRADE:
      st.upgrade = st.upgrade === undefined ? value : `${st.upgrade}, ${value}`;
      return;
    case K_EXPECT:
      if (isRequest && b - a === 12 && eqLower(buf, a, L_100_CONTINUE)) st.expectContinue = true;
      return;
    case K_KEEP_ALIVE:
      if (!isRequest) keepAliveParams(buf, a, b);
      return;
  }
}

/** 1*DIGIT, at most 2^53-1. No sign, no spaces, no hex, no exponent, no list. */
function contentLength(buf: Buffer, a: number, b: number): number {
  if (b === a) throw new HttpParseError('ERR_HTTP_BAD_CONTENT_LENGTH', 'empty Content-Length', a);
  if (b - a > 16) throw new HttpParseError('ERR_HTTP_BAD_CONTENT_LENGTH', 'Content-Length larger than 2^53-1', a);
  let n = 0;
  for (let i = a; i < b; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) {
      throw new HttpParseError('ERR_HTTP_BAD_CONTENT_LENGTH', `Content-Length is not a decimal number: ${JSON.stringify(latin1(buf, a, b))}`, i);
    }
    n = n * 10 + d;
  }
  if (n > Number.MAX_SAFE_INTEGER) throw new HttpParseError('ERR_HTTP_BAD_CONTENT_LENGTH', 'Content-Length larger than 2^53-1', a);
  return n;
}

function skipOws(buf: Buffer, i: number, b: number): number {
  while (i < b && (buf[i] === SP || buf[i] === HTAB)) i++;
  return i;
}

/** Response Transfer-Encoding: a comma list of codings without parameters. */
function transferCodings(buf: Buffer, a: number, b: number): void {
  const st = fields;
  let i = a;
  let any = false;
  while (i < b) {
    const c = buf[i]!;
    if (c === COMMA || c === SP || c === HTAB) {
      i++;
      continue;
    }
    const t = i;
    while (i < b && TOKEN[buf[i]!] === 1) i++;
    if (i === t) throw new HttpParseError('ERR_HTTP_BAD_TRANSFER_ENCODING', 'invalid transfer coding', i);
    const chunked = i - t === 7 && eqLower(buf, t, L_CHUNKED);
    if (chunked) st.chunkedCount++;
    st.lastIsChunked = chunked;
    any = true;
    i = skipOws(buf, i, b);
    if (i < b && buf[i] !== COMMA) {
      const what = buf[i] === SEMI ? 'transfer coding with parameters' : 'invalid transfer coding list';
      throw new HttpParseError('ERR_HTTP_BAD_TRANSFER_ENCODING', what, i);
    }
  }
  if (!any) throw new HttpParseError('ERR_HTTP_BAD_TRANSFER_ENCODING', 'empty Transfer-Encoding', a);
  if (st.chunkedCount > 1) throw new HttpParseError('ERR_HTTP_BAD_TRANSFER_ENCODING', 'chunked applied more than once', a);
}

function connectionTokens(buf: Buffer, a: number, b: number): void {
  const st = fields;
  let i = a;
  while (i < b) {
    const c = buf[i]!;
    if (c === COMMA || c === SP || c === HTAB) {
      i++;
      continue;
    }
    const t = i;
    while (i < b && TOKEN[buf[i]!] === 1) i++;
    if (i === t) throw new HttpParseError('ERR_HTTP_BAD_HEADER', 'invalid Connection option', i);
    const len = i - t;
    let token: string;
    if (len === 5 && eqLower(buf, t, L_CLOSE)) {
      token = 'close';
      st.connectionClose = true;
    } else if (len === 10 && eqLower(buf, t, L_KEEP_ALIVE)) {
      token = 'keep-alive';
      st.connectionKeepAlive = true;
    } else if (len === 7 && eqLower(buf, t, L_UPGRADE)) {
      token = 'upgrade';
      st.connectionUpgrade = true;
    } else {
      token = latin1(buf, t, i).toLowerCase();
    }
    if (st.connectionTokens === null) st.connectionTokens = [token];
    else st.connectionTokens.push(token);
    i = skipOws(buf, i, b);
    if (i < b && buf[i] !== COMMA) throw new HttpParseError('ERR_HTTP_BAD_HEADER', 'invalid Connection option list', i);
  }
}

/** 1 to 9 digits (optionally quoted) as a number, else -1. */
function smallInteger(buf: Buffer, a: number, b: number): number {
  if (b - a >= 2 && buf[a] === DQUOTE && buf[b - 1] === DQUOTE) {
    a++;
    b--;
  }
  if (b <= a || b - a > 9) return -1;
  let n = 0;
  for (let i = a; i < b; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/**
 * `Keep-Alive: timeout=N, max=M` (RFC 2068 19.7.1.1): any order and case, quoted values allowed,
 * unknown parameters ignored; a timeout/max whose value is not 1-9 digits, or a broken list,
 * sets `keepAliveMalformed` and that part is ignored. A repeated parameter keeps the smallest.
 */
function keepAliveParams(buf: Buffer, a: number, b: number): void {
  const st = fields;
  st.keepAliveSeen = true;
  let i = a;
  while (i < b) {
    const c = buf[i]!;
    if (c === COMMA || c === SP || c === HTAB) {
      i++;
      continue;
    }
    const nameStart = i;
    while (i < b && TOKEN[buf[i]!] === 1) i++;
    const nameEnd = i;
    i = skipOws(buf, i, b);
    let valueStart = -1;
    let valueEnd = -1;
    let broken = nameEnd === nameStart;
    if (!broken && i < b && buf[i] === EQUALS) {
      i = skipOws(buf, i + 1, b);
      valueStart = i;
      if (i < b && buf[i] === DQUOTE) {
        i++;
        while (i < b && buf[i] !== DQUOTE) i++;
        if (i < b) i++;
        else broken = true;
      } else {
        while (i < b && TOKEN[buf[i]!] === 1) i++;
      }
      valueEnd = i;
      i = skipOws(buf, i, b);
    }
    if (broken || (i < b && buf[i] !== COMMA)) {
      st.keepAliveMalformed = true;
      while (i < b && buf[i] !== COMMA) i++;
      continue;
    }
    const len = nameEnd - nameStart;
    const isTimeout = len === 7 && eqLower(buf, nameStart, L_TIMEOUT);
    if (!isTimeout && !(len === 3 && eqLower(buf, nameStart, L_MAX))) continue;
    const n = valueStart < 0 ? -1 : smallInteger(buf, valueStart, valueEnd);
    if (n < 0) st.keepAliveMalformed = true;
    else if (isTimeout) st.keepAliveTimeout = st.keepAliveTimeout < 0 ? n : Math.min(st.keepAliveTimeout, n);
    else st.keepAliveMax = st.keepAliveMax < 0 ? n : Math.min(st.keepAliveMax, n);
  }
}
