/**
 * `ClusterMembership`: the current endpoint set of one cluster, the one place every source of
 * change goes through (DNS discovery, the endpoints file, a reload, the admin API), so that
 * each change is a membership diff, is counted, and is announced once.
 *
 * The engine's cluster listens to `change` and applies the diff to its members (add with fresh
 * health state, drain the removed, re-weight in place); `/stats` shows `snapshot()`; the log
 * shows each `change` with its source. Admin edits are allowed only on a cluster whose source
 * is the static list: on a DNS or file cluster the next answer or file would silently undo
 * them, so they are refused with the reason (change the DNS records or the file instead).
 */
import { EventEmitter } from 'node:events';
import type { Clock } from '../../core/clock.js';
import { LifelineError } from '../../core/errors.js';
import { clockOption, rejectUnknown } from '../../core/options.js';
import { parseAddress } from '../config/address.js';
import type { EndpointConfig } from '../config/types.js';
import { sortEndpoints } from './dns-answers.js';
import { diffMembership, isEmptyDiff, memberKey } from './membership.js';
import type { MembershipDiff } from './membership.js';

export type MembershipSource = 'endpoints' | 'dns' | 'file';
export type ChangeOrigin = 'config' | 'dns' | 'file' | 'admin';

/** An admin edit that cannot be applied. `status` is the HTTP status the admin API answers. */
export class MembershipError extends LifelineError {
  constructor(
    code: 'ERR_ENDPOINT_EXISTS' | 'ERR_ENDPOINT_NOT_FOUND' | 'ERR_ENDPOINTS_MANAGED' | 'ERR_ENDPOINT_INVALID' | 'ERR_LAST_ENDPOINT',
    readonly status: number,
    message: string,
  ) {
    super(code, message);
  }
}

export interface MembershipChange {
  origin: ChangeOrigin;
  diff: MembershipDiff;
  endpoints: readonly EndpointConfig[];
  /** One line for the log. */
  message: string;
}

export interface MembershipEvents {
  change: [change: MembershipChange];
}

export interface MembershipSnapshot {
  cluster: string;
  source: MembershipSource;
  endpoints: { address: string; weight: number }[];
  changes: number;
  added: number;
  removed: number;
  reweighted: number;
  lastChange: { origin: ChangeOrigin; agoMs: number; message: string } | null;
}

const MAX_WEIGHT = 1000;

function describeDiff(d: MembershipDiff): string {
  const parts: string[] = [];
  if (d.added.length > 0) parts.push(`added ${d.added.map((e) => e.address).join(', ')}`);
  if (d.removed.length > 0) parts.push(`draining ${d.removed.map((e) => e.address).join(', ')}`);
  for (const r of d.reweighted) parts.push(`${r.address} weight ${r.fromWeight} -> ${r.toWeight}`);
  return parts.join('; ');
}

/**
 * @example
 *   const m = new ClusterMembership('api', 'dns', []);
 *   discovery.on('endpoints', (set) => m.replace(set, 'dns'));
 *   m.on('change', (c) => { cluster.apply(c.diff); log.info(c.message); });
 */
export class ClusterMembership extends EventEmitter<MembershipEvents> {
  readonly #clock: Clock;
  #endpoints: EndpointConfig[];
  #counts = { changes: 0, added: 0, removed: 0, reweighted: 0 };
  #last: { origin: ChangeOrigin; atMs: number; message: string } | null = null;

