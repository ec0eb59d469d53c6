/**
 * The field-line scanner shared by request and response heads.
 *
 * Why one pass: each byte of a field line is looked at once, to check its class and find the
 * colon and the line end; trailing OWS is trimmed by stepping back; names and values come from a
 * small byte-verified string cache or one latin1 slice each; framing fields are recognised and
 * read from the bytes (framing-fields.ts), never by lowercasing strings.
 *
 * Invariants:
 * - Errors are found at the first byte that makes the head invalid, so a prefix of a head either
 *   throws the same error as the whole head or is incomplete: incremental feeding cannot change
 *   the outcome.
 * - Framing values are read by framing-fields.ts into its scratch `fields` state.
 */
import { COLON, CR, FIELD_VALUE, HTAB, LF, SP, TOKEN, latin1 } from './char-tables.js';
import { K_OTHER, classify, framingField } from './framing-fields.js';
import { HttpParseError } from './http-parse-error.js';

/**
 * Direct-mapped caches of recently decoded names and short values. Heads repeat the same names
 * and many of the same values ("keep-alive", "gzip, deflate, br", a host), and a cache hit (hash
 * from the length and a few bytes, then a byte compare) is cheaper than decoding a new string and
 * collecting it later. A collision only costs a miss: the bytes are always compared. Bounded:
 * 256 names and 1024 values of at most MAX_CACHED bytes.
 */
const MAX_CACHED = 64;

/** One direct-mapped cache: for each slot, the string and a copy of its bytes to compare against. */
class StringCache {
  readonly strings: string[];
  readonly lengths: Int32Array;
  readonly bytes: Uint8Array;
  readonly mask: number;

  constructor(slots: number) {
    this.strings = new Array<string>(slots).fill('');
    this.lengths = new Int32Array(slots);
    this.bytes = new Uint8Array(slots * MAX_CACHED);
    this.mask = slots - 1;
  }
}

const NAME_CACHE = new StringCache(256);
const VALUE_CACHE = new StringCache(1024);

/** buf[a, b) as a string, from `cache` when the same bytes were decoded recently. b - a <= MAX_CACHED. */
function cached(cache: StringCache, buf: Buffer, a: number, b: number): string {
  const len = b - a;
  if (len === 0) return '';
  // The slot comes from the length and four sampled bytes: enough to spread real names and
  // values, and no per-byte work in the scan loops.
  const h = Math.imul(len, 0x9e3779b1) ^ (buf[a]! << 3) ^ (buf[b - 1]! << 7) ^ (buf[a + (len >> 1)]! << 11) ^ (buf[a + (len >> 2)]! << 1);
  const slot = (h ^ (h >>> 13)) & cache.mask;
  const bytes = cache.bytes;
  const base = slot * MAX_CACHED;
  if (cache.lengths[slot] === len) {
    let i = 0;
    while (i < len && bytes[base + i] === buf[a + i]) i++;
    if (i === len) return cache.strings[slot]!;
  }
  const s = latin1(buf, a, b);
  for (let i = 0; i < len; i++) bytes[base + i] = buf[a + i]!;
  cache.lengths[slot] = len;
  cache.strings[slot] = s;
  return s;
}

/**
 * The buffered bytes ran out before the head ended: incomplete (-1), unless `maxHeaderBytes`
 * bytes are already buffered, in which case the head can only be too large.
 */
export function exhausted(start: number, lim: number, maxHeaderBytes: number): -1 {
  if (lim - start >= maxHeaderBytes) {
    throw new HttpParseError('ERR_HTTP_HEADERS_TOO_LARGE', `head is larger than ${maxHeaderBytes} bytes`, lim);
  }
  return -1;
}

/**
 * Scan field lines from `pos` up to the empty line that ends the head.
 * Returns the index just past the final CRLF, or -1 when the head is incomplete within `lim`
 * (`lim` is the buffered end, capped at start + maxHeaderBytes). Pushes name, value pairs onto
 * `headers` and fills `fields`.
 */
export function scanFields(
  buf: Buffer, pos: number, start: number, lim: number, maxHeaderBytes: number, maxHeaders: number,
  isRequest: boolean, versionMinor: number, headers: string[],
): number {
  let count = 0;
  for (;;) {
    if (pos >= lim) return exhausted(start, lim, maxHeaderBytes);
    let c = buf[pos]!;
    if (c === CR) {
      if (pos + 1 >= lim) return exhausted(start, lim, maxHeaderBytes);
      if (buf[pos + 1] !== LF) throw new HttpParseError('ERR_HTTP_BARE_CR', 'CR not followed by LF', pos);
      return pos + 2;
    }
    if (c === LF) throw new HttpParseError('ERR_HTTP_BARE_LF', 'line ends in LF without CR', pos);
    if (c === SP || c === HTAB) {
      throw new HttpParseError('ERR_HTTP_OBS_FOLD', 'field line starts with whitespace (obsolete line folding)', pos);
    }
    const nameStart = pos;
    while (pos < lim && TOKEN[buf[pos]!] === 1) pos++;
    if (pos >= lim) return exhausted(start, lim, maxHeaderBytes);
    const nameEnd = pos;
    c = buf[pos]!;
    if (c !== COLON) {
      if (c === SP || c === HTAB) throw new HttpParseError('ERR_HTTP_BAD_HEADER', 'whitespace between field name and colon', pos);
      if (c === LF) throw new HttpParseError('ERR_HTTP_BARE_LF', 'line ends in LF without CR', pos);
      if (c === CR) throw new HttpParseError('ERR_HTTP_BAD_HEADER', 'field line without a colon', pos);
      throw new HttpParseError('ERR_HTTP_BAD_HEADER', `byte 0x${c.toString(16)} in a field name`, pos);
    }
    if (pos === nameStart) throw new HttpParseError('ERR_HTTP_BAD_HEADER', 'empty field name', pos);
    pos++;
    while (pos < lim && (buf[pos] === SP || buf[pos] === HTAB)) pos++;
    const valueStart = pos;
    while (pos < lim) {
      c = buf[pos]!;
      if (FIELD_VALUE[c] !== 1) break;
      pos++;
    }
    if (pos >= lim) return exhausted(start, lim, maxHeaderBytes);
    if (c === CR) {
      if (pos + 1 >= lim) return exhausted(start, lim, maxHeaderBytes);
      if (buf[pos + 1] !== LF) throw new HttpParseError('ERR_HTTP_BARE_CR', 'CR not followed by LF', pos);
    } else if (c === LF) {
      throw new HttpParseError('ERR_HTTP_BARE_LF', 'line ends in LF without CR', pos);
    } else {
      throw new HttpParseError('ERR_HTTP_BAD_HEADER', `control byte 0x${c.toString(16)} in a field value`, pos);
    }
    let valueEnd = pos;
    while (valueEnd > valueStart && (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HTAB)) valueEnd--;
    if (++count > maxHeaders) {
      throw new HttpParseError('ERR_HTTP_TOO_MANY_HEADERS', `more than ${maxHeaders} field lines`, nameStart);
    }
    const value = valueEnd - valueStart <= MAX_CACHED ? cached(VALUE_CACHE, buf, valueStart, valueEnd) : latin1(buf, valueStart, valueEnd);
    const name = nameEnd - nameStart <= MAX_CACHED ? cached(NAME_CACHE, buf, nameStart, nameEnd) : latin1(buf, nameStart, nameEnd);
    headers.push(name, value);
    const kind = classify(buf, nameStart, nameEnd - nameStart);
    if (kind !== K_OTHER) framingField(buf, kind, valueStart, valueEnd, value, isRequest, versionMinor);
    pos += 2;
  }
}

