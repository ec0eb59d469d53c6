/**
 * From DNS answers to endpoints: the pure part of DNS discovery (no sockets, no timers), so
 * every rule about records is testable on its own.
 *
 *   - A/AAAA: each address becomes `address:port` (IPv6 bracketed), weight 1.
 *   - SRV (RFC 2782): only the lowest priority group that yields at least one endpoint is used
 *     (higher numbers are backups); each target's addresses become `address:srvPort` with the
 *     record's weight (0, "rarely", is raised to 1 since a balancer weight is >= 1; the same
 *     address and port from two records add their weights). A record with port 0 is skipped; a
 *     target of "." means the service is decidedly not offered (an empty answer).
 *
 * Endpoint lists come out sorted by address, so equal sets compare equal element by element.
 */
import { MAX_WEIGHT } from '../balancer/upstream-endpoint.js';
import type { EndpointConfig } from '../config/types.js';

/** An address record with its TTL in seconds, as `resolve4(name, { ttl: true })` gives it. */
export interface AddressRecord {
  address: string;
  ttl: number;
}

/** An SRV record as `resolveSrv` gives it. */
export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/** `host:port` with IPv6 in brackets. */
export function endpointAddress(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function endpointOf(ip: string, port: number, weight: number): EndpointConfig {
  return { address: endpointAddress(ip, port), host: ip, port, weight };
}

export function sortEndpoints(list: EndpointConfig[]): EndpointConfig[] {
  return list.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

/** Same addresses with the same weights (both lists sorted). */
export function sameEndpoints(a: readonly EndpointConfig[], b: readonly EndpointConfig[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as EndpointConfig;
    const y = b[i] as EndpointConfig;
    if (x.address !== y.address || x.weight !== y.weight) return false;
  }
  return true;
}

/** Endpoints from A and AAAA answers for one port; duplicates collapse. */
export function addressEndpoints(records: readonly AddressRecord[], port: number, weight = 1): EndpointConfig[] {
  const seen = new Map<string, EndpointConfig>();
  for (const r of records) {
    const e = endpointOf(r.address, port, weight);
    if (!seen.has(e.address)) seen.set(e.address, e);
  }
  return sortEndpoints([...seen.values()]);
}

/** The record as a zone file would show it, for error messages. */
export function srvText(owner: string, r: SrvRecord): string {
  return `${owner} SRV ${r.priority} ${r.weight} ${r.port} ${r.name === '' ? '.' : r.name}`;
}

/** SRV records grouped by priority, lowest first, each group in answer order. */
export function priorityGroups(records: readonly SrvRecord[]): SrvRecord[][] {
  const byPriority = new Map<number, SrvRecord[]>();
  for (const r of records) {
    const group = byPriority.get(r.priority);
    if (group === undefined) byPriority.set(r.priority, [r]);
    else group.push(r);
  }
  return [...byPriority.keys()].sort((a, b) => a - b).map((p) => byPriority.get(p) as SrvRecord[]);
}

/** Merge endpoints of several SRV records: the same address:port adds weights (capped). */
export function mergeWeighted(lists: readonly EndpointConfig[][]): EndpointConfig[] {
  const merged = new Map<string, EndpointConfig>();
  for (const list of lists) {
    for (const e of list) {
      const prior = merged.get(e.address);
      if (prior === undefined) merged.set(e.address, { ...e });
      else prior.weight = Math.min(MAX_WEIGHT, prior.weight + e.weight);
    }
  }
  return sortEndpoints([...merged.values()]);
}
