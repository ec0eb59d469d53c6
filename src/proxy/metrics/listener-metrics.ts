/**
 * Per-listener downstream counters: connections accepted, open, closed by reason; requests by
 * status class; request duration; requests rejected with a 4xx before reaching an upstream, by
 * error code (ERR_HTTP_CL_TE, ...). Same rule as upstream: methods are field increments, kept
 * objects, values read at scrape time.
 *
 * Close reasons are lifeline's one vocabulary (`CloseReason` of lifeline/core), as every layer
 * counts them.
 */
import { CLOSE_REASON_NAMES } from '../../core/close-reason.js';
import type { CloseReason } from '../../core/close-reason.js';
import { BucketHistogram } from './bucket-histogram.js';
import type { HistogramSnapshot } from './bucket-histogram.js';

export type DownstreamCloseReason = CloseReason;
export const DOWNSTREAM_CLOSE_REASONS: readonly DownstreamCloseReason[] = CLOSE_REASON_NAMES;

export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export type StatusClass = (typeof STATUS_CLASSES)[number];

/** Upper bounds (seconds) of the request duration histogram. */
export const DURATION_BUCKETS_SECONDS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** A plain copy of one listener's numbers, for /stats. */
export interface ListenerStats {
  /** Connections accepted. */
  cxTotal: number;
  /** Gauge: connections open now. */
  cxActive: number;
  /** Connections closed, by the server policy's reason. */
  cxClosed: Record<DownstreamCloseReason, number>;
  /** Responses sent, by status class. */
  rq: Record<StatusClass, number>;
  /** Request duration (first byte in to last byte out), seconds. */
  rqDuration: HistogramSnapshot;
  /** Requests rejected with a 4xx by the proxy itself, by error code. */
  rqRejected: Record<string, number>;
}

/**
 * @example
 *   const m = metrics.listener('main'); // once per listener
 *   m.connectionAccepted(); m.request(200, 1.7); m.connectionClosed('idle_timeout');
 */
export class ListenerMetrics {
  readonly name: string;
  readonly labels: Readonly<Record<'listener', string>>;
  #cxTotal = 0;
  #cxActive = 0;
  readonly #cxClosed: Record<DownstreamCloseReason, number>;
  /** Index 0..4 = 1xx..5xx. Statuses outside 100-599 are not counted. */
  readonly #rq = new Float64Array(5);
  readonly #duration: BucketHistogram;
  readonly #rejected = new Map<string, number>();

  constructor(name: string, durationBucketsSeconds: readonly number[] = DURATION_BUCKETS_SECONDS) {
    this.name = name;
    this.labels = { listener: name };
    const closed = {} as Record<DownstreamCloseReason, number>;
    for (const r of DOWNSTREAM_CLOSE_REASONS) closed[r] = 0;
    this.#cxClosed = closed;
    this.#duration = new BucketHistogram(durationBucketsSeconds);
  }

  connectionAccepted(): void {
    this.#cxTotal += 1;
    this.#cxActive += 1;
  }

  connectionClosed(reason: DownstreamCloseReason): void {
    this.#cxActive -= 1;
    this.#cxClosed[reason] += 1;
  }

  /** A response was sent with `status`, `durationMs` after the request began. */
  request(status: number, durationMs: number): void {
    const i = ((status / 100) | 0) - 1;
    if (i >= 0 && i < 5) this.#rq[i] = (this.#rq[i] as number) + 1;
    this.#duration.observe(durationMs / 1000);
  }

  /** The proxy refused a request itself (400, 431, ...) for `code`, e.g. `ERR_HTTP_CL_TE`. */
  rejected(code: string): void {
    this.#rejected.set(code, (this.#rejected.get(code) ?? 0) + 1);
  }

  /** @internal read by the scrape. */
  get histogram(): BucketHistogram {
    return this.#duration;
  }

  /** @internal read by the scrape. */
  rejectedCodes(): IterableIterator<[string, number]> {
    return this.#rejected.entries();
  }

  stats(): ListenerStats {
    const rq = {} as Record<StatusClass, number>;
    STATUS_CLASSES.forEach((c, i) => (rq[c] = this.#rq[i] as number));
    return {
      cxTotal: this.#cxTotal,
      cxActive: this.#cxActive,
      cxClosed: { ...this.#cxClosed },
      rq,
      rqDuration: this.#duration.snapshot(),
      rqRejected: Object.fromEntries(this.#rejected),
    };
  }
}
