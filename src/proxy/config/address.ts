/**
 * `host:port` parsing for listeners, endpoints, the admin listener and demo upstreams.
 *
 * Accepted: `127.0.0.1:8080`, `localhost:8080`, `[::1]:8080`. A bare IPv6 address needs brackets
 * (`::1:8080` is ambiguous). Ports are decimal, 0 to 65535; whether 0 ("any free port") is
 * allowed depends on the use and is the caller's choice.
 */
import { isIP } from 'node:net';
import type { AddressConfig } from './types.js';

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** The result of {@link parseAddress}: the split address, or why it is not one. */
export type ParsedAddress = { ok: true; value: AddressConfig } | { ok: false; why: string };

/**
 * Split `host:port`; `minPort` is 0 where "any free port" makes sense, else 1.
 *
 * @example parseAddress('[::1]:8080', 1) // { ok: true, value: { address: '[::1]:8080', host: '::1', port: 8080 } }
 */
export function parseAddress(text: string, minPort: 0 | 1): ParsedAddress {
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return { ok: false, why: 'an IPv6 address opened with "[" but not closed with "]"' };
    host = text.slice(1, close);
    if (isIP(host) !== 6) return { ok: false, why: `"${host}" inside brackets, which is not an IPv6 address` };
    if (text[close + 1] !== ':') return { ok: false, why: 'no ":port" after the bracketed IPv6 address' };
    portText = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return { ok: false, why: 'no ":port"' };
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) return { ok: false, why: 'an IPv6 address without brackets (write [::1]:8080)' };
    if (host === '') return { ok: false, why: 'no host before ":port"' };
    if (isIP(host) === 0 && (!HOSTNAME.test(host) || /^[0-9.]+$/.test(host))) return { ok: false, why: `"${host}", which is neither an IP address nor a host name` };
  }
  if (!/^[0-9]{1,5}$/.test(portText)) return { ok: false, why: `port "${portText}", which is not a decimal number` };
  const port = Number(portText);
  if (port < minPort || port > 65535) return { ok: false, why: `port ${port}, out of range ${minPort} to 65535` };
  return { ok: true, value: { address: text, host, port } };
}

/** True when a socket bound to `a` and one bound to `b` would collide (same port, same or wildcard host). */
export function addressesCollide(a: AddressConfig, b: AddressConfig): boolean {
  if (a.port === 0 || b.port === 0 || a.port !== b.port) return false;
  const wildcard = (h: string): boolean => h === '0.0.0.0' || h === '::';
  return a.host.toLowerCase() === b.host.toLowerCase() || wildcard(a.host) || wildcard(b.host);
}

/**
 * `host:port` as a URL authority: an IPv6 host in brackets, so that `http://[::1]:8080` can be
 * pasted into curl or a browser (`http://::1:8080` cannot).
 *
 * @example formatAddress('::1', 8080) // '[::1]:8080'
 */
export function formatAddress(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Whether `host` (no brackets) names only this machine: `localhost`, 127.0.0.0/8 or `::1`
 * (also as `::ffff:127.x.y.z`). Any other name may resolve elsewhere, so it is not loopback.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}
