/**
 * `DnsDiscovery`: a cluster's endpoints from DNS, re-resolved for as long as it runs.
 *
 *   - `type: 'dns'`: the A and AAAA records of `name`, each address with `port`.
 *   - `type: 'srv'`: the SRV records of `name` (`_http._tcp.api.internal`), their targets'
 *     addresses, ports and weights, lowest priority group only (see dns-answers.ts).
 *
 * When: every `refreshIntervalMs` when set; otherwise on the answer's TTL (the smallest of the
 * records used), bounded by `minRefreshMs` and `maxRefreshMs`. Node's resolver gives no TTL for
 * SRV records (neither `resolveSrv` nor `resolveAny` carries one), so an SRV name follows the
 * smallest TTL of its targets' address records, under the same bounds; set
 * `refreshIntervalMs` to decouple it. After a failure the next try is `minRefreshMs` later (or
 * `refreshIntervalMs`).
 *
 * A failed, empty or invalid answer never replaces a good one: the last good set is kept, the
 * `stale` event says why (its `message` is the log line) and `stats.staleKept` counts it. An
 * answer with one bad record (SRV port 0, a target that does not resolve) drops that record and
 * says so in a `problem` event. `endpoints` is emitted only when the set or a weight changed.
 *
 * Resolver: `resolver: ['10.0.0.2:53', ...]` (nginx's `resolver`) or the system's. Queries
 * time out after `queryTimeoutMs` per try, `tries` tries.
 */
import { EventEmitter } from 'node:events';
import { Resolver } from 'node:dns/promises';
import { MAX_WHEEL_TIMEOUT_MS } from '../../core/timer-wheel.js';
import { isIP } from 'node:net';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { ClosedError, InvalidOptionError } from '../../core/errors.js';
import { booleanOption, clockOption, integerOption, optionalIntegerOption, rejectUnknown } from '../../core/options.js';
import { IllegalTransitionError } from '../../core/state-table.js';
import type { EndpointConfig } from '../config/types.js';
import { DnsDiscoveryError } from './discovery-errors.js';
import { addressEndpoints, mergeWeighted, priorityGroups, sameEndpoints, srvText } from './dns-answers.js';
import type { AddressRecord, SrvRecord } from './dns-answers.js';
import { diffMembership } from './membership.js';
import { resolverProblem } from './resolver-address.js';
import type { MembershipDiff } from './membership.js';

export interface DnsDiscoveryOptions {
  type: 'dns' | 'srv';
  /** A host name (`dns`) or an SRV name `_service._proto.domain` (`srv`). */
  name: string;
  /** The endpoints' port: required for `dns`, not allowed for `srv` (the records carry it). */
  port?: number;
  /** DNS servers as `ip` or `ip:port` (`[v6]:port`); default: the system's. */
  resolver?: readonly string[];
  /** Fixed re-resolution interval in ms; when unset, the TTL decides. */
  refreshIntervalMs?: number;
  /** Shortest interval between resolutions, ms. Default 1_000. */
  minRefreshMs?: number;
  /** Longest interval between resolutions, ms. Default 300_000. */
  maxRefreshMs?: number;
  /** Timeout of one DNS query try, ms. Default 2_000. */
  queryTimeoutMs?: number;
  /** Tries per query. Default 2. */
  tries?: number;
  /** Records accepted in one answer; more is refused as invalid. Default 256. */
  maxRecords?: number;
  /** Ask for AAAA records too (nginx's `ipv6=`). Off, an AAAA failure cannot hold up the A answer. Default true. */
  ipv6?: boolean;
  clock?: Clock;
}

export interface DnsDiscoveryStats {
  resolutions: number;
  changes: number;
  failures: number;
  emptyAnswers: number;
  invalidAnswers: number;
  /** Times the last good set was kept instead of a failed, empty or invalid answer. */
  staleKept: number;
  /** Records skipped (SRV port 0, target that does not resolve). */
  recordProblems: number;
}

export interface StaleInfo {
  reason: 'error' | 'empty' | 'invalid';
  error: DnsDiscoveryError;
  /** Endpoints in the set that was kept. */
  kept: number;
  /** One line for the log. */
  message: string;
}

export interface DnsDiscoveryEvents {
  /** The set changed (always on the first good answer). Sorted by address. */
  endpoints: [endpoints: readonly EndpointConfig[], diff: MembershipDiff];
  /** A good answer arrived, changed or not; `nextRefreshMs` is when the next query goes out. */
  resolved: [info: { endpoints: readonly EndpointConfig[]; changed: boolean; nextRefreshMs: number }];
  /** The answer could not be used; the last good set was kept. */
  stale: [info: StaleInfo];
  /** One record was skipped. */
  problem: [error: DnsDiscoveryError];
}

