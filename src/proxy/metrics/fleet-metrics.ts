/**
 * Where each cluster's endpoints come from, as Prometheus series (label `cluster`): the
 * membership's size and change counts, DNS discovery's resolutions, failures and stale answers
 * kept, the endpoints file's refusals. Read at scrape time from whatever the proxy supplies
 * (`ProxyMetrics.fleet`), so a reload that replaces the clusters needs no re-registration.
 */
import type { Registry } from 'prom-client';
import { collectedCounter, collectedGauge } from './collected-metrics.js';
import type { Sample } from './collected-metrics.js';

/** One cluster's figures; `dns` and `file` only when that source feeds the cluster. */
export interface FleetFigures {
  cluster: string;
  endpoints: number;
  changes: number;
  added: number;
  removed: number;
  reweighted: number;
  dns: { resolutions: number; failures: number; staleKept: number } | null;
  file: { loads: number; rejections: number } | null;
}

function* samples(list: readonly FleetFigures[], field: (f: FleetFigures) => number | undefined): Generator<Sample> {
  for (const f of list) {
    const value = field(f);
    if (value !== undefined) yield { labels: { cluster: f.cluster }, value };
  }
}

export function registerFleetMetrics(registry: Registry, prefix: string, read: () => readonly FleetFigures[]): void {
  const def = (name: string, help: string, field: (f: FleetFigures) => number | undefined): { name: string; help: string; labelNames: string[]; registry: Registry; read: () => Iterable<Sample> } => ({
    name: prefix + name,
    help,
    labelNames: ['cluster'],
    registry,
    read: () => samples(read(), field),
  });
  collectedGauge(def('cluster_endpoints', 'Endpoints in the cluster now (draining ones not counted).', (f) => f.endpoints));
  collectedCounter(def('membership_changes_total', 'Changes applied to the cluster\'s endpoint set.', (f) => f.changes));
  collectedCounter(def('membership_endpoints_added_total', 'Endpoints that joined the cluster.', (f) => f.added));
  collectedCounter(def('membership_endpoints_removed_total', 'Endpoints drained and removed from the cluster.', (f) => f.removed));
  collectedCounter(def('membership_endpoints_reweighted_total', 'Endpoints whose weight changed.', (f) => f.reweighted));
  collectedCounter(def('discovery_resolutions_total', 'DNS resolutions with a usable answer.', (f) => f.dns?.resolutions));
  collectedCounter(def('discovery_failures_total', 'DNS resolutions that failed (resolver error or timeout).', (f) => f.dns?.failures));
  collectedCounter(def('discovery_stale_kept_total', 'Times a failed, empty or invalid DNS answer was ignored and the last good set kept.', (f) => f.dns?.staleKept));
  collectedCounter(def('endpoints_file_rejections_total', 'Endpoints file versions refused (the old set kept).', (f) => f.file?.rejections));
}
