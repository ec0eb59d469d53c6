/**
 * Maglev hashing (Google's Maglev paper; Envoy's `MAGLEV`): a lookup table of a prime number of
 * slots (65537 by default, Envoy's), each naming an endpoint. A request key hashes to a slot.
 * Compared with the ring: O(1) lookup, a near-perfect spread (every endpoint owns its weighted
 * share of slots to within one slot), and slightly more keys moved on a change than the minimal
 * 1/N.
 *
 * Build: each endpoint has its own permutation of the slots, `offset + j * skip (mod M)`, from
 * two 32-bit words of `md5(key)`; in rounds, each endpoint claims its next preferred slot that
 * is still free, until every slot is taken. Weights as Envoy does them: in round r an endpoint
 * claims a slot only while `count * maxWeight <= r * weight`, so claims follow the weights
 * exactly (integer arithmetic, no float drift between machines).
 *
 * Lookup: slot `hash(key) mod M`; if its endpoint is unavailable (or `avoid`), the next slots in
 * turn, whose owners are spread like the table itself, so an unavailable endpoint's keys are
 * shared among the others and come back when it does (the table is not rebuilt for health).
 */
import { InvalidOptionError } from '../../core/errors.js';
import { integerOption, rejectUnknown } from '../../core/options.js';
import { ConsistentHashBalancer } from './consistent-hash.js';
import { keyHash32, md5 } from './hash.js';
import type { UpstreamEndpoint } from './upstream-endpoint.js';
import { eligible } from './weighted-rotation.js';

export interface MaglevOptions {
  /** Slots in the table, a prime; should be well above 100 x the endpoint count. Default 65537. */
  tableSize?: number;
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/** @example const maglev = new MaglevBalancer(); const ep = maglev.pick(views, undefined, now, clientIp); */
export class MaglevBalancer extends ConsistentHashBalancer {
  readonly kind = 'maglev';
  readonly tableSize: number;
  #table: Int32Array;
  #members: readonly UpstreamEndpoint[] = [];

  constructor(options?: MaglevOptions) {
    super();
    const o = rejectUnknown('MaglevBalancer', options, ['tableSize']);
    this.tableSize = integerOption('MaglevBalancer', o, 'tableSize', 65_537, { min: 2, max: 5_000_011 });
    if (!isPrime(this.tableSize)) {
      throw new InvalidOptionError('MaglevBalancer.tableSize', `MaglevBalancer.tableSize must be a prime (every permutation must visit every slot); got ${this.tableSize}`);
    }
    this.#table = new Int32Array(0);
  }

  protected build(members: readonly UpstreamEndpoint[]): void {
    this.#members = members;
    const size = this.tableSize;
    const table = new Int32Array(size).fill(-1);
    this.#table = table;
    if (members.length === 0) return;
    const n = members.length;
    const offset = new Float64Array(n);
    const skip = new Float64Array(n);
    const next = new Float64Array(n);
    const count = new Float64Array(n);
    let maxWeight = 0;
    for (let i = 0; i < n; i++) {
      const m = members[i] as UpstreamEndpoint;
      const d = md5(m.key);
      offset[i] = d.readUInt32LE(0) % size;
      skip[i] = (d.readUInt32LE(4) % (size - 1)) + 1;
      maxWeight = Math.max(maxWeight, m.weight);
    }
    let filled = 0;
    for (let round = 1; filled < size; round++) {
      for (let i = 0; i < n && filled < size; i++) {
        if ((count[i] as number) * maxWeight > round * (members[i] as UpstreamEndpoint).weight) continue;
        let slot = ((offset[i] as number) + (next[i] as number) * (skip[i] as number)) % size;
        while ((table[slot] as number) >= 0) {
          next[i] = (next[i] as number) + 1;
          slot = ((offset[i] as number) + (next[i] as number) * (skip[i] as number)) % size;
        }
        table[slot] = i;
        next[i] = (next[i] as number) + 1;
        count[i] = (count[i] as number) + 1;
        filled += 1;
      }
    }
  }

  protected lookup(key: string, avoid: UpstreamEndpoint | undefined): UpstreamEndpoint | undefined {
    const table = this.#table;
    const size = table.length;
    if (size === 0 || this.#members.length === 0) return undefined;
    let slot = keyHash32(key) % size;
    for (let step = 0; step < size; step++) {
      const e = this.#members[table[slot] as number] as UpstreamEndpoint;
      if (eligible(e, avoid)) return e;
      slot = slot + 1 === size ? 0 : slot + 1;
    }
    return undefined;
  }
}
