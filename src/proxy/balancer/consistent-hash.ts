/**
 * What the two consistent-hash balancers (ring-hash, maglev) share: rebuild only when the
 * endpoint set or a weight changes, pick by key, walk past unavailable endpoints, and fall back
 * to weighted round robin for a request that has no key.
 *
 * Why a request without a key goes round robin: the key is missing when the header or cookie
 * is absent (a first visit, a client that sends none). Sending every such request to the one
 * endpoint that owns the empty string would overload it; spreading them by weight is what a
 * keyless balancer would do, and keeps the weights true.
 *
 * Why the build sorts endpoints by key: the lookup structure must depend only on the set of
 * `(key, weight)` pairs, never on the order the engine happens to list them, so that every
 * proxy instance with the same set sends one request key to the same endpoint.
 *
 * Change detection is a loop comparing the list against the last one built (identity and
 * weight of each record): O(n) per pick like every other balancer, no allocation; `available`
 * is not part of it, so an endpoint that fails health checks keeps its place and gets its keys
 * back when it returns.
 */
import type { Balancer, BalancerKind } from './balancer.js';
import { RoundRobinBalancer } from './round-robin.js';
import type { UpstreamEndpoint } from './upstream-endpoint.js';
import { eligible, fallback } from './weighted-rotation.js';

export abstract class ConsistentHashBalancer implements Balancer {
  abstract readonly kind: BalancerKind;
  readonly #keyless = new RoundRobinBalancer();
  #built: UpstreamEndpoint[] = [];
  #builtWeights: number[] = [];
  #rebuilds = 0;

  /** How many times the lookup structure was built (a test and stats figure). */
  get rebuilds(): number {
    return this.#rebuilds;
  }

  pick(endpoints: readonly UpstreamEndpoint[], avoid?: UpstreamEndpoint, _nowMs?: number, key?: string): UpstreamEndpoint | undefined {
    if (key === undefined) return this.#keyless.pick(endpoints, avoid);
    if (this.#changed(endpoints)) this.#rebuild(endpoints);
    let any = false;
    for (let i = 0; i < endpoints.length; i++) {
      if (eligible(endpoints[i] as UpstreamEndpoint, avoid)) {
        any = true;
        break;
      }
    }
    if (!any) return fallback(endpoints, avoid);
    return this.lookup(key, avoid) ?? fallback(endpoints, avoid);
  }

  /**
   * Build the lookup structure from `members`: weight >= 1, sorted by key, keys unique.
   * Called only when the set or a weight changed.
   */
  protected abstract build(members: readonly UpstreamEndpoint[]): void;

  /** The owner of `key`, walking on past endpoints that are not eligible; undefined if none is found. */
  protected abstract lookup(key: string, avoid: UpstreamEndpoint | undefined): UpstreamEndpoint | undefined;

  #changed(endpoints: readonly UpstreamEndpoint[]): boolean {
    if (endpoints.length !== this.#built.length) return true;
    for (let i = 0; i < endpoints.length; i++) {
      const e = endpoints[i] as UpstreamEndpoint;
      if (e !== this.#built[i] || e.weight !== this.#builtWeights[i]) return true;
    }
    return false;
  }

  #rebuild(endpoints: readonly UpstreamEndpoint[]): void {
    this.#built = [...endpoints];
    this.#builtWeights = endpoints.map((e) => e.weight);
    const members = endpoints.filter((e) => e.weight > 0).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    this.build(members);
    this.#rebuilds += 1;
  }
}