/** Longest delay: the configuration's longest duration (2^30 - 1 ms, about 12.4 days). */
const MAX_MS = MAX_WHEEL_TIMEOUT_MS;
const SRV_NAME = /^_[A-Za-z0-9-]+\._[A-Za-z0-9-]+\.[A-Za-z0-9]/;
const HOST_NAME = /^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$/;
/** Answers that mean "no such records", not "the resolver failed". */
const NO_DATA = new Set(['ENODATA', 'ENOTFOUND']);

type Lifecycle = 'new' | 'running' | 'closed';
const MOVES: Record<Lifecycle, readonly Lifecycle[]> = { new: ['running', 'closed'], running: ['closed'], closed: [] };

type Outcome = { ok: true; endpoints: EndpointConfig[]; ttlS: number } | { ok: false; reason: StaleInfo['reason']; error: DnsDiscoveryError };

/**
 * @example
 *   const d = new DnsDiscovery({ type: 'srv', name: '_http._tcp.api.internal', resolver: ['10.0.0.2:53'] });
 *   d.on('endpoints', (set, diff) => cluster.apply(diff));
 *   d.on('stale', (s) => log.warn(s.message));
 *   await d.start();
 *   ...
 *   d.close();
 */
export class DnsDiscovery extends EventEmitter<DnsDiscoveryEvents> {
  readonly type: 'dns' | 'srv';
  readonly name: string;
  readonly port: number | undefined;
  readonly refreshIntervalMs: number | undefined;
  readonly minRefreshMs: number;
  readonly maxRefreshMs: number;
  readonly maxRecords: number;
  readonly ipv6: boolean;
  readonly stats: DnsDiscoveryStats = { resolutions: 0, changes: 0, failures: 0, emptyAnswers: 0, invalidAnswers: 0, staleKept: 0, recordProblems: 0 };
  readonly #clock: Clock;
  readonly #resolver: Resolver;
  #state: Lifecycle = 'new';
  #endpoints: readonly EndpointConfig[] = [];
  #hasGood = false;
  #timer: TimerHandle | undefined;
  #inFlight: Promise<void> | undefined;

  constructor(options: DnsDiscoveryOptions) {
    super();
    const where = 'DnsDiscovery';
    const o = rejectUnknown(where, options, ['type', 'name', 'port', 'resolver', 'refreshIntervalMs', 'minRefreshMs', 'maxRefreshMs', 'queryTimeoutMs', 'tries', 'maxRecords', 'ipv6', 'clock']);
    const type = o['type'];
    if (type !== 'dns' && type !== 'srv') throw new InvalidOptionError(`${where}.type`, `${where}.type must be "dns" or "srv"; got ${JSON.stringify(type)}`);
    this.type = type;
    const name = o['name'];
    if (typeof name === 'string' && isIP(name) !== 0) throw new InvalidOptionError(`${where}.name`, `${where}.name must be a DNS name; got the IP address ${name} (list it under endpoints instead)`);
    if (typeof name !== 'string' || !HOST_NAME.test(name) || (type === 'srv' && !SRV_NAME.test(name))) {
      const want = type === 'srv' ? 'an SRV name "_service._proto.domain" (e.g. "_http._tcp.api.internal")' : 'a DNS host name';
      throw new InvalidOptionError(`${where}.name`, `${where}.name must be ${want}; got ${JSON.stringify(name)}`);
    }
    this.name = name;
    this.port = optionalIntegerOption(where, o, 'port', { min: 1, max: 65535 });
    if (type === 'dns' && this.port === undefined) throw new InvalidOptionError(`${where}.port`, `${where}.port is required with type "dns" (A and AAAA records carry no port)`);
    if (type === 'srv' && this.port !== undefined) throw new InvalidOptionError(`${where}.port`, `${where}.port is not allowed with type "srv" (the SRV records give the ports)`);
    this.refreshIntervalMs = optionalIntegerOption(where, o, 'refreshIntervalMs', { min: 1, max: MAX_MS });
    this.minRefreshMs = integerOption(where, o, 'minRefreshMs', 1_000, { min: 1, max: MAX_MS });
    this.maxRefreshMs = integerOption(where, o, 'maxRefreshMs', 300_000, { min: this.minRefreshMs, max: MAX_MS, note: '(and >= minRefreshMs)' });
    const queryTimeoutMs = integerOption(where, o, 'queryTimeoutMs', 2_000, { min: 1, max: 60_000 });
    const tries = integerOption(where, o, 'tries', 2, { min: 1, max: 10 });
    this.maxRecords = integerOption(where, o, 'maxRecords', 256, { min: 1, max: 10_000 });
    this.ipv6 = booleanOption(where, o, 'ipv6', true);
    this.#clock = clockOption(where, o);
    this.#resolver = new Resolver({ timeout: queryTimeoutMs, tries });
    const servers = o['resolver'];
    if (servers !== undefined) {
      if (!Array.isArray(servers) || servers.length === 0) throw new InvalidOptionError(`${where}.resolver`, `${where}.resolver must be a non-empty list of "ip:port"; got ${JSON.stringify(servers)}`);
      for (const [i, s] of servers.entries()) {
        const why = resolverProblem(s);
        if (why !== undefined) throw new InvalidOptionError(`${where}.resolver[${i}]`, `${where}.resolver[${i}]: ${why}`);
      }
      this.#resolver.setServers(servers as string[]);
    }
  }

