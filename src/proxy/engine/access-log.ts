/**
 * Structured access log: one JSON object per line. Lines are gathered and written once per
 * event-loop turn, so logging costs one write per batch, not one per request.
 */
import type { AccessLogConfig } from '../config/index.js';
import { JsonLines } from '../log/json-lines.js';

export interface AccessRecord {
  time: string;
  listener: string;
  client: string;
  /** The client's protocol: `HTTP/1.1`, `HTTP/1.0` (`HTTP/2` where the listener speaks it). */
  protocol: string;
  method: string;
  target: string;
  status: number;
  durationMs: number;
  bytesOut: number;
  cluster: string | null;
  upstream: string | null;
  /** The request went over a kept-alive upstream connection. */
  upstreamReused: boolean;
  /** Time from sending the request to the first response byte. */
  upstreamTtfbMs: number | null;
  attempts: number;
  /** Why the proxy answered itself, or why the exchange failed: a stable code (docs/errors.md). */
  error?: string;
  /** The same in a sentence, with what was seen (which connection, which byte). */
  errorDetail?: string;
  /** The system error code behind `error` when there is one (`ECONNREFUSED`, `ENOTFOUND`,
   * `ETIMEDOUT`, `ECONNRESET`), so a log search can tell a dead backend from a bad name. */
  errno?: string;
  /** The process that served it (nginx's $pid): tells `workers: N` apart in one log. */
  pid: number;
}

/** The access log: one JSON line per request, written through the proxy's JSON-lines sink. */
export class AccessLog {
  readonly #lines: JsonLines;

  constructor(config: AccessLogConfig) {
    this.#lines = new JsonLines(config);
  }

  get enabled(): boolean {
    return this.#lines.enabled;
  }

  write(record: AccessRecord): void {
    this.#lines.write(record);
  }

  close(): void {
    this.#lines.close();
  }
}
