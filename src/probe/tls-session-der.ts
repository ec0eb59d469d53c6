/**
 * Two fields of a serialized OpenSSL session (what Node's 'session' event and `getSession()`
 * give: DER of OpenSSL's SSL_SESSION_ASN1 sequence): the ticket lifetime hint (`[9]`, seconds,
 * from the server's NewSessionTicket) and whether the session holds a ticket (`[10]`).
 *
 * Why by hand: Node exposes neither, and the DER walk is a dozen lines: top-level
 * tag-length-value items inside one SEQUENCE, nothing nested needs decoding.
 */

export interface SessionFields {
  /** The server's ticket lifetime hint, s; undefined when the session has none. */
  ticketLifetimeHintSec: number | undefined;
  /** The session carries a ticket (resumption by ticket, or TLS 1.3 PSK). */
  hasTicket: boolean;
}

/** Read [offset] as a DER length; returns [length, offset after it], or undefined if malformed. */
function readLength(der: Buffer, offset: number): [number, number] | undefined {
  const first = der[offset];
  if (first === undefined) return undefined;
  if (first < 0x80) return [first, offset + 1];
  const n = first & 0x7f;
  if (n === 0 || n > 4 || offset + 1 + n > der.length) return undefined;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + der[offset + 1 + i]!;
  return [len, offset + 1 + n];
}

/** Parse the two fields; a buffer that is not such a session gives `{ undefined, false }`. */
export function sessionFields(der: Buffer): SessionFields {
  const none: SessionFields = { ticketLifetimeHintSec: undefined, hasTicket: false };
  if (der[0] !== 0x30) return none;
  const outer = readLength(der, 1);
  if (outer === undefined) return none;
  const end = Math.min(der.length, outer[1] + outer[0]);
  let pos = outer[1];
  let hint: number | undefined;
  let hasTicket = false;
  while (pos < end) {
    const tag = der[pos]!;
    const len = readLength(der, pos + 1);
    if (len === undefined) return none;
    const [length, valueAt] = len;
    if (tag === 0xa9) {
      // [9] EXPLICIT INTEGER
      const inner = readLength(der, valueAt + 1);
      if (der[valueAt] === 0x02 && inner !== undefined && inner[0] <= 6) {
        let v = 0;
        for (let i = 0; i < inner[0]; i++) v = v * 256 + der[inner[1] + i]!;
        hint = v;
      }
    } else if (tag === 0xaa) {
      hasTicket = length > 2;
    }
    pos = valueAt + length;
  }
  return { ticketLifetimeHintSec: hint, hasTicket };
}
