/**
 * What `/readyz` answers: ready when every listener is bound, the proxy is not draining, and
 * every cluster (or each one named) has at least one available endpoint (healthy and not
 * ejected). Each check is listed with its outcome, so a 503 says which one failed.
 */

export interface ReadinessInput {
  listeners: readonly { name: string; bound: boolean; draining: boolean }[];
  /** Cluster name to endpoints in all and endpoints available. */
  clusters: ReadonlyMap<string, { endpoints: number; available: number }>;
}

export interface ReadinessCheck {
  check: 'listener_bound' | 'not_draining' | 'cluster_has_healthy_endpoint' | 'cluster_known';
  ok: boolean;
  /** The listener or cluster the check is about. */
  subject: string;
  detail: string;
}

export interface Readiness {
  ready: boolean;
  /** The checks that failed (empty when ready). */
  failed: ReadinessCheck[];
  checks: ReadinessCheck[];
}

/** @param only cluster names from `?cluster=a,b`; undefined = every cluster. */
export function readiness(input: ReadinessInput, only?: readonly string[]): Readiness {
  const checks: ReadinessCheck[] = [];
  for (const l of input.listeners) {
    checks.push({ check: 'listener_bound', ok: l.bound, subject: l.name, detail: l.bound ? 'listening' : 'not listening' });
  }
  const draining = input.listeners.filter((l) => l.draining).map((l) => l.name);
  checks.push({ check: 'not_draining', ok: draining.length === 0, subject: 'proxy', detail: draining.length === 0 ? 'serving' : `draining: ${draining.join(', ')}` });
  const names = only ?? [...input.clusters.keys()];
  for (const name of names) {
    const c = input.clusters.get(name);
    if (c === undefined) {
      checks.push({ check: 'cluster_known', ok: false, subject: name, detail: `no cluster named "${name}" (defined: ${[...input.clusters.keys()].join(', ')})` });
      continue;
    }
    checks.push({ check: 'cluster_has_healthy_endpoint', ok: c.available > 0, subject: name, detail: `${c.available} of ${c.endpoints} endpoints available` });
  }
  const failed = checks.filter((c) => !c.ok);
  return { ready: failed.length === 0, failed, checks };
}

/** `?cluster=a,b` of a request URL, or undefined when absent. */
export function clustersParam(url: URL): string[] | undefined {
  const values = url.searchParams.getAll('cluster');
  if (values.length === 0) return undefined;
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}