  constructor(
    readonly cluster: string,
    readonly source: MembershipSource,
    initial: readonly EndpointConfig[],
    options?: { clock?: Clock },
  ) {
    super();
    this.#clock = clockOption('ClusterMembership', rejectUnknown('ClusterMembership', options, ['clock']));
    this.#endpoints = sortEndpoints([...initial]);
    diffMembership([], this.#endpoints); // rejects duplicates
  }

  get endpoints(): readonly EndpointConfig[] {
    return this.#endpoints;
  }

  /** Replace the whole set (a DNS answer, a file, a reload). Returns the diff (empty: no event). */
  replace(next: readonly EndpointConfig[], origin: ChangeOrigin): MembershipDiff {
    const sorted = sortEndpoints([...next]);
    const diff = diffMembership(this.#endpoints, sorted);
    if (isEmptyDiff(diff)) return diff;
    // Keep the old spelling of a kept address, so the engine finds its member by it.
    const kept = new Map(this.#endpoints.map((e) => [memberKey(e.address), e]));
    this.#endpoints = sorted.map((e) => {
      const old = kept.get(memberKey(e.address));
      return old === undefined ? e : { ...old, weight: e.weight };
    });
    this.#counts.changes += 1;
    this.#counts.added += diff.added.length;
    this.#counts.removed += diff.removed.length;
    this.#counts.reweighted += diff.reweighted.length;
    const message = `cluster ${this.cluster}: ${describeDiff(diff)} (by ${origin})`;
    this.#last = { origin, atMs: this.#clock.now(), message };
    this.emit('change', { origin, diff, endpoints: this.#endpoints, message });
    return diff;
  }

  /** Admin: add an endpoint, or set its weight when it is already there. True when added. */
  upsert(address: unknown, weight: unknown): boolean {
    this.#editable();
    const parsed = typeof address === 'string' ? parseAddress(address, 1) : ({ ok: false, why: 'not a string' } as const);
    if (!parsed.ok) throw new MembershipError('ERR_ENDPOINT_INVALID', 400, `address must be "host:port" with a port from 1 to 65535; got ${JSON.stringify(address)}: ${parsed.why}`);
    if (weight !== undefined && !(typeof weight === 'number' && Number.isInteger(weight) && weight >= 1 && weight <= MAX_WEIGHT)) {
      throw new MembershipError('ERR_ENDPOINT_INVALID', 400, `weight must be an integer from 1 to ${MAX_WEIGHT}; got ${JSON.stringify(weight)}`);
    }
    const key = memberKey(parsed.value.address);
    const existing = this.#endpoints.find((e) => memberKey(e.address) === key);
    if (existing === undefined) {
      this.replace([...this.#endpoints, { ...parsed.value, weight: weight ?? 1 }], 'admin');
      return true;
    }
    if (weight !== undefined) this.replace(this.#endpoints.map((e) => (e === existing ? { ...e, weight } : e)), 'admin');
    return false;
  }

  /** Admin: drain and remove one endpoint. The last one is kept (an empty cluster answers only 503). */
  remove(address: string): void {
    this.#editable();
    const key = memberKey(address);
    const existing = this.#endpoints.find((e) => memberKey(e.address) === key);
    if (existing === undefined) throw new MembershipError('ERR_ENDPOINT_NOT_FOUND', 404, `cluster ${this.cluster} has no endpoint ${address}`);
    if (this.#endpoints.length === 1) throw new MembershipError('ERR_LAST_ENDPOINT', 409, `${address} is the last endpoint of cluster ${this.cluster}; add another first`);
    this.replace(this.#endpoints.filter((e) => e !== existing), 'admin');
  }

  snapshot(): MembershipSnapshot {
    return {
      cluster: this.cluster,
      source: this.source,
      endpoints: this.#endpoints.map((e) => ({ address: e.address, weight: e.weight })),
      ...this.#counts,
      lastChange: this.#last === null ? null : { origin: this.#last.origin, agoMs: Math.round(this.#clock.now() - this.#last.atMs), message: this.#last.message },
    };
  }

  #editable(): void {
    if (this.source === 'endpoints') return;
    const where = this.source === 'dns' ? 'its DNS records' : 'its endpoints file';
    throw new MembershipError('ERR_ENDPOINTS_MANAGED', 409, `cluster ${this.cluster} takes its endpoints from ${where}; change them there (an edit here would be undone by the next update)`);
  }
}
