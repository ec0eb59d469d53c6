/**
 * The difference between a cluster's endpoint list and a new one (from DNS, the endpoints file
 * or the admin API): what to add, what to drain, what to re-weight, what to keep untouched.
 *
 * Keyed by address (`host:port`, host lower-cased, IPv6 in brackets), not by position or
 * object: an endpoint whose address is in both lists is the same endpoint, so its pool, health
 * state and outlier history survive a re-resolution that keeps the address. The engine applies
 * the result: `added` join the balancer with their own fresh health state; `removed` are drained
 * (no new requests, in-flight ones finish, idle connections closed at once, busy ones when
 * done); `reweighted` change weight in place.
 */
import { InvalidOptionError } from '../../core/errors.js';

/** One endpoint as a discovery source gives it. */
export interface MemberSpec {
  /** `host:port` (IPv6 as `[::1]:80`). */
  readonly address: string;
  /** Relative share of traffic, an integer >= 1. */
  readonly weight: number;
}

export interface MembershipDiff {
  /** In the new list only, in the new list's order. */
  added: MemberSpec[];
  /** In the old list only, in the old list's order. */
  removed: MemberSpec[];
  /** In both with another weight. */
  reweighted: { address: string; fromWeight: number; toWeight: number }[];
  /** In both with the same weight. */
  unchanged: MemberSpec[];
}

/** The identity of an endpoint address: host lower-cased (DNS names are case-insensitive). */
export function memberKey(address: string): string {
  const colon = address.lastIndexOf(':');
  return colon < 0 ? address.toLowerCase() : `${address.slice(0, colon).toLowerCase()}${address.slice(colon)}`;
}

function index(list: readonly MemberSpec[], which: string): Map<string, MemberSpec> {
  const out = new Map<string, MemberSpec>();
  for (const [i, m] of list.entries()) {
    const key = memberKey(m.address);
    if (out.has(key)) throw new InvalidOptionError(`${which}[${i}].address`, `${which}[${i}].address "${m.address}" appears twice in the ${which} endpoint list`);
    out.set(key, m);
  }
  return out;
}

/**
 * @example
 *   const d = diffMembership(cluster.specs, discovered);
 *   for (const m of d.added) cluster.add(m); for (const m of d.removed) cluster.drain(m.address);
 *   for (const r of d.reweighted) cluster.setWeight(r.address, r.toWeight);
 */
export function diffMembership(previous: readonly MemberSpec[], next: readonly MemberSpec[]): MembershipDiff {
  const before = index(previous, 'old');
  const after = index(next, 'new');
  const diff: MembershipDiff = { added: [], removed: [], reweighted: [], unchanged: [] };
  for (const [key, m] of after) {
    const old = before.get(key);
    if (old === undefined) diff.added.push(m);
    else if (old.weight !== m.weight) diff.reweighted.push({ address: old.address, fromWeight: old.weight, toWeight: m.weight });
    else diff.unchanged.push(old);
  }
  for (const [key, m] of before) if (!after.has(key)) diff.removed.push(m);
  return diff;
}

/** True when a diff changes nothing. */
export function isEmptyDiff(d: MembershipDiff): boolean {
  return d.added.length === 0 && d.removed.length === 0 && d.reweighted.length === 0;
}
