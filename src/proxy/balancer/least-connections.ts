/**
 * Weighted least connections: the endpoint with the fewest `activeRequests / weight` wins; ties
 * are broken by smooth weighted round robin among the tied endpoints only.
 *
 * Why the weighted tie-break: at low concurrency every endpoint is idle (all tie at 0), and a
 * plain rotation would then ignore weights entirely; with the weighted rotation the weights hold
 * at any load, and under load the ratio `active / weight` keeps busy endpoints proportional.
 * Ratios are compared by cross-multiplication (`a.active * b.weight`), exact for integers.
 *
 * Two passes over the endpoints, no allocation.
 */
import type { Balancer } from './balancer.js';
import type { UpstreamEndpoint } from './upstream-endpoint.js';
import { eligible, fallback } from './weighted-rotation.js';

/** @example const lc = new LeastConnectionsBalancer(); const ep = lc.pick(cluster.endpoints); */
export class LeastConnectionsBalancer implements Balancer {
  readonly kind = 'least-connections';

  pick(endpoints: readonly UpstreamEndpoint[], avoid?: UpstreamEndpoint): UpstreamEndpoint | undefined {
    let minActive = -1;
    let minWeight = 1;
    for (let i = 0; i < endpoints.length; i++) {
      const e = endpoints[i] as UpstreamEndpoint;
      if (!eligible(e, avoid)) continue;
      if (minActive < 0 || e.activeRequests * minWeight < minActive * e.weight) {
        minActive = e.activeRequests;
        minWeight = e.weight;
      }
    }
    if (minActive < 0) return fallback(endpoints, avoid);

    let total = 0;
    let best: UpstreamEndpoint | undefined;
    for (let i = 0; i < endpoints.length; i++) {
      const e = endpoints[i] as UpstreamEndpoint;
      if (!eligible(e, avoid) || e.activeRequests * minWeight !== minActive * e.weight) continue;
      e.rotation += e.weight;
      total += e.weight;
      if (best === undefined || e.rotation > best.rotation) best = e;
    }
    if (best !== undefined) best.rotation -= total;
    return best;
  }
}
