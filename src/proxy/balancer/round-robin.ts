/**
 * Weighted round robin, nginx's smooth variant (see weighted-rotation.ts): deterministic,
 * interleaved, exactly proportional to weights over every `sum(weights)` picks while the set of
 * available endpoints is fixed. Unavailable endpoints are skipped and add nothing to the total,
 * so traffic shifts to the rest at once and comes back when they return.
 */
import type { Balancer } from './balancer.js';
import type { UpstreamEndpoint } from './upstream-endpoint.js';
import { eligible, fallback } from './weighted-rotation.js';

/** @example const rr = new RoundRobinBalancer(); const ep = rr.pick(cluster.endpoints); */
export class RoundRobinBalancer implements Balancer {
  readonly kind = 'round-robin';

  pick(endpoints: readonly UpstreamEndpoint[], avoid?: UpstreamEndpoint): UpstreamEndpoint | undefined {
    let total = 0;
    let best: UpstreamEndpoint | undefined;
    for (let i = 0; i < endpoints.length; i++) {
      const e = endpoints[i] as UpstreamEndpoint;
      if (!eligible(e, avoid)) continue;
      e.rotation += e.weight;
      total += e.weight;
      if (best === undefined || e.rotation > best.rotation) best = e;
    }
    if (best === undefined) return fallback(endpoints, avoid);
    best.rotation -= total;
    return best;
  }
}