  /** The last good set (empty before the first good answer), sorted by address. */
  get endpoints(): readonly EndpointConfig[] {
    return this.#endpoints;
  }

  /** Resolve once now and keep re-resolving. Resolves after the first attempt, good or not. */
  async start(): Promise<readonly EndpointConfig[]> {
    this.#move('running');
    await this.refresh();
    return this.#endpoints;
  }

  /** Resolve now (joins one already under way) and reschedule. */
  refresh(): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(new ClosedError('DnsDiscovery'));
    this.#inFlight ??= this.#run().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  /** Stop: no more queries or events; a query under way is cancelled. Idempotent. */
  close(): void {
    if (this.#state === 'closed') return;
    this.#move('closed');
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#resolver.cancel();
  }

  #move(to: Lifecycle): void {
    if (!MOVES[this.#state].includes(to)) throw new IllegalTransitionError('DnsDiscovery', this.#state, to);
    this.#state = to;
  }

  async #run(): Promise<void> {
    this.#timer?.cancel();
    this.#timer = undefined;
    let outcome: Outcome;
    try {
      outcome = this.type === 'dns' ? await this.#resolveHost() : await this.#resolveSrv();
    } catch (err) {
      outcome = this.#fail('error', `resolution failed (${errText(err)})`, err);
    }
    if (this.#state === 'closed') return;
    const delay = outcome.ok ? (this.refreshIntervalMs ?? Math.min(this.maxRefreshMs, Math.max(this.minRefreshMs, outcome.ttlS * 1000))) : (this.refreshIntervalMs ?? this.minRefreshMs);
    // Scheduled before any listener runs, so a listener that throws cannot stop the refreshes.
    if (this.#state === 'running') {
      this.#timer = this.#clock.setTimer(() => {
        this.#timer = undefined;
        this.refresh().catch(() => undefined);
      }, delay);
    }
    if (outcome.ok) {
      this.stats.resolutions += 1;
      const changed = !this.#hasGood || !sameEndpoints(this.#endpoints, outcome.endpoints);
      const previous = this.#endpoints;
      this.#endpoints = outcome.endpoints;
      this.#hasGood = true;
      if (changed) {
        this.stats.changes += 1;
        this.emit('endpoints', outcome.endpoints, diffMembership(previous, outcome.endpoints));
      }
      this.emit('resolved', { endpoints: outcome.endpoints, changed, nextRefreshMs: delay });
      return;
    }
    if (outcome.reason === 'error') this.stats.failures += 1;
    else if (outcome.reason === 'empty') this.stats.emptyAnswers += 1;
    else this.stats.invalidAnswers += 1;
    this.stats.staleKept += 1;
    const kept = this.#endpoints.length;
    const what = this.#hasGood ? `keeping the last good answer (${kept} endpoint${kept === 1 ? '' : 's'})` : 'no good answer yet (no endpoints)';
    this.emit('stale', { reason: outcome.reason, error: outcome.error, kept, message: `${outcome.error.message}; ${what}; next try in ${delay} ms` });
  }

