/**
 * The balancer interface and its factory.
 *
 * A balancer only chooses: it reads endpoint records and never changes them (the engine counts
 * `activeRequests` and records latency). `pick` returns undefined when nothing is available; the
 * engine answers 503.
 */
import { InvalidOptionError } from '../../core/errors.js';
import { functionOption, rejectUnknown } from '../../core/options.js';
import { LatencyEwma } from './latency-ewma.js';
import { LeastConnectionsBalancer } from './least-connections.js';
import { MaglevBalancer } from './maglev.js';
import { P2cEwmaBalancer } from './p2c-ewma.js';
import { RingHashBalancer } from './ring-hash.js';
import { RoundRobinBalancer } from './round-robin.js';
import type { UpstreamEndpoint } from './upstream-endpoint.js';

export type BalancerKind = 'round-robin' | 'least-connections' | 'p2c-ewma' | 'ring-hash' | 'maglev';
export const BALANCER_KINDS: readonly BalancerKind[] = ['round-robin', 'least-connections', 'p2c-ewma', 'ring-hash', 'maglev'];
/** The kinds that pick by a request key (see hash-on.ts); without a key they rotate by weight. */
export const HASH_BALANCER_KINDS: readonly BalancerKind[] = ['ring-hash', 'maglev'];

export interface Balancer {
  readonly kind: BalancerKind;
  /**
   * Choose an endpoint among the available ones (available, weight > 0), or undefined if there
   * is none. `avoid` (say, the endpoint a retry is leaving) is skipped unless it is the only
   * choice. `nowMs`: the current time on the LatencyEwma's clock if the caller has it (the
   * request's arrival time will do); p2c-ewma otherwise reads the clock itself (~130 ns measured
   * on the bench machine, as much as the rest of the pick). O(n), no allocation.
   * `key`: the request's hash key (see `hashKey` in hash-on.ts) for ring-hash and maglev, which
   * send one key to one endpoint; the other kinds ignore it.
   */
  pick(endpoints: readonly UpstreamEndpoint[], avoid?: UpstreamEndpoint, nowMs?: number, key?: string): UpstreamEndpoint | undefined;
}

export interface BalancerOptions {
  /** Random source in [0, 1) for p2c-ewma; inject a seeded one in tests. Default Math.random. */
  random?: () => number;
  /** The latency averages p2c-ewma reads; share it with the code that records latencies.
   * Default: a new LatencyEwma with its defaults (10 s half-life, system clock). */
  latency?: LatencyEwma;
}

/**
 * @example
 *   const ewma = new LatencyEwma();
 *   const balancer = createBalancer('p2c-ewma', { latency: ewma });
 *   const endpoint = balancer.pick(endpoints); // undefined -> 503
 */
export function createBalancer(kind: BalancerKind, options?: BalancerOptions): Balancer {
  const o = rejectUnknown('createBalancer', options, ['random', 'latency']);
  const random = functionOption<() => number>('createBalancer', o, 'random');
  const latency = o['latency'];
  if (latency !== undefined && !(latency instanceof LatencyEwma)) {
    throw new InvalidOptionError('createBalancer.latency', 'createBalancer.latency must be a LatencyEwma');
  }
  switch (kind) {
    case 'round-robin':
      return new RoundRobinBalancer();
    case 'least-connections':
      return new LeastConnectionsBalancer();
    case 'p2c-ewma':
      return new P2cEwmaBalancer(latency ?? new LatencyEwma(), random);
    case 'ring-hash':
      return new RingHashBalancer();
    case 'maglev':
      return new MaglevBalancer();
    default:
      throw new InvalidOptionError('kind', `balancer kind must be one of ${BALANCER_KINDS.map((k) => JSON.stringify(k)).join(', ')}; got ${JSON.stringify(kind)}`);
  }
}
