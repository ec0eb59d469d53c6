/**
 * Byte classes and small byte helpers shared by the wire parsers.
 *
 * Why tables: one indexed load per byte is the cheapest class test V8 can run, and it keeps the
 * parsers free of regular expressions. Invariants: every table has 256 entries, 1 = member.
 * Classes follow RFC 9110 5.6.2 (token), 5.5 (field-vchar, obs-text) and RFC 9112 3.2 (target).
 */

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;
export const COMMA = 0x2c;
export const SEMI = 0x3b;
export const EQUALS = 0x3d;
export const DQUOTE = 0x22;
export const BACKSLASH = 0x5c;

function table(test: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = test(c) ? 1 : 0;
  return t;
}

const TCHAR_PUNCT = "!#$%&'*+-.^_`|~";

/** tchar: ALPHA / DIGIT / "!#$%&'*+-.^_`|~". */
export const TOKEN = table(
  (c) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || TCHAR_PUNCT.includes(String.fromCharCode(c)),
);

/** Bytes allowed inside a field value: VCHAR / obs-text / SP / HTAB (no CTL, no DEL). */
export const FIELD_VALUE = table((c) => c === SP || c === HTAB || (c >= 0x21 && c <= 0x7e) || c >= 0x80);

/**
 * Bytes allowed in a request-target: VCHAR and obs-text (raw high bytes, which browsers do not
 * send but some clients do; they pass through unchanged). No SP, HTAB or other CTL, no DEL.
 */
export const TARGET = table((c) => (c >= 0x21 && c <= 0x7e) || c >= 0x80);

/** qdtext in a quoted-string: HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text. */
export const QDTEXT = table((c) => c === HTAB || c === SP || c === 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80);

/** Second byte of a quoted-pair: HTAB / SP / VCHAR / obs-text. */
export const QUOTED_PAIR = table((c) => c === HTAB || c === SP || (c >= 0x21 && c <= 0x7e) || c >= 0x80);

/**
 * Bytes of a Host value: RFC 3986 reg-name, IP-literal and port characters
 * (unreserved / pct-encoded / sub-delims / ":" / "[" / "]"). No "/", "@", "?", "#", "\" or space.
 */
export const HOST = table(
  (c) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || "-._~!$&'()*+,;=%:[]".includes(String.fromCharCode(c)),
);

/** Hex digit value, or -1. */
export const HEX = (() => {
  const t = new Int8Array(256).fill(-1);
  for (let c = 0; c < 10; c++) t[0x30 + c] = c;
  for (let c = 0; c < 6; c++) {
    t[0x41 + c] = 10 + c;
    t[0x61 + c] = 10 + c;
  }
  return t;
})();

/** Node's undocumented but stable fast path for `buf.toString('latin1', start, end)`. */
type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

/** Decode bytes as latin1: one byte, one UTF-16 code unit, so the bytes survive a round trip. */
export function latin1(buf: Buffer, start: number, end: number): string {
  return (buf as Latin1Buffer).latin1Slice(start, end);
}

/** Lowercase ASCII bytes of a literal, for `eqLower`. */
export function lit(text: string): Uint8Array {
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
}

/**
 * Do buf[start, start + lower.length) equal `lower` ignoring ASCII case? `lower` holds only
 * lowercase letters and "-" (for which `| 0x20` is an exact case fold: the only other byte that
 * folds onto "-" is CR, which never reaches this test). The caller checks the length.
 */
export function eqLower(buf: Buffer, start: number, lower: Uint8Array): boolean {
  for (let i = 0; i < lower.length; i++) {
    if ((buf[start + i]! | 0x20) !== lower[i]) return false;
  }
  return true;
}

/** ASCII lowercase of one UTF-16 code unit. */
export function lowerCode(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
}

/** Is `name` (any case) equal to `lower` (already lowercase)? No allocation. */
export function eqIgnoreCase(name: string, lower: string): boolean {
  if (name.length !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    if (lowerCode(name.charCodeAt(i)) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Does `name` (any case) start with `lowerPrefix` (already lowercase)? No allocation. */
export function startsWithIgnoreCase(name: string, lowerPrefix: string): boolean {
  if (name.length < lowerPrefix.length) return false;
  for (let i = 0; i < lowerPrefix.length; i++) {
    if (lowerCode(name.charCodeAt(i)) !== lowerPrefix.charCodeAt(i)) return false;
  }
  return true;
}
