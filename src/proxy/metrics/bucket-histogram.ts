/**
 * A histogram that records in a few nanoseconds: fixed upper bounds, one Float64Array of
 * per-bucket counts, a sum and a count. Read out only at scrape time.
 *
 * Why not prom-client's Histogram on the hot path: its `observe()`, even on a pre-bound child,
 * re-validates and re-hashes the labels and looks buckets up by string key on every call
 * (measured ~700 ns per observation with 15 buckets on this machine; 2 % of the proxy's
 * per-request budget at 30,000 req/s). This one costs a short linear scan and two additions.
 */

export interface HistogramSnapshot {
  /** Upper bounds; a value v falls in the first bucket with v <= le. The last, +Infinity, takes the rest. */
  le: number[];
  /** Per-bucket counts (not cumulative), one more than the finite bounds. */
  counts: number[];
  /** Observations. */
  count: number;
  /** Sum of the observed values. */
  sum: number;
}

export class BucketHistogram {
  readonly bounds: readonly number[];
  readonly #counts: Float64Array;
  #count = 0;
  #sum = 0;

  /** @param bounds finite upper bounds, ascending. */
  constructor(bounds: readonly number[]) {
    for (let i = 1; i < bounds.length; i++) {
      if (!((bounds[i] as number) > (bounds[i - 1] as number))) throw new RangeError('histogram bounds must be ascending');
    }
    this.bounds = bounds;
    this.#counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    this.#counts[i] = (this.#counts[i] as number) + 1;
    this.#count += 1;
    this.#sum += value;
  }

  get count(): number {
    return this.#count;
  }

  get sum(): number {
    return this.#sum;
  }

  /** Per-bucket count at index i (i = bounds.length is the +Inf bucket). */
  bucket(i: number): number {
    return this.#counts[i] ?? 0;
  }

  snapshot(): HistogramSnapshot {
    return { le: [...this.bounds, Infinity], counts: Array.from(this.#counts), count: this.#count, sum: this.#sum };
  }
}
