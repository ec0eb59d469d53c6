/**
 * The keep-or-close decision for one HTTP/1 response, as a pure function: given the policy and
 * the facts about the connection and the request, does the connection stay open after this
 * response, why not, and what `Keep-Alive: timeout=N, max=M` hint goes out with it.
 *
 * Shared by the server policy (its `http.Server` connections) and the reverse proxy (its raw
 * client-side sockets), so both close for the same reasons, named in the one vocabulary.
 *
 * Pure: no I/O and no clock read; `now` comes in with the facts. The policy's derived numbers
 * (the hint in whole seconds, the request limit) are computed once by {@link keepAlivePolicy},
 * not per request.
 *
 * Precedence (the first that holds is the reason): a drain, the request limit, the connection's
 * age, the client asking to close. A drain and the limits mean our response must carry
 * `Connection: close`; a client that asked to close already knows.
 */
import type { ServerCloseReason } from './server-stats.js';

/** The options the decision reads (a subset of the server policy's, same names and units). */
export interface KeepAlivePolicyOptions {
  /** 0 turns keep-alive off: every response closes its connection (`max_requests`). */
  idleTimeoutMs: number;
  hintMarginMs: number;
  /** 0 = no limit. */
  maxRequestsPerConnection: number;
  /** 0 = no limit. */
  maxConnectionAgeMs: number;
}

/** The policy with what the decision derives from it, computed once. */
export interface KeepAlivePolicy {
  /** The `Keep-Alive: timeout=` value, whole seconds: `floor((idleTimeoutMs - hintMarginMs) / 1000)`; 0 = no hint. */
  readonly hintSeconds: number;
  /** Requests a connection serves before `Connection: close`: 1 when keep-alive is off, Infinity for no limit. */
  readonly maxRequests: number;
  /** Infinity for no limit. */
  readonly maxConnectionAgeMs: number;
}

/** What is known when a request arrives. Times are the caller's monotonic clock, ms. */
export interface KeepAliveFacts {
  /** Requests received on the connection, this one included (1 for the first). */
  requests: number;
  /** When the connection was accepted. */
  openedAt: number;
  now: number;
  /** A drain has reached the connection. */
  draining: boolean;
  /** The client asked to close: `Connection: close`, or HTTP/1.0 without `Connection: keep-alive`. */
  clientClose: boolean;
}

export interface KeepAliveDecision {
  keep: boolean;
  /** Why the connection closes after this response; undefined when it is kept. */
  reason: ServerCloseReason | undefined;
  /** `Keep-Alive: timeout=` to advertise when kept (0: send no hint). */
  hintSeconds: number;
  /** `Keep-Alive: max=` to advertise when kept: requests left after this one (0: no limit, send none). */
  requestsLeft: number;
}

/**
 * @example
 *   const policy = keepAlivePolicy({ idleTimeoutMs: 75_000, hintMarginMs: 5_000, maxRequestsPerConnection: 0, maxConnectionAgeMs: 0 });
 *   policy.hintSeconds // 70
 */
export function keepAlivePolicy(o: KeepAlivePolicyOptions): KeepAlivePolicy {
  return {
    hintSeconds: o.idleTimeoutMs === 0 ? 0 : Math.max(0, Math.floor((o.idleTimeoutMs - o.hintMarginMs) / 1000)),
    maxRequests: o.idleTimeoutMs === 0 ? 1 : o.maxRequestsPerConnection > 0 ? o.maxRequestsPerConnection : Infinity,
    maxConnectionAgeMs: o.maxConnectionAgeMs > 0 ? o.maxConnectionAgeMs : Infinity,
  };
}

/**
 * @example
 *   const d = decideKeepAlive(policy, { requests: 3, openedAt, now, draining: false, clientClose: false });
 *   if (!d.keep) res.setHeader('Connection', 'close'); // d.reason: 'max_requests', 'max_age', 'drain', 'peer_close'
 */
export function decideKeepAlive(policy: KeepAlivePolicy, facts: KeepAliveFacts): KeepAliveDecision {
  let reason: ServerCloseReason | undefined;
  if (facts.draining) reason = 'drain';
  else if (facts.requests >= policy.maxRequests) reason = 'max_requests';
  else if (facts.now - facts.openedAt >= policy.maxConnectionAgeMs) reason = 'max_age';
  else if (facts.clientClose) reason = 'peer_close';
  if (reason !== undefined) return { keep: false, reason, hintSeconds: 0, requestsLeft: 0 };
  const left = policy.maxRequests === Infinity ? 0 : policy.maxRequests - facts.requests;
  return { keep: true, reason: undefined, hintSeconds: policy.hintSeconds, requestsLeft: left };
}