  /** A and AAAA of one name; `hardError` when the resolver failed rather than said "none". */
  async #addresses(name: string): Promise<{ records: AddressRecord[]; hardError: Error | undefined }> {
    const answers = await Promise.allSettled(this.ipv6 ? [this.#resolver.resolve4(name, { ttl: true }), this.#resolver.resolve6(name, { ttl: true })] : [this.#resolver.resolve4(name, { ttl: true })]);
    const records: AddressRecord[] = [];
    let hardError: Error | undefined;
    for (const a of answers) {
      if (a.status === 'fulfilled') records.push(...a.value);
      else if (!NO_DATA.has(String((a.reason as { code?: unknown }).code))) hardError ??= a.reason as Error;
    }
    return { records, hardError };
  }

  #fail(reason: StaleInfo['reason'], message: string, cause?: unknown): Outcome {
    const code = reason === 'error' ? 'ERR_DNS_RESOLVE' : reason === 'empty' ? 'ERR_DNS_EMPTY' : 'ERR_DNS_INVALID';
    return { ok: false, reason, error: new DnsDiscoveryError(code, this.name, `dns discovery of ${this.name}: ${message}`, cause === undefined ? undefined : { cause }) };
  }

  async #resolveHost(): Promise<Outcome> {
    const { records, hardError } = await this.#addresses(this.name);
    if (hardError !== undefined) return this.#fail('error', `the resolver failed (${errText(hardError)})`, hardError);
    if (records.length === 0) return this.#fail('empty', 'no A or AAAA records');
    if (records.length > this.maxRecords) return this.#fail('invalid', `${records.length} address records, more than maxRecords (${this.maxRecords})`);
    const ttl = Math.min(...records.map((r) => r.ttl));
    return { ok: true, endpoints: addressEndpoints(records, this.port as number), ttlS: ttl };
  }

  async #resolveSrv(): Promise<Outcome> {
    let srv: SrvRecord[];
    try {
      srv = await this.#resolver.resolveSrv(this.name);
    } catch (err) {
      if (NO_DATA.has(String((err as { code?: unknown }).code))) return this.#fail('empty', 'no SRV records');
      return this.#fail('error', `the resolver failed (${errText(err)})`, err);
    }
    if (srv.length === 0) return this.#fail('empty', 'no SRV records');
    if (srv.length > this.maxRecords) return this.#fail('invalid', `${srv.length} SRV records, more than maxRecords (${this.maxRecords})`);
    if (srv.length === 1 && (srv[0]?.name === '' || srv[0]?.name === '.')) return this.#fail('empty', `the SRV record ${srvText(this.name, srv[0])} says the service is not offered`);
    const usable = srv.filter((r) => {
      if (r.port !== 0) return true;
      this.#problem(`the SRV record ${srvText(this.name, r)} has port 0; skipped`, r);
      return false;
    });
    const targets = new Map<string, Promise<{ records: AddressRecord[]; hardError: Error | undefined }>>();
    for (const group of priorityGroups(usable)) {
      const lists: ReturnType<typeof addressEndpoints>[] = [];
      let ttl = Infinity;
      let resolverDown: Error | undefined;
      // The group's targets are looked up in parallel; backup groups only if this one yields nothing.
      for (const r of group) if (!targets.has(r.name)) targets.set(r.name, this.#addresses(r.name));
      for (const r of group) {
        const { records, hardError } = await (targets.get(r.name) as Promise<{ records: AddressRecord[]; hardError: Error | undefined }>);
        if (this.#state === 'closed') return this.#fail('error', 'closed');
        if (hardError !== undefined) resolverDown ??= hardError;
        else if (records.length === 0) this.#problem(`the target ${r.name} of the SRV record ${srvText(this.name, r)} does not resolve (no A or AAAA records); skipped`, r);
        for (const a of records) ttl = Math.min(ttl, a.ttl);
        lists.push(addressEndpoints(records, r.port, Math.max(1, r.weight)));
      }
      // A failing resolver is not a missing target: keep the last good set rather than shrink it.
      if (resolverDown !== undefined) return this.#fail('error', `the resolver failed on an SRV target (${errText(resolverDown)})`, resolverDown);
      const endpoints = mergeWeighted(lists);
      if (endpoints.length > this.maxRecords) return this.#fail('invalid', `${endpoints.length} endpoints from SRV targets, more than maxRecords (${this.maxRecords})`);
      if (endpoints.length > 0) return { ok: true, endpoints, ttlS: ttl };
    }
    return this.#fail('empty', 'no SRV record with a port and a target that resolves');
  }

  #problem(message: string, r: SrvRecord): void {
    this.stats.recordProblems += 1;
    this.emit('problem', new DnsDiscoveryError('ERR_DNS_RECORD', this.name, `dns discovery of ${this.name}: ${message}`, { record: srvText(this.name, r) }));
  }
}

function errText(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.message : String(err);
}
