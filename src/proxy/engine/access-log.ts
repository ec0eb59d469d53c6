/**
 * Structured access log: one JSON object per line. Lines are gathered and written once per
 * event-loop turn, so logging costs one write per batch, not one per request.
 */
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { AccessLogConfig } from '../config/index.js';

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

export class AccessLog {
  #out: Writable | undefined;
  #ownsStream = false;
  #pending = '';
  #scheduled = false;

  constructor(config: AccessLogConfig) {
    if (config.kind === 'stdout') this.#out = process.stdout;
    else if (config.kind === 'stderr') this.#out = process.stderr;
    else if (config.kind === 'file') {
      this.#out = createWriteStream(config.path, { flags: 'a' });
      this.#ownsStream = true;
    }
  }

  get enabled(): boolean {
    return this.#out !== undefined;
  }

  write(record: AccessRecord): void {
    if (this.#out === undefined) return;
    this.#pending += `${JSON.stringify(record)}\n`;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#pending === '' || this.#out === undefined) return;
    const text = this.#pending;
    this.#pending = '';
    this.#out.write(text);
  };

  close(): void {
    this.#flush();
    if (this.#ownsStream) this.#out?.end();
    this.#out = undefined;
  }
}
