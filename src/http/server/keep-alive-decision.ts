/**
 * The keep-alive decision, pure: after this response, keep the connection or close it, and why.
 * One rule for lifeline/server's policy and the proxy's client side (which answers on raw
 * sockets): the same limits, the same reasons, the same hint.
 */
import type { CloseReason } from '../../core/close-reason.js';

export interface KeepAliveLimits {
  /** Requests per connection; the response to the last one carries `Connection: close`. 0 = no limit. */
  maxRequestsPerConnection: number;
  /** A connection older than this closes after its next response. 0 = no limit. */
  maxConnectionAgeMs: number;
}

export interface KeepAliveFacts {
  /** Requests begun on the connection, this one included. */
  requests: number;
  /** How long the connection has been open. */
  ageMs: number;
  /** The client asked to close (`Connection: close`, or HTTP/1.0 without keep-alive). */
  clientAskedClose: boolean;
  /** The server is draining: every response is the connection's last. */
  draining: boolean;
}

/**
 * Why the connection must close after this response, or undefined to keep it.
 *
 * @example
 *   decideKeepAlive({ maxRequestsPerConnection: 100, maxConnectionAgeMs: 0 }, { requests: 100, ageMs: 5, clientAskedClose: false, draining: false }) // 'max_requests'
 */
export function decideKeepAlive(limits: KeepAliveLimits, facts: KeepAliveFacts): CloseReason | undefined {
  if (facts.clientAskedClose) return 'peer_close';
  if (facts.draining) return 'drain';
  if (limits.maxRequestsPerConnection > 0 && facts.requests >= limits.maxRequestsPerConnection) return 'max_requests';
  if (limits.maxConnectionAgeMs > 0 && facts.ageMs >= limits.maxConnectionAgeMs) return 'max_age';
  return undefined;
}

/**
 * The advertised `Keep-Alive: timeout=`, whole seconds: the idle timeout less the margin, so a
 * client that trusts the hint closes before we do. 0 = send no hint (no idle timeout, or less
 * than a second left after the margin).
 */
export function hintSeconds(idleTimeoutMs: number, hintMarginMs: number): number {
  if (idleTimeoutMs <= 0) return 0;
  return Math.max(0, Math.floor((idleTimeoutMs - hintMarginMs) / 1000));
}
