/**
 * Serialise a head to forward: always HTTP/1.1, received fields in order minus hop-by-hop ones,
 * then the caller's own fields.
 *
 * Why strings: the result is written once with `socket.write(head, 'latin1')` (or copied into a
 * pooled buffer together with the first body bytes); V8 builds the concatenation as a rope and
 * flattens it once. latin1 keeps every received byte as it was, obs-text included.
 *
 * Invariants: nothing in `extra` is filtered or checked; the caller builds it from validated
 * values (X-Forwarded-*, Via, its own Connection/Upgrade/framing fields). Received fields are
 * valid because the parser accepted them.
 */
import { eqIgnoreCase } from './char-tables.js';
import { isFramingField, isHopByHop } from './hop-by-hop.js';

/** Options of buildRequestHead and buildResponseHead. */
export interface BuildHeadOptions {
  /** Also drop Content-Length and Transfer-Encoding (the caller puts its own framing in `extra`). */
  dropFraming?: boolean;
  /** Also drop these lowercase names (e.g. a client's own `x-forwarded-for` when replacing it). */
  alsoDrop?: readonly string[];
  /** Write `HTTP/1.0` instead of `HTTP/1.1` (a proxy forwarding for an HTTP/1.0 client, so the
   * response comes back in a framing that client understands: never chunked). */
  versionMinor?: 0 | 1;
}

function fieldLines(headers: readonly string[], connectionTokens: readonly string[], extra: readonly string[], options: BuildHeadOptions | undefined): string {
  const dropFraming = options?.dropFraming === true;
  const alsoDrop = options?.alsoDrop;
  let out = '';
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i]!;
    if (isHopByHop(name, connectionTokens)) continue;
    if (dropFraming && isFramingField(name)) continue;
    if (alsoDrop !== undefined && listed(name, alsoDrop)) continue;
    out += `${name}: ${headers[i + 1]!}\r\n`;
  }
  for (let i = 0; i + 1 < extra.length; i += 2) out += `${extra[i]!}: ${extra[i + 1]!}\r\n`;
  return `${out}\r\n`;
}

function listed(name: string, lowerNames: readonly string[]): boolean {
  for (let i = 0; i < lowerNames.length; i++) if (eqIgnoreCase(name, lowerNames[i]!)) return true;
  return false;
}

/**
 * `METHOD target HTTP/1.1`, the forwardable fields of `headers`, then `extra`, then the empty line.
 *
 * @param headers flat [name, value, ...] as parsed
 * @param connectionTokens the parsed message's lowercased Connection options
 * @param extra flat [name, value, ...] appended unfiltered
 * @example
 *   const text = buildRequestHead(h.method, h.target, h.headers, h.connectionTokens, ['X-Forwarded-For', ip]);
 *   upstream.write(text, 'latin1');
 */
export function buildRequestHead(
  method: string, target: string, headers: readonly string[], connectionTokens: readonly string[],
  extra: readonly string[], options?: BuildHeadOptions,
): string {
  return `${method} ${target} HTTP/1.${options?.versionMinor ?? 1}\r\n${fieldLines(headers, connectionTokens, extra, options)}`;
}

/**
 * `HTTP/1.1 status reason`, the forwardable fields of `headers`, then `extra`, then the empty line.
 *
 * @example
 *   const text = buildResponseHead(r.statusCode, r.reason, r.headers, r.connectionTokens, ['Via', '1.1 lifeline']);
 */
export function buildResponseHead(
  statusCode: number, reason: string, headers: readonly string[], connectionTokens: readonly string[],
  extra: readonly string[], options?: BuildHeadOptions,
): string {
  return `HTTP/1.1 ${statusCode} ${reason}\r\n${fieldLines(headers, connectionTokens, extra, options)}`;
}
