/**
 * Per-listener downstream counters: connections accepted, open, closed by reason; requests by
 * status class; request duration; requests rejected with a 4xx before reaching an upstream, by
 * error code (ERR_HTTP_CL_TE, ...). Same rule as upstream: methods are field increments, kept
 * objects, values read at scrape time.
 *
 * Close reasons are the server policy's own (`ServerCloseReason` of lifeline/server, names of the
 * one vocabulary in core), so the proxy's client side counts exactly what that layer reports.
 */
import { SERVER_CLOSE_REASONS } from '../../http/server/server-stats.js';
import type { ServerCloseReason } from '../../http/server/server-stats.js';
import { BucketHistogram } from './bucket-histogram.js';
import type { HistogramSnapshot } from './bucket-histogram.js';

export const DOWNSTREAM_CLOSE_REASONS: readonly ServerCloseReason[] = SERVER_CLOSE_REASONS;

/**
 * The server policy's former camelCase names, still passed by the proxy engine until it moves to
 * the shared server-policy pieces; counted under the new name. Remove with the engine rewrite.
 */
const LEGACY_REASONS = {
  idleTimeout: 'idle_timeout',
  maxRequests: 'max_requests',
  maxAge: 'max_age',
  headersTimeout: 'headers_timeout',
  requestTimeout: 'request_timeout',
  drainForced: 'drain_forced',
  clientClose: 'peer_close',
  serverClose: 'app_close',
  pingTimeout: 'heartbeat_timeout',
  pingFlood: 'flood',
} as const satisfies Record<string, ServerCloseReason>;
type LegacyDownstreamCloseReason = keyof typeof LEGACY_REASONS;
/** What `connectionClosed` takes: a reason of the vocabulary, or (until the engine moves) a former name. */
export type DownstreamCloseReason = ServerCloseReason | LegacyDownstreamCloseReason;

/** The reason in the one vocabulary, for a new or a former name. */
export function downstreamReason(reason: DownstreamCloseReason): ServerCloseReason {
  return Object.hasOwn(LEGACY_REASONS, reason) ? LEGACY_REASONS[reason as LegacyDownstreamCloseReason] : (reason as ServerCloseReason);
}

/** `idleTimeout` -> `idle_timeout`. */
export function snakeCase(reason: string): string {
  return reason.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

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
  cxClosed: Record<ServerCloseReason, number>;
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
  readonly #cxClosed: Record<ServerCloseReason, number>;
  /** Index 0..4 = 1xx..5xx. Statuses outside 100-599 are not counted. */
  readonly #rq = new Float64Array(5);
  readonly #duration: BucketHistogram;
  readonly #rejected = new Map<string, number>();

  constructor(name: string, durationBucketsSeconds: readonly number[] = DURATION_BUCKETS_SECONDS) {
    this.name = name;
    this.labels = { listener: name };
    const closed = {} as Record<ServerCloseReason, number>;
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
    this.#cxClosed[downstreamReason(reason)] += 1;
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
