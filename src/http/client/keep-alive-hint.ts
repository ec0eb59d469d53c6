/**
 * Parse a server's `Keep-Alive: timeout=N, max=M` response header.
 *
 * Why: the hint is the only way a server tells a client when it will close an idle connection,
 * and clients that ignore it (Node's agent without its own `timeout`) race the server's close.
 * Invariants: parameters may come in any order and with any letter case; `timeout` is whole
 * seconds and `max` a count (RFC 2068 section 19.7.1.1 syntax, `"quoted"` values allowed).
 * A parameter whose value is not a non-negative integer is ignored and makes the header count as
 * malformed; unknown parameters are ignored silently (extensions are allowed). When a parameter
 * repeats, the smallest value wins: the safe reading of a confused server.
 */

/** What a `Keep-Alive` header said. Absent fields were not given (or were malformed). */
export interface KeepAliveHint {
  /** `timeout=N`: the server closes an idle connection after N seconds. */
  timeoutSeconds?: number;
  /** `max=M`: the server accepts M more requests on this connection. */
  max?: number;
  /** True when some part of the header could not be read; that part is ignored. */
  malformed: boolean;
}

const INTEGER = /^\d{1,9}$/;

function readValue(raw: string): number | undefined {
  const text = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
  return INTEGER.test(text) ? Number(text) : undefined;
}

/**
 * Parse a `Keep-Alive` header value (or the array Node gives for a repeated header).
 *
 * @example
 *   parseKeepAliveHint('max=100, timeout=5') // { timeoutSeconds: 5, max: 100, malformed: false }
 *   parseKeepAliveHint('timeout=abc')        // { malformed: true }
 */
export function parseKeepAliveHint(header: string | readonly string[] | undefined): KeepAliveHint | undefined {
  if (header === undefined) return undefined;
  const text = typeof header === 'string' ? header : header.join(',');
  const hint: KeepAliveHint = { malformed: false };
  for (const part of text.split(',')) {
    const token = part.trim();
    if (token === '') continue;
    const eq = token.indexOf('=');
    const name = (eq === -1 ? token : token.slice(0, eq)).trim().toLowerCase();
    if (name !== 'timeout' && name !== 'max') continue;
    const value = eq === -1 ? undefined : readValue(token.slice(eq + 1).trim());
    if (value === undefined) {
      hint.malformed = true;
    } else if (name === 'timeout') {
      hint.timeoutSeconds = Math.min(hint.timeoutSeconds ?? value, value);
    } else {
      hint.max = Math.min(hint.max ?? value, value);
    }
  }
  return hint;
}
