/**
 * Hashes for the consistent-hash balancers. Both must give the same number for the same input
 * in every process, on every machine, in every Node version: that is what makes two proxy
 * instances send one key to one endpoint. So nothing here is seeded or depends on the platform.
 *
 * Two hashes for two jobs:
 *   - Building a ring or table (rare: only when the endpoint set or weights change) uses MD5
 *     from node:crypto, as Ketama does: well spread, stable by definition, and its cost does not
 *     matter there. (Not for security; xxhash, Envoy's choice, is not in Node.)
 *   - The per-request key hash must be cheap: a createHash() call costs microseconds and
 *     allocates. It is 32-bit FNV-1a over the key's UTF-16 code units, followed by murmur3's
 *     32-bit finalizer. FNV-1a alone mixes its last bytes poorly into the high bits, so keys that
 *     differ only at the end ("user-17", "user-18") would land next to each other on the ring;
 *     the finalizer gives full avalanche. No allocation.
 */
import { createHash } from 'node:crypto';

/** FNV-1a (32-bit) with murmur3's fmix32: a stable, cheap, well mixed 32-bit key hash. */
export function keyHash32(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The 16 bytes of MD5 over `text` (UTF-8), for building rings and tables. */
export function md5(text: string): Buffer {
  return createHash('md5').update(text, 'utf8').digest();
}
