/**
 * Power of two choices on peak-EWMA latency (Finagle's and Linkerd's p2c + peak EWMA).
 *
 * Each pick draws two distinct available endpoints at random, with probability proportional to
 * weight, and takes the one with the lower load, `ewma(now) * (activeRequests + 1)`; on equal
 * load, the first drawn. An endpoint with no latency sample yet and requests in flight counts as
 * very loaded (Finagle's penalty), so a new endpoint gets one request, not a flood, until its
 * first response says how fast it is.
 *
 * Weights enter through the draw, not the load. Dividing the load by the weight as well would
 * count weight twice, and with equal latencies the lighter endpoint of a pair would never win,
 * so at low concurrency it would get no traffic at all. With the weighted draw and equal
 * latencies, traffic is proportional to weight; with unequal latencies the faster endpoint wins
 * most comparisons.
 *
 * No starvation: the slower endpoint still wins whenever the faster one has enough requests in
 * flight, and its EWMA decays toward 0 while it gets no samples (LatencyEwma.read), so even at
 * concurrency 1 it is tried again after a few half-lives and its estimate corrected.
 *
 * O(n) per pick (three passes at most), no allocation.
 */
import type { Balancer } from './balancer.js';
import type { LatencyEwma } from './latency-ewma.js';
import type { UpstreamEndpoint } from './upstream-endpoint.js';
import { eligible, fallback } from './weighted-rotation.js';

/** Load of an endpoint that has requests in flight but no latency sample yet. */
const PENALTY = 1e12;

/** @example const p2c = new P2cEwmaBalancer(ewma); const ep = p2c.pick(cluster.endpoints); */
export class P2cEwmaBalancer implements Balancer {
  readonly kind = 'p2c-ewma';
  readonly #latency: LatencyEwma;
  readonly #random: () => number;

  constructor(latency: LatencyEwma, random: () => number = Math.random) {
    this.#latency = latency;
    this.#random = random;
  }

  pick(endpoints: readonly UpstreamEndpoint[], avoid?: UpstreamEndpoint, nowMs?: number): UpstreamEndpoint | undefined {
    let count = 0;
    let totalWeight = 0;
    let only: UpstreamEndpoint | undefined;
    for (let i = 0; i < endpoints.length; i++) {
      const e = endpoints[i] as UpstreamEndpoint;
      if (!eligible(e, avoid)) continue;
      count += 1;
      totalWeight += e.weight;
      only = e;
    }
    if (count === 0) return fallback(endpoints, avoid);
    if (count === 1) return only;

    const first = this.#draw(endpoints, avoid, undefined, totalWeight);
    const second = this.#draw(endpoints, avoid, first, totalWeight - first.weight);
    const now = nowMs ?? this.#latency.clock.now();
    return this.#load(second, now) < this.#load(first, now) ? second : first;
  }

  #load(e: UpstreamEndpoint, now: number): number {
    const ewma = this.#latency.read(e, now);
    if (ewma === 0) return e.activeRequests === 0 ? 0 : PENALTY + e.activeRequests;
    return ewma * (e.activeRequests + 1);
  }

  /** One endpoint drawn with probability proportional to weight among the eligible ones except `skip`. */
  #draw(endpoints: readonly UpstreamEndpoint[], avoid: UpstreamEndpoint | undefined, skip: UpstreamEndpoint | undefined, total: number): UpstreamEndpoint {
    let r = this.#random() * total;
    let last: UpstreamEndpoint | undefined;
    for (let i = 0; i < endpoints.length; i++) {
      const e = endpoints[i] as UpstreamEndpoint;
      if (e === skip || !eligible(e, avoid)) continue;
      last = e;
      r -= e.weight;
      if (r < 0) return e;
    }
    // Only reached through float rounding (or a random() that returned 1): the last candidate.
    return last as UpstreamEndpoint;
  }
}
