/**
 * The dashboard's data: a status sample every `intervalMs`, turned into rates (requests per
 * second, by status class, closes per second by layer and reason) and latency percentiles over
 * the interval, kept for the last `historyPoints` intervals, and pushed to every connected page
 * by Server-Sent Events. A page that connects gets the history first, then one `tick` per
 * interval. The timer is unref'd and `close()` ends every stream.
 */
import type http from 'node:http';
import { CLOSE_REASONS } from '../../core/close-reason.js';
import type { StatusSample } from './status-sample.js';

export interface FeedPoint {
  t: number;
  rps: number;
  /** Responses per second by status class. */
  classes: Record<string, number>;
  /** Latency percentiles over the interval, ms; null with no request. */
  p50: number | null;
  p90: number | null;
  p99: number | null;
  /** Closes per second, keyed `layer:reason` (downstream:idle_timeout). */
  closes: Record<string, number>;
}

export interface FeedOptions {
  intervalMs?: number;
  historyPoints?: number;
}

/** Which side ended a connection closed for `reason` (snake_case); `unknown` outside the vocabulary. */
export function sideOf(reason: string): 'local' | 'remote' | 'unknown' {
  return (CLOSE_REASONS as Record<string, { side: 'local' | 'remote' } | undefined>)[reason]?.side ?? 'unknown';
}

/** The q-quantile (0..1) of a per-bucket count delta, interpolated within its bucket, in ms. */
export function quantileMs(bounds: readonly number[], counts: readonly number[], q: number): number | null {
  let total = 0;
  for (const c of counts) total += c;
  if (total <= 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i] as number;
    if (c > 0 && seen + c >= rank) {
      const lower = i === 0 ? 0 : (bounds[i - 1] as number);
      // Above the last bound there is no upper edge: report the last bound.
      if (i >= bounds.length) return lower * 1000;
      const upper = bounds[i] as number;
      return (lower + ((upper - lower) * (rank - seen)) / c) * 1000;
    }
    seen += c;
  }
  return (bounds[bounds.length - 1] ?? 0) * 1000;
}

function perSecond(now: Record<string, number>, before: Record<string, number>, seconds: number, prefix: string, out: Record<string, number>): void {
  for (const [k, v] of Object.entries(now)) {
    const d = v - (before[k] ?? 0);
    if (d > 0) out[prefix + k] = d / seconds;
  }
}

export class DashboardFeed {
  readonly intervalMs: number;
  readonly historyPoints: number;
  readonly #sample: () => StatusSample;
  readonly #clients = new Set<http.ServerResponse>();
  readonly #history: FeedPoint[] = [];
  #last: StatusSample;
  #timer: NodeJS.Timeout | undefined;

  constructor(sample: () => StatusSample, options: FeedOptions = {}) {
    this.intervalMs = options.intervalMs ?? 1000;
    this.historyPoints = options.historyPoints ?? 300;
    this.#sample = sample;
    this.#last = sample();
    this.#timer = setInterval(this.#tick, this.intervalMs);
    this.#timer.unref();
  }

  get clients(): number {
    return this.#clients.size;
  }

  /** The latest sample and the history, as one JSON-able object (also `/api/dashboard`). */
  current(): { state: StatusSample; history: FeedPoint[] } {
    return { state: this.#last, history: this.#history };
  }

  /** Serve one EventSource stream on `res` until the page goes away or the feed closes. */
  attach(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    // The browser reconnects after `retry` ms if the stream drops (a reload, a restart).
    res.write(`retry: 2000\nevent: history\ndata: ${JSON.stringify(this.current())}\n\n`);
    this.#clients.add(res);
    const gone = (): void => {
      this.#clients.delete(res);
    };
    req.on('close', gone);
    res.on('close', gone);
  }

  readonly #tick = (): void => {
    const now = this.#sample();
    const point = this.#point(this.#last, now);
    this.#last = now;
    this.#history.push(point);
    if (this.#history.length > this.historyPoints) this.#history.shift();
    if (this.#clients.size === 0) return;
    const message = `event: tick\ndata: ${JSON.stringify({ state: now, point })}\n\n`;
    for (const res of this.#clients) res.write(message);
  };

  #point(before: StatusSample, now: StatusSample): FeedPoint {
    const seconds = Math.max(0.001, (now.atMs - before.atMs) / 1000);
    const classes: Record<string, number> = {};
    perSecond(now.responses, before.responses, seconds, '', classes);
    let rps = 0;
    for (const v of Object.values(classes)) rps += v;
    const delta = now.duration.counts.map((c, i) => c - (before.duration.counts[i] ?? 0));
    const closes: Record<string, number> = {};
    perSecond(now.closes.downstream, before.closes.downstream, seconds, 'downstream:', closes);
    perSecond(now.closes.upstream, before.closes.upstream, seconds, 'upstream:', closes);
    const b = now.duration.bounds;
    return { t: now.atMs, rps, classes, p50: quantileMs(b, delta, 0.5), p90: quantileMs(b, delta, 0.9), p99: quantileMs(b, delta, 0.99), closes };
  }

  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const res of this.#clients) res.end();
    this.#clients.clear();
  }
}
