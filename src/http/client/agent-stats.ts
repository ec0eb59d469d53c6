/**
 * Counters an agent keeps per origin, and the diagnostics channels it publishes on.
 *
 * Why: "did the agent save a request, or lose one?" must be answerable from numbers (Envoy's
 * `upstream_cx_*` counters are the model): how many sockets were found dead before reuse, how
 * many requests were retried and how that went, and why every socket was closed. A normal close
 * (idle expiry, max requests) is a reason, not an error.
 */
import { channel } from 'node:diagnostics_channel';
import { reasonFromError } from '../../core/close-reason.js';
import type { CloseLayer, CloseReason as CoreCloseReason } from '../../core/close-reason.js';

/**
 * Why an agent's socket was closed: the subset of lifeline's one close-reason vocabulary
 * (`src/core/close-reason.ts`, where each name's side and meaning are defined) that the agent can
 * produce.
 */
export type CloseReason = Extract<
  CoreCloseReason,
  | 'peer_close' | 'peer_idle_close' | 'idle_timeout' | 'hint_expiry' | 'max_requests' | 'max_age' | 'stale' | 'evicted' | 'shutdown' | 'aborted'
  | 'error' | 'reset' | 'tcp_timeout' | 'tls_error'
>;

/**
 * The agent's reasons, in the order its `closes` counters list them:
 * - `peer_close`: the server closed it (FIN, `Connection: close`, HTTP/1.0) outside a request we could retry;
 * - `peer_idle_close`: the server closed it (FIN) while it sat idle in the pool (its idle timeout is shorter than ours);
 * - `idle_timeout`: idle for `freeSocketTimeoutMs`;
 * - `hint_expiry`: idle past the server's `Keep-Alive: timeout` minus `hintMarginMs`, or a hint at or below the margin;
 * - `max_requests`: `Keep-Alive: max` or `maxRequestsPerSocket` reached;
 * - `max_age`: older than `socketActiveTtlMs`;
 * - `stale`: found dead (FIN, RST, unexpected bytes) when about to be reused, or failed before any response byte on reuse;
 * - `evicted`: more idle sockets than `maxFreeSockets`, or closed to make room under `maxTotalSockets`;
 * - `shutdown`: `agent.destroy()`;
 * - `aborted`: closed by the caller (request aborted or destroyed) or by Node after an upgrade;
 * - `reset`, `tcp_timeout`, `tls_error`, `error`: a socket error outside the stale cases, by its code (`reasonFromError`).
 */
export const AGENT_CLOSE_REASONS: readonly CloseReason[] = [
  'peer_close', 'peer_idle_close', 'idle_timeout', 'hint_expiry', 'max_requests', 'max_age', 'stale', 'evicted', 'shutdown', 'aborted',
  'reset', 'tcp_timeout', 'tls_error', 'error',
];

/**
 * The layer that noticed an agent socket's end: the kernel for errors, TLS for its failures, the
 * pool for what it decides (or sees) about a socket it holds idle, HTTP/1.1 for what an exchange
 * decides (`Connection: close`, `Keep-Alive: max`, an aborted request).
 */
export function agentCloseLayer(reason: CloseReason): CloseLayer {
  switch (reason) {
    case 'reset':
    case 'tcp_timeout':
    case 'error':
      return 'tcp';
    case 'tls_error':
      return 'tls';
    case 'peer_close':
    case 'max_requests':
    case 'aborted':
      return 'http1';
    default:
      return 'pool';
  }
}

/** The close reason a socket error stands for (`reasonFromError`, which only yields these four). */
export function errorCloseReason(error: unknown): 'reset' | 'tcp_timeout' | 'tls_error' | 'error' {
  const reason = reasonFromError(error);
  return reason === 'reset' || reason === 'tcp_timeout' || reason === 'tls_error' ? reason : 'error';
}

/** One origin's numbers. Gauges are "now"; the rest only ever increase. */
export interface OriginStats {
  /** `http://host:port` or `https://host:port`. */
  origin: string;
  /** Gauge: sockets connecting, carrying a request, or reserved for one. */
  socketsActive: number;
  /** Gauge: idle sockets in the pool. */
  socketsFree: number;
  /** Requests given to the agent. */
  requests: number;
  /** Requests sent on a reused socket. */
  reused: number;
  /** Connections opened. */
  newConnections: number;
  /** Idle sockets found dead (FIN, RST, unexpected bytes) when about to be reused, and dropped. */
  staleDiscarded: number;
  /** Requests re-sent on a new connection after their reused socket failed before any response byte. */
  retries: number;
  /** Retried requests that then got a response. */
  retrySucceeded: number;
  /** Retried requests that then failed. */
  retryFailed: number;
  /** Requests failed with ERR_STALE_SOCKET (not safe to re-send). */
  staleErrors: number;
  /** `Keep-Alive` headers that could not be read (ignored). */
  malformedHints: number;
  /** HTTPS: new connections that resumed a TLS session. */
  tlsResumed: number;
  /** HTTPS: new connections that needed a full TLS handshake. */
  tlsFullHandshakes: number;
  /** Sockets closed, by reason. */
  closes: Record<CloseReason, number>;
}

/** A fresh zeroed record. */
export function emptyOriginStats(origin: string): OriginStats {
  const closes = {} as Record<CloseReason, number>;
  for (const reason of AGENT_CLOSE_REASONS) closes[reason] = 0;
  return {
    origin, socketsActive: 0, socketsFree: 0, requests: 0, reused: 0, newConnections: 0, staleDiscarded: 0, retries: 0,
    retrySucceeded: 0, retryFailed: 0, staleErrors: 0, malformedHints: 0, tlsResumed: 0, tlsFullHandshakes: 0, closes,
  };
}

/**
 * Diagnostics channel names (node:diagnostics_channel). Each message is an object with at least
 * `agent` and `origin`; see docs/agent.md for the fields.
 * @example diagnostics_channel.subscribe(AGENT_CHANNELS.stale, (m) => log(m));
 */
export const AGENT_CHANNELS = {
  /** `{ agent, origin, socket }`: a new connection was opened. */
  connect: 'lifeline:agent:connect',
  /** `{ agent, origin, socket, requests }`: a request was given a reused socket. */
  reuse: 'lifeline:agent:reuse',
  /** `{ agent, origin, socket, phase: 'before-reuse' | 'before-response', action: 'discarded' | 'retried' | 'failed', method?, cause? }` */
  stale: 'lifeline:agent:stale',
  /** `{ agent, origin, socket, closeReason, side, layer, requests }`: a socket closed (`side`: 'local' | 'remote'; `layer`: agentCloseLayer). */
  close: 'lifeline:agent:close',
  /** `{ agent, origin, header }`: a malformed `Keep-Alive` header was ignored. */
  malformedHint: 'lifeline:agent:malformed-hint',
} as const;

export const channels = {
  connect: channel(AGENT_CHANNELS.connect),
  reuse: channel(AGENT_CHANNELS.reuse),
  stale: channel(AGENT_CHANNELS.stale),
  close: channel(AGENT_CHANNELS.close),
  malformedHint: channel(AGENT_CHANNELS.malformedHint),
};
