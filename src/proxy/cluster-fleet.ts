/**
 * `ClusterFleet`: where a running cluster's endpoints come from, tied to the engine's `Cluster`.
 *
 * One `ClusterMembership` per cluster is the one place every change goes through: the static
 * list, DNS discovery (`discovery`), the watched endpoints file (`endpointsFile`) or the admin
 * API. Each change is applied to the cluster as a diff: added endpoints join with fresh health
 * and outlier state, removed ones drain (never picked again, idle connections closed at once,
 * requests in flight finish), re-weighted ones change weight in place; an address that stays is
 * untouched. A failed, empty or invalid DNS answer, or a bad endpoints file, keeps the last good
 * set and is logged.
 *
 * On a reload the new cluster starts from the old one's last set when its source is the same,
 * so a DNS or file cluster serves at once instead of answering 503 until the first answer.
 */
import type { ClusterConfig, DiscoveryConfig, EndpointConfig } from './config/index.js';
import type { Cluster } from './engine/cluster.js';
import type { EventLog } from './log/index.js';
import { ClusterMembership } from './discovery/cluster-membership.js';
import type { MembershipChange, MembershipSnapshot } from './discovery/cluster-membership.js';
import { DnsDiscovery } from './discovery/dns-discovery.js';
import type { DnsDiscoveryStats } from './discovery/dns-discovery.js';
import { EndpointsFile } from './discovery/endpoints-file.js';
import { memberKey } from './discovery/membership.js';
import { systemClock } from '../core/clock.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { FleetFigures } from './metrics/index.js';

/** After a reload, how often an endpoints file that cannot be read is tried again. */
const RETRY_START_MS = 1_000;

export interface FleetStats extends MembershipSnapshot {
  discovery: DnsDiscoveryStats | null;
  endpointsFile: { loads: number; changes: number; rejections: number } | null;
}

/** The endpoints a cluster starts with: its static list, or a previous fleet's last set. */
export function initialEndpoints(config: ClusterConfig, previous: ClusterFleet | undefined): EndpointConfig[] {
  if (config.discovery === null && config.endpointsFile === null) return config.endpoints;
  if (previous === undefined || !sameSource(previous.config, config)) return [];
  return [...previous.membership.endpoints];
}

function sameSource(a: ClusterConfig, b: ClusterConfig): boolean {
  if (a.endpointsFile !== null || b.endpointsFile !== null) return a.endpointsFile === b.endpointsFile;
  return a.discovery !== null && b.discovery !== null && sameDiscovery(a.discovery, b.discovery);
}

function sameDiscovery(a: DiscoveryConfig, b: DiscoveryConfig): boolean {
  return a.type === b.type && a.name === b.name && a.port === b.port;
}

/**
 * @example
 *   const fleet = new ClusterFleet(config, cluster, events, initialEndpoints(config, undefined));
 *   await fleet.start(); // before listening
 *   ...
 *   fleet.close();
 */
export class ClusterFleet {
  readonly membership: ClusterMembership;
  readonly discovery: DnsDiscovery | undefined;
  readonly endpointsFile: EndpointsFile | undefined;
  readonly #clock: Clock;
  #retry: TimerHandle | undefined;
  #closed = false;

  constructor(
    readonly config: ClusterConfig,
    readonly cluster: Cluster,
    readonly events: EventLog,
    initial: readonly EndpointConfig[],
    clock?: Clock,
  ) {
    this.#clock = clock ?? systemClock;
    const source = config.discovery !== null ? 'dns' : config.endpointsFile !== null ? 'file' : 'endpoints';
    this.membership = new ClusterMembership(config.name, source, initial, clock === undefined ? undefined : { clock });
    this.membership.on('change', (change) => this.#apply(change));
    const d = config.discovery;
    if (d !== null) {
      this.discovery = new DnsDiscovery({
        type: d.type,
        name: d.name,
        ...(d.port === null ? {} : { port: d.port }),
        ...(d.resolver === null ? {} : { resolver: d.resolver }),
        ...(d.refreshIntervalMs === null ? {} : { refreshIntervalMs: d.refreshIntervalMs }),
        minRefreshMs: d.minRefreshMs,
        maxRefreshMs: d.maxRefreshMs,
        queryTimeoutMs: d.queryTimeoutMs,
        ipv6: d.ipv6,
        ...(clock === undefined ? {} : { clock }),
      });
      this.discovery.on('endpoints', (set) => this.membership.replace(set, 'dns'));
      this.discovery.on('stale', (info) => this.events.discoveryStale(config.name, info.reason, info.kept, info.message));
      this.discovery.on('problem', (error) => this.events.discoveryRecordSkipped(config.name, error.message));
    }
    if (config.endpointsFile !== null) {
      const file = config.endpointsFile;
      this.endpointsFile = new EndpointsFile({ path: file, ...(clock === undefined ? {} : { clock }) });
      this.endpointsFile.on('endpoints', (set) => this.membership.replace(set, 'file'));
      this.endpointsFile.on('rejected', (error) => this.events.endpointsFileRejected(config.name, file, error.message));
    }
  }

  /** Start the source: the first DNS answer (good or not) or the file (a bad file throws). */
  async start(): Promise<void> {
    if (this.discovery !== undefined) await this.discovery.start();
    if (this.endpointsFile !== undefined) await this.endpointsFile.start();
  }

  /**
   * Start without holding up a reload. An endpoints file that is bad now is logged once and
   * tried again every second until it is good (its watch starts then); meanwhile the cluster
   * keeps the set it started with.
   */
  startInBackground(failures = 0): void {
    this.start().catch((error: unknown) => {
      if (this.#closed) return;
      if (failures === 0) this.events.endpointsSourceFailed(this.config.name, error);
      this.#retry = this.#clock.setTimer(() => this.startInBackground(failures + 1), RETRY_START_MS);
    });
  }

  /** Stop the source; the cluster keeps its last set. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#retry?.cancel();
    this.#retry = undefined;
    this.discovery?.close();
    this.endpointsFile?.close();
  }

  stats(): FleetStats {
    return {
      ...this.membership.snapshot(),
      discovery: this.discovery === undefined ? null : { ...this.discovery.stats },
      endpointsFile: this.endpointsFile === undefined ? null : { ...this.endpointsFile.stats },
    };
  }

  /** The figures /metrics shows for this cluster. */
  figures(): FleetFigures {
    const m = this.membership.snapshot();
    const d = this.discovery?.stats;
    const f = this.endpointsFile?.stats;
    return {
      cluster: this.config.name,
      endpoints: this.membership.endpoints.length,
      changes: m.changes,
      added: m.added,
      removed: m.removed,
      reweighted: m.reweighted,
      dns: d === undefined ? null : { resolutions: d.resolutions, failures: d.failures, staleKept: d.staleKept },
      file: f === undefined ? null : { loads: f.loads, rejections: f.rejections },
    };
  }

  #apply(change: MembershipChange): void {
    const { diff } = change;
    const byKey = new Map(change.endpoints.map((e) => [memberKey(e.address), e]));
    for (const m of diff.added) {
      const endpoint = byKey.get(memberKey(m.address));
      if (endpoint !== undefined) this.cluster.addMember(endpoint);
    }
    for (const m of diff.removed) this.cluster.removeMember(m.address);
    for (const r of diff.reweighted) this.cluster.setWeight(r.address, r.toWeight);
    this.events.membershipChanged(this.config.name, change.origin, change.message);
  }
}
