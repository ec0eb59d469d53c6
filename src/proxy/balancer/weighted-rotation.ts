/**
 * nginx's smooth weighted round robin (ngx_http_upstream_get_peer), as a reusable step, plus the
 * eligibility rules every balancer shares.
 *
 * Each pick adds every candidate's weight to its `rotation` ("current weight"), takes the
 * candidate with the largest value and subtracts the candidates' total weight from it. Over any
 * run of `sum(weights)` picks with a fixed set, each endpoint is picked exactly `weight` times,
 * interleaved (weights 5,1,1 give a a b a c a a, not a a a a a b c). Sum of all `rotation`
 * values stays 0 over the candidates, so values stay bounded by the total weight.
 *
 * State lives on the endpoint record (`rotation`), so the engine may pass a fresh array when
 * membership changes and the rotation carries on; nothing is allocated per pick.
 */
import type { UpstreamEndpoint } from './upstream-endpoint.js';

/** An endpoint a balancer may pick: available, positive weight, not the one to avoid. */
export function eligible(endpoint: UpstreamEndpoint, avoid: UpstreamEndpoint | undefined): boolean {
  return endpoint.available && endpoint.weight > 0 && endpoint !== avoid;
}

/**
 * `avoid` itself when nothing else can be picked and it is a pickable member of `endpoints`
 * (a retry then goes back to the same endpoint rather than failing); otherwise undefined.
 */
export function fallback(endpoints: readonly UpstreamEndpoint[], avoid: UpstreamEndpoint | undefined): UpstreamEndpoint | undefined {
  if (avoid === undefined || !eligible(avoid, undefined)) return undefined;
  return endpoints.includes(avoid) ? avoid : undefined;
}
