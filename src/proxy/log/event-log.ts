/**
 * The proxy's operator log: one structured JSON line per event an operator may act on, in the
 * access log's format plus `level` and `event`. One instance per proxy; `close()` flushes it.
 *
 * Events (level): endpoint_unhealthy (warn), endpoint_healthy (info), endpoint_ejected (warn),
 * endpoint_returned (info), cluster_no_healthy_endpoint (error), cluster_healthy_endpoint (info),
 * reload_succeeded (info), reload_failed (error), backend_idle_learned (info),
 * backend_idle_forgotten (info). Fields per event: docs/operations.md.
 */
import { InvalidOptionError } from '../../core/errors.js';
import { JsonLines } from './json-lines.js';
import type { JsonLinesTarget } from './json-lines.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface EventLogOptions {
  /** Lowest level written. Default `info`. */
  level?: LogLevel;
}

/** Why an active health check failed, as the checker reports it. */
export interface HealthDetail {
  /** `status` (wrong status), `timeout`, `error` (connect or protocol failure), `hung`. */
  failure?: string | undefined;
  status?: number | undefined;
  /** The errno (`ECONNREFUSED`) or error code of a failed probe. */
  errno?: string | undefined;
  message?: string | undefined;
}

/** `ECONNREFUSED`-style code of an error, if it has one. */
export function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

export class EventLog {
  readonly level: LogLevel;
  readonly #rank: number;
  readonly #out: JsonLines;

  constructor(target: JsonLinesTarget, options: EventLogOptions = {}) {
    const level = options.level ?? 'info';
    if (!LOG_LEVELS.includes(level)) throw new InvalidOptionError('EventLog.level', `EventLog.level must be one of ${LOG_LEVELS.join(', ')}; got ${JSON.stringify(level)}`);
    this.level = level;
    this.#rank = LOG_LEVELS.indexOf(level);
    this.#out = new JsonLines(target);
  }

  /** Write one event line (dropped below the configured level). */
  log(level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
    if (LOG_LEVELS.indexOf(level) < this.#rank) return;
    this.#out.write({ time: new Date().toISOString(), level, event, ...fields, pid: process.pid });
  }

  endpointUnhealthy(cluster: string, endpoint: string, detail: HealthDetail): void {
    this.log('warn', 'endpoint_unhealthy', { cluster, endpoint, ...defined(detail) });
  }

  endpointHealthy(cluster: string, endpoint: string): void {
    this.log('info', 'endpoint_healthy', { cluster, endpoint });
  }

  /** Outlier detection took the endpoint out for `ejectionMs` (its `ejections`-th time in a row). */
  endpointEjected(cluster: string, endpoint: string, cause: string, ejectionMs: number, ejections: number): void {
    this.log('warn', 'endpoint_ejected', { cluster, endpoint, cause, ejectionMs, ejections });
  }

  endpointReturned(cluster: string, endpoint: string): void {
    this.log('info', 'endpoint_returned', { cluster, endpoint });
  }

  /** No endpoint of the cluster is available: its requests get 503 until one returns. */
  clusterNoHealthyEndpoint(cluster: string, endpoints: number): void {
    this.log('error', 'cluster_no_healthy_endpoint', { cluster, endpoints });
  }

  /** The cluster has an available endpoint again, after having none. */
  clusterHealthyEndpoint(cluster: string, available: number, endpoints: number): void {
    this.log('info', 'cluster_healthy_endpoint', { cluster, available, endpoints });
  }

  reloadSucceeded(file: string): void {
    this.log('info', 'reload_succeeded', { file });
  }

  /** The reload was refused; the running configuration stays. */
  reloadFailed(file: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    const code = errnoOf(error);
    this.log('error', 'reload_failed', { file, ...(code === undefined ? {} : { code }), error: message });
  }

  /** The pool learned, from idle closes, that the backend closes connections idle `idleMs`. */
  idleLearned(cluster: string, endpoint: string, idleMs: number): void {
    this.log('info', 'backend_idle_learned', { cluster, endpoint, idleMs });
  }

  /** A learned backend idle time expired unconfirmed; the pool is back to the hint or default. */
  idleForgotten(cluster: string, endpoint: string, previousMs: number): void {
    this.log('info', 'backend_idle_forgotten', { cluster, endpoint, previousMs });
  }

  /** A cluster's endpoint set changed; `message` names what was added, drained and re-weighted. */
  membershipChanged(cluster: string, origin: string, message: string): void {
    this.log('info', 'membership_changed', { cluster, origin, message });
  }

  /** A DNS answer could not be used; the last good set (`kept` endpoints) stays. */
  discoveryStale(cluster: string, reason: string, kept: number, message: string): void {
    this.log('warn', 'discovery_stale', { cluster, reason, kept, message });
  }

  /** One record of a DNS answer was skipped (SRV port 0, a target that does not resolve). */
  discoveryRecordSkipped(cluster: string, message: string): void {
    this.log('warn', 'discovery_record_skipped', { cluster, message });
  }

  /** A new version of an endpoints file was refused; the old set stays. */
  endpointsFileRejected(cluster: string, file: string, message: string): void {
    this.log('warn', 'endpoints_file_rejected', { cluster, file, message });
  }

  /** A cluster's endpoint source could not start after a reload; the cluster keeps the set it started with. */
  endpointsSourceFailed(cluster: string, error: unknown): void {
    this.log('error', 'endpoints_source_failed', { cluster, message: error instanceof Error ? error.message : String(error) });
  }

  close(): void {
    this.#out.close();
  }
}

function defined(o: HealthDetail): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}
