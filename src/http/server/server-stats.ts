/**
 * Counters of the server policy: closes by reason and a requests-per-connection histogram
 * (Envoy's `upstream_cx_*` counters and `upstream_rq_per_cx`).
 *
 * A normal close (idle expiry, max requests reached) is a reason, not an error: every connection
 * that ends is counted under exactly one reason, the first one known.
 */

/** Why a connection (or HTTP/2 session) ended. */
export type CloseReason =
  /** No request for idleTimeoutMs. */
  | 'idleTimeout'
  /** maxRequestsPerConnection reached: the last response carried `Connection: close`. */
  | 'maxRequests'
  /** maxConnectionAgeMs passed: the next response carried `Connection: close` (HTTP/2: GOAWAY). */
  | 'maxAge'
  /** Closed while idle to make room for a newcomer at maxConnections. */
  | 'evicted'
  /** A newcomer at maxConnections with nothing idle, answered 503. */
  | 'rejected'
  /** Headers not complete within headersTimeoutMs: 408. */
  | 'headersTimeout'
  /** Request body not complete within requestTimeoutMs: 408. */
  | 'requestTimeout'
  /** Closed by drain(), gracefully. */
  | 'drain'
  /** Still open at drain's timeoutMs and destroyed. */
  | 'drainForced'
  /** The client closed, or asked to (`Connection: close`, HTTP/1.0). */
  | 'clientClose'
  /** The application or Node closed it (a handler's `Connection: close`, `socket.destroy()`). */
  | 'serverClose'
  /** A socket error, or a malformed request (Node answers 400/431). */
  | 'error'
  /** Handed over to an `upgrade`/`connect` handler (a WebSocket): no longer HTTP. */
  | 'upgrade'
  /** HTTP/2: a PING went unanswered for pingTimeoutMs. */
  | 'pingTimeout'
  /** HTTP/2: more PINGs per minute than maxPingsPerMinute: GOAWAY ENHANCE_YOUR_CALM. */
  | 'pingFlood';

export const CLOSE_REASONS: readonly CloseReason[] = [
  'idleTimeout',
  'maxRequests',
  'maxAge',
  'evicted',
  'rejected',
  'headersTimeout',
  'requestTimeout',
  'drain',
  'drainForced',
  'clientClose',
  'serverClose',
  'error',
  'upgrade',
  'pingTimeout',
  'pingFlood',
];

/** Upper bounds of the requests-per-connection buckets; the last bucket is everything above. */
export const REQUESTS_BUCKETS: readonly number[] = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096];

/** A histogram: `counts[i]` connections served at most `le[i]` requests (and more than
 * `le[i - 1]`); the final count, with `le` Infinity, is everything above the last bound. */
export interface Histogram {
  le: number[];
  counts: number[];
  /** Connections recorded. */
  total: number;
  /** Requests recorded over them. */
  sum: number;
}

export type CloseCounts = Record<CloseReason, number>;

export function emptyCloseCounts(): CloseCounts {
  const counts = {} as CloseCounts;
  for (const r of CLOSE_REASONS) counts[r] = 0;
  return counts;
}

/** A requests-per-connection histogram that records in O(buckets) and copies out on demand. */
export class RequestsHistogram {
  readonly #counts = new Float64Array(REQUESTS_BUCKETS.length + 1);
  #total = 0;
  #sum = 0;

  record(requests: number): void {
    let i = 0;
    while (i < REQUESTS_BUCKETS.length && requests > (REQUESTS_BUCKETS[i] as number)) i++;
    this.#counts[i] = (this.#counts[i] as number) + 1;
    this.#total += 1;
    this.#sum += requests;
  }

  snapshot(): Histogram {
    return { le: [...REQUESTS_BUCKETS, Infinity], counts: Array.from(this.#counts), total: this.#total, sum: this.#sum };
  }
}
