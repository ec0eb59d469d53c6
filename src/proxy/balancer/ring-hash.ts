/**
 * Ring hash (Ketama; Envoy's `RING_HASH`): every endpoint owns many points on a circle of 2^32
 * positions; a request key hashes to a position and goes to the owner of the next point
 * clockwise. When one of N endpoints leaves, only the keys on its arcs move (about 1/N), and
 * they spread over the others because its points are scattered.
 *
 * Points: `md5("<key>-<n>")` gives four 32-bit points per digest (Ketama's layout), so an
 * endpoint's points for a larger count extend those for a smaller one. An endpoint of weight w
 * gets `pointsPerWeight * w / g` points, g the greatest common divisor of the weights (so equal
 * weights of any size mean the same ring). That count depends only on the endpoint's own weight,
 * not on how many others there are, which is what makes a removal move only the removed
 * endpoint's keys. (Envoy instead scales every endpoint to fill a ring of a minimum size, so its
 * counts change with the member count and a removal also moves keys between survivors.) The
 * share of an endpoint with k points varies by about 1/sqrt(k): 1024 points, the default, give
 * about 3 %. Only when the total falls below `minRingSize` (1024, Envoy's minimum) or rises
 * above `maxRingSize` are all counts scaled, and then a change moves more keys than 1/N.
 *
 * Lookup: binary search over a sorted Uint32Array, then a walk clockwise past endpoints that are
 * unavailable (or `avoid`). O(log R), no allocation.
 */
import { integerOption, rejectUnknown } from '../../core/options.js';
import { ConsistentHashBalancer } from './consistent-hash.js';
import { keyHash32, md5 } from './hash.js';
import type { UpstreamEndpoint } from './upstream-endpoint.js';
import { eligible } from './weighted-rotation.js';

export interface RingHashOptions {
  /** Points per unit of (gcd-reduced) weight. Default 1024. */
  pointsPerWeight?: number;
  /** Points on the ring at least (Envoy's minimum_ring_size). Default 1024. */
  minRingSize?: number;
  /** Points on the ring at most, whatever the weights. Default 1_048_576 (8 MB of ring). */
  maxRingSize?: number;
}

/** Owner indexes packed below each point; more endpoints than this in one cluster are not placed. */
const OWNER_SCALE = 1_048_576;

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** @example const ring = new RingHashBalancer(); const ep = ring.pick(views, undefined, now, userId); */
export class RingHashBalancer extends ConsistentHashBalancer {
  readonly kind = 'ring-hash';
  readonly pointsPerWeight: number;
  readonly minRingSize: number;
  readonly maxRingSize: number;
  #points = new Uint32Array(0);
  #owners: UpstreamEndpoint[] = [];

  constructor(options?: RingHashOptions) {
    super();
    const o = rejectUnknown('RingHashBalancer', options, ['pointsPerWeight', 'minRingSize', 'maxRingSize']);
    this.maxRingSize = integerOption('RingHashBalancer', o, 'maxRingSize', 1_048_576, { min: 1, max: 8_388_608 });
    this.minRingSize = integerOption('RingHashBalancer', o, 'minRingSize', 1024, { min: 1, max: this.maxRingSize });
    this.pointsPerWeight = integerOption('RingHashBalancer', o, 'pointsPerWeight', 1024, { min: 1, max: this.maxRingSize });
  }

  /** Points currently on the ring. */
  get ringSize(): number {
    return this.#points.length;
  }

  protected build(members: readonly UpstreamEndpoint[]): void {
    if (members.length === 0) {
      this.#points = new Uint32Array(0);
      this.#owners = [];
      return;
    }
    let g = 0;
    let units = 0;
    for (const m of members) g = gcd(g, m.weight);
    for (const m of members) units += m.weight / g;
    let perUnit = this.pointsPerWeight;
    if (units * perUnit < this.minRingSize) perUnit = this.minRingSize / units;
    if (units * perUnit > this.maxRingSize) perUnit = this.maxRingSize / units;
    // Pack (point, owner index) in one float64 so a typed-array sort orders by point, then by
    // owner (the sorted key order): exact, since 2^32 * 2^20 < 2^53.
    const packed: number[] = [];
    for (let i = 0; i < members.length && i < OWNER_SCALE; i++) {
      const m = members[i] as UpstreamEndpoint;
      const count = Math.max(1, Math.round((perUnit * m.weight) / g));
      let digest = md5(`${m.key}-0`);
      for (let n = 0; n < count; n++) {
        if (n > 0 && n % 4 === 0) digest = md5(`${m.key}-${n / 4}`);
        packed.push(digest.readUInt32LE((n % 4) * 4) * OWNER_SCALE + i);
      }
    }
    const sorted = Float64Array.from(packed).sort();
    this.#points = new Uint32Array(sorted.length);
    this.#owners = new Array<UpstreamEndpoint>(sorted.length);
    for (let j = 0; j < sorted.length; j++) {
      const v = sorted[j] as number;
      const point = Math.floor(v / OWNER_SCALE);
      this.#points[j] = point;
      this.#owners[j] = members[v - point * OWNER_SCALE] as UpstreamEndpoint;
    }
  }

  protected lookup(key: string, avoid: UpstreamEndpoint | undefined): UpstreamEndpoint | undefined {
    const points = this.#points;
    const n = points.length;
    if (n === 0) return undefined;
    const h = keyHash32(key);
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((points[mid] as number) < h) lo = mid + 1;
      else hi = mid;
    }
    let i = lo === n ? 0 : lo;
    for (let step = 0; step < n; step++) {
      const e = this.#owners[i] as UpstreamEndpoint;
      if (eligible(e, avoid)) return e;
      i = i + 1 === n ? 0 : i + 1;
    }
    return undefined;
  }
}
