/**
 * Which received header fields a proxy must not forward (RFC 9110 7.6.1).
 *
 * Dropped, always:
 * - `connection`, `keep-alive`, `proxy-connection`: connection management of the hop they came on.
 * - `te`, `trailer`: what the sender accepts or announces for this hop's transfer.
 * - `upgrade`: a protocol switch is negotiated per hop; the proxy re-adds it for a tunnel it accepts.
 * - `proxy` and every `proxy-*` name (`proxy-authorization`, `proxy-authenticate`,
 *   `proxy-connection`, ...): credentials and state meant for this proxy; `Proxy` is also the
 *   httpoxy vector (CGI maps it to HTTP_PROXY).
 * - every name listed in a Connection header of the same message,
 *   EXCEPT `content-length`, `transfer-encoding` and `host`, which no Connection option can
 *   remove: dropping the framing fields would let a client turn its body into a second request
 *   ("Connection: content-length" smuggling), and dropping Host would change the routing.
 *
 * Not dropped: `transfer-encoding` and `content-length`. The proxy relays bodies byte for byte,
 * so the received framing stays true; a caller that re-frames a body (or normalises framing)
 * asks `buildRequestHead`/`buildResponseHead` to drop them and adds its own.
 */
import { eqIgnoreCase, startsWithIgnoreCase } from './char-tables.js';

/** Names a Connection option may never remove (see the module comment). */
function isProtected(name: string): boolean {
  switch (name.length) {
    case 4: return eqIgnoreCase(name, 'host');
    case 14: return eqIgnoreCase(name, 'content-length');
    case 17: return eqIgnoreCase(name, 'transfer-encoding');
    default: return false;
  }
}

function isFixedHopByHop(name: string): boolean {
  switch (name.length) {
    case 2: return eqIgnoreCase(name, 'te');
    case 5: return eqIgnoreCase(name, 'proxy');
    case 7: return eqIgnoreCase(name, 'trailer') || eqIgnoreCase(name, 'upgrade');
    case 10: return eqIgnoreCase(name, 'connection') || eqIgnoreCase(name, 'keep-alive');
    default:
      return startsWithIgnoreCase(name, 'proxy-');
  }
}

/**
 * Is this field hop-by-hop, given the message's lowercased Connection options?
 * `name` may be in any letter case (the lowercase form is the documented input; others work).
 *
 * @example
 *   isHopByHop('keep-alive', [])                  // true
 *   isHopByHop('x-trace', ['x-trace'])            // true: named in Connection
 *   isHopByHop('content-length', ['content-length']) // false: protected
 */
export function isHopByHop(name: string, connectionTokens: readonly string[]): boolean {
  if (isFixedHopByHop(name)) return true;
  if (connectionTokens.length === 0 || isProtected(name)) return false;
  for (let i = 0; i < connectionTokens.length; i++) {
    if (eqIgnoreCase(name, connectionTokens[i]!)) return true;
  }
  return false;
}

/**
 * Is this one of the framing fields (`content-length`, `transfer-encoding`), any case?
 *
 * @example isFramingField('Content-Length') // true
 */
export function isFramingField(name: string): boolean {
  return (name.length === 14 && eqIgnoreCase(name, 'content-length')) || (name.length === 17 && eqIgnoreCase(name, 'transfer-encoding'));
}
