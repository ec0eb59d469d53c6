/**
 * Counters of the server policy: closes by reason and a requests-per-connection histogram
 * (Envoy's `upstream_cx_*` counters and `upstream_rq_per_cx`).
 *
 * A normal close (idle expiry, max requests reached) is a reason, not an error: every connection
 * that ends is counted under exactly one reason, the first one known.
 */
import { reasonFromError } from '../../core/close-reason.js';
import type { CloseReason } from '../../core/close-reason.js';

/**
 * Why a connection (or HTTP/2 session) ended: the reasons of lifeline's one vocabulary
 * (`CloseReason` of lifeline/core, which says each one's side and meaning) that the server policy
 * can produce. How each arises here:
 * - `idle_timeout`: no request for idleTimeoutMs (HTTP/2: no open stream for it).
 * - `max_requests`: maxRequestsPerConnection reached; the last response carried `Connection: close`.
 * - `max_age`: maxConnectionAgeMs passed; the next response carried `Connection: close` (HTTP/2: GOAWAY).
 * - `evicted`: closed while idle to make room for a newcomer at maxConnections.
 * - `rejected`: a newcomer at maxConnections with nothing idle, answered 503.
 * - `headers_timeout` / `request_timeout`: head or body not complete in time: 408.
 * - `drain` / `drain_forced`: closed by drain(), gracefully / destroyed at its timeoutMs.
 * - `peer_close`: the client closed, or asked to (`Connection: close`, HTTP/1.0).
 * - `app_close`: the application or Node closed it (a handler's `Connection: close`, `socket.destroy()`).
 * - `reset` / `tcp_timeout` / `tls_error` / `error`: a socket error, by `reasonFromError` (a
 *   malformed request that Node answers 400/431 is `error`).
 * - `upgrade`: handed over to an `upgrade`/`connect` handler (a WebSocket): no longer HTTP.
 * - `heartbeat_timeout`: HTTP/2, a PING went unanswered for pingTimeoutMs.
 * - `flood`: HTTP/2, more PINGs per minute than maxPingsPerMinute: GOAWAY ENHANCE_YOUR_CALM.
 */
export type ServerCloseReason = Extract<
  CloseReason,
  | 'idle_timeout'
  | 'max_requests'
  | 'max_age'
  | 'evicted'
  | 'rejected'
  | 'headers_timeout'
  | 'request_timeout'
  | 'drain'
  | 'drain_forced'
  | 'peer_close'
  | 'app_close'
  | 'error'
  | 'reset'
  | 'tcp_timeout'
  | 'tls_error'
  | 'upgrade'
  | 'heartbeat_timeout'
  | 'flood'
>;

/** Every reason the server policy counts, in the order its stats list them. */
export const SERVER_CLOSE_REASONS: readonly ServerCloseReason[] = [
  'idle_timeout',
  'max_requests',
  'max_age',
  'evicted',
  'rejected',
  'headers_timeout',
  'request_timeout',
  'drain',
  'drain_forced',
  'peer_close',
  'app_close',
  'error',
  'reset',
  'tcp_timeout',
  'tls_error',
  'upgrade',
  'heartbeat_timeout',
  'flood',
];

/** `reasonFromError(error)`, as one of the reasons the server counts. */
export function serverReasonFromError(error: unknown): ServerCloseReason {
  const reason = reasonFromError(error);
  return reason === 'reset' || reason === 'tcp_timeout' || reason === 'tls_error' ? reason : 'error';
}

/** What `KeepAliveController.stats()` returns. */
export interface ServerStats {
  open: number;
  idle: number;
  active: number;
  draining: number;
  /** Newcomers held unread at maxConnections (whenFull 'pause'). */
  queued: number;
  /** Connections accepted (admitted or rejected) and requests received since attach. */
  accepted: number;
  requests: number;
  closes: CloseCounts;
  requestsPerConnection: Histogram;
}

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

export type CloseCounts = Record<ServerCloseReason, number>;

export function emptyCloseCounts(): CloseCounts {
  const counts = {} as CloseCounts;
  for (const r of SERVER_CLOSE_REASONS) counts[r] = 0;
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
