/**
 * One look at a running proxy for the dashboard: aggregates only (counts per state, per
 * endpoint, cumulative counters) plus the top few oldest and longest-idle client connections,
 * so its size does not grow with the number of open connections.
 *
 * A figure the engine does not expose yet is `null` here and "n/a" on the page.
 */

export interface ConnectionView {
  listener: string;
  /** Since accept. */
  ageMs: number;
  /** The connection's state name (idle, head, body, ...). */
  state: string;
  requests: number;
  /** How long it has been idle; null when the engine does not say. */
  idleMs: number | null;
  /** Time left on its idle timer; null when the engine does not say. */
  idleRemainingMs: number | null;
}

export interface ListenerStatus {
  name: string;
  address: string;
  bound: boolean;
  draining: boolean;
  /** Open connections by state: busy with a request, idle between requests, closed by us and
   * waiting for the client's FIN, or still open while the listener drains. */
  connections: { active: number; idle: number; lingering: number; draining: number };
}

export interface EndpointStatus {
  endpoint: string;
  /** Active health check verdict (true without checks). */
  healthy: boolean;
  ejected: boolean;
  /** In rotation: healthy and not ejected. */
  available: boolean;
  idle: number;
  active: number;
  connecting: number;
  /** The backend's `Keep-Alive: timeout` hint, ms; null when not known. */
  backendIdleHintMs: number | null;
  /** What the pool learned from the backend's idle closes, ms; null when nothing learned. */
  backendIdleLearnedMs: number | null;
  /** How long the pool keeps an idle connection to it now, ms; null when not known. */
  poolIdleMs: number | null;
  requests: number;
}

export interface ClusterStatus {
  name: string;
  endpoints: EndpointStatus[];
  /** Cumulative. */
  retries: number;
  retriesSucceeded: number;
  /** Retries by cause (stale connection, connect failure, ...); null when not counted yet. */
  retryCauses: Record<string, number> | null;
  noHealthy: number;
}

export interface StatusSample {
  atMs: number;
  uptimeSeconds: number;
  listeners: ListenerStatus[];
  clusters: ClusterStatus[];
  /** Cumulative responses by status class, all listeners. */
  responses: Record<string, number>;
  /** Cumulative request duration histogram, all listeners: upper bounds (s) and per-bucket
   * counts (one more count than bounds: the last is above every bound). */
  duration: { bounds: number[]; counts: number[] };
  /** Cumulative closes by reason (snake_case), per layer. */
  closes: { downstream: Record<string, number>; upstream: Record<string, number> };
  /** Who ended a connection closed for each reason above, from the one close-reason vocabulary
   * (`unknown` for a name outside it). */
  closeSides: Record<string, 'local' | 'remote' | 'unknown'>;
  /** Oldest open client connections, oldest first (at most a few). */
  oldest: ConnectionView[];
  /** Longest-idle client connections, longest first (at most a few). */
  longestIdle: ConnectionView[];
}
