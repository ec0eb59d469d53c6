/**
 * `hashOn`: what a consistent-hash balancer hashes for a request. Written as
 *   - `header:NAME`     the first value of the request header NAME (case-insensitive name);
 *   - `cookie:NAME`     the value of cookie NAME in the `Cookie` header(s);
 *   - `client-address`  the client's IP address (the TCP peer's, as the proxy sees it).
 *
 * A request without the header or cookie has no key (undefined): the balancer then spreads it
 * by weight rather than hashing an empty string onto one endpoint (see consistent-hash.ts).
 * Extraction reads the head's flat `[name, value, ...]` array directly, without building a map.
 */
import { InvalidOptionError } from '../../core/errors.js';

export type HashOn = { kind: 'header'; name: string } | { kind: 'cookie'; name: string } | { kind: 'client-address' };

/** What `hashOn` may read from a request: a head's flat headers array (see RequestHead). */
export interface HashableHead {
  readonly headers: readonly string[];
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The problem with a `hashOn` text, or undefined when it is valid (for config checks). */
export function hashOnProblem(text: unknown): string | undefined {
  if (typeof text !== 'string') return 'not a string';
  if (text === 'client-address') return undefined;
  const colon = text.indexOf(':');
  const kind = colon < 0 ? text : text.slice(0, colon);
  if (kind !== 'header' && kind !== 'cookie') return `"${kind}" is not one of header:NAME, cookie:NAME, client-address`;
  const name = colon < 0 ? '' : text.slice(colon + 1);
  if (name === '') return `no name after "${kind}:"`;
  if (!TOKEN.test(name)) return `"${name}" is not a valid ${kind} name (letters, digits and !#$%&'*+.^_\`|~-)`;
  return undefined;
}

/**
 * Parse a `hashOn` text.
 * @example parseHashOn('header:X-User-Id') // { kind: 'header', name: 'x-user-id' }
 */
export function parseHashOn(text: string): HashOn {
  const why = hashOnProblem(text);
  if (why !== undefined) throw new InvalidOptionError('hashOn', `hashOn must be "header:NAME", "cookie:NAME" or "client-address"; got ${JSON.stringify(text)}: ${why}`);
  if (text === 'client-address') return { kind: 'client-address' };
  const colon = text.indexOf(':');
  const kind = text.slice(0, colon) as 'header' | 'cookie';
  // Header names compare case-insensitively; cookie names are case-sensitive (RFC 6265).
  const name = text.slice(colon + 1);
  return kind === 'header' ? { kind, name: name.toLowerCase() } : { kind, name };
}

/** The value of cookie `name` in one Cookie header value, or undefined. */
function cookieIn(value: string, name: string): string | undefined {
  let start = 0;
  while (start < value.length) {
    let end = value.indexOf(';', start);
    if (end < 0) end = value.length;
    const eq = value.indexOf('=', start);
    if (eq > start && eq < end && value.slice(start, eq).trim() === name) {
      let v = value.slice(eq + 1, end).trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      return v;
    }
    start = end + 1;
  }
  return undefined;
}

/**
 * The request's hash key under `spec`, or undefined when the request has none.
 * @example hashKey({ kind: 'cookie', name: 'sid' }, head, socket.remoteAddress ?? '')
 */
export function hashKey(spec: HashOn, head: HashableHead, clientAddress: string): string | undefined {
  if (spec.kind === 'client-address') return clientAddress === '' ? undefined : clientAddress;
  const h = head.headers;
  const wanted = spec.kind === 'header' ? spec.name : 'cookie';
  for (let i = 0; i + 1 < h.length; i += 2) {
    const name = h[i] as string;
    if (name.length !== wanted.length || name.toLowerCase() !== wanted) continue;
    const value = h[i + 1] as string;
    if (spec.kind === 'header') return value;
    const found = cookieIn(value, spec.name);
    if (found !== undefined) return found;
  }
  return undefined;
}
