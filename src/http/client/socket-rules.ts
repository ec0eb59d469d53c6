/**
 * The per-socket record of the keep-alive pool and the rules that read it: is this socket dead,
 * has it expired, may it be kept after its response, and how long may it stay idle.
 *
 * Why separate from the pool: these are the decisions the issue spells out (the server's hint,
 * `Connection: close`, max requests, TTL, the FIN/RST check) and they are easier to check as small
 * functions of one record than inside the event plumbing. Times are absolute clock milliseconds.
 */
import type { ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import type { AgentSettings } from './agent-options.js';
import type { CloseReason, OriginStats } from './agent-stats.js';
import { parseKeepAliveHint } from './keep-alive-hint.js';
import type { ConnectOptions } from './node-internals.js';
import { requestInternals, socketInternals } from './node-internals.js';
import type { PoolEntry } from './pool-table.js';
import type { ReuseGuard } from './reuse-guard.js';

/** One pooled socket: the table's entry plus what the agent needs to run it. */
export interface SocketMeta extends PoolEntry {
  readonly socket: Socket;
  readonly origin: OriginRecord;
  readonly options: ConnectOptions;
  readonly createdAt: number;
  requests: number;
  /** Requests still allowed by the server's `Keep-Alive: max`. */
  requestsLeft: number;
  /** From the last `Keep-Alive: timeout` hint, minus the margin (Infinity: no hint). */
  hintTimeoutMs: number;
  req: ClientRequest | undefined;
  guard: ReuseGuard | undefined;
  /** The pool's event-loop turn when the socket last went free. */
  freedTurn: number;
  /** This socket carries a request re-sent after a stale socket. */
  carriesRetry: boolean;
  /** The first reason the pool gave for closing it; counted on 'close'. */
  closeReason: CloseReason | undefined;
  peerEnded: boolean;
  /** The close reason of the first socket error (reset, tcp_timeout, tls_error, error), if any. */
  errorReason: CloseReason | undefined;
  readonly onIdleData: () => void;
}

export interface OriginRecord {
  readonly stats: OriginStats;
}

/**
 * Why the socket cannot carry a request any more (FIN or RST seen, unread bytes), or undefined.
 * @example if (deadReason(meta) !== undefined) discard(meta);
 */
export function deadReason(meta: SocketMeta): string | undefined {
  const socket = meta.socket;
  if (meta.errorReason !== undefined) return 'socket error';
  if (socket.destroyed || !socket.writable) return 'socket closed';
  if (meta.peerEnded || socketInternals(socket)._readableState?.ended === true) return 'FIN received';
  if (socket.readableLength > 0) return 'unexpected bytes while idle';
  return undefined;
}

/** The reason an idle socket has expired at `now`, or undefined. */
export function expiry(meta: SocketMeta, now: number, settings: AgentSettings): CloseReason | undefined {
  if (meta.idleDeadline > 0 && now >= meta.idleDeadline) return meta.idleReason;
  if (settings.socketActiveTtlMs > 0 && now >= meta.createdAt + settings.socketActiveTtlMs) return 'max_age';
  return undefined;
}

/**
 * Why a socket whose request just finished must be closed rather than kept (undefined: keep).
 * Reads the response's `Keep-Alive` hint into the record (timeout and max); a malformed header is
 * reported through `onMalformed` and otherwise ignored.
 */
export function whyNotKeep(
  meta: SocketMeta,
  req: ClientRequest | undefined,
  settings: AgentSettings,
  onMalformed: (meta: SocketMeta, header: unknown) => void,
): CloseReason | undefined {
  const socket = meta.socket;
  if (meta.errorReason !== undefined) return meta.errorReason;
  if (socket.destroyed || !socket.writable || meta.peerEnded) return 'peer_close';
  const r = req === undefined ? undefined : requestInternals(req);
  if (r !== undefined && r.res !== null) {
    if (!r.shouldKeepAlive) return 'peer_close';
    const header = r.res.headers['keep-alive'];
    const hint = parseKeepAliveHint(header);
    if (hint !== undefined) {
      if (hint.malformed) onMalformed(meta, header);
      if (hint.max !== undefined) meta.requestsLeft = hint.max;
      if (hint.timeoutSeconds !== undefined) {
        meta.hintTimeoutMs = hint.timeoutSeconds * 1000 - settings.hintMarginMs;
        if (meta.hintTimeoutMs <= 0) return 'hint_expiry';
      }
    }
  }
  if (meta.requestsLeft <= 0) return 'max_requests';
  if (settings.maxRequestsPerSocket > 0 && meta.requests >= settings.maxRequestsPerSocket) return 'max_requests';
  if (settings.socketActiveTtlMs > 0 && settings.clock.now() >= meta.createdAt + settings.socketActiveTtlMs) return 'max_age';
  return undefined;
}

/**
 * How long a freed socket may stay idle, and which rule set that bound:
 * min(freeSocketTimeoutMs, hint*1000 - margin, time left of socketActiveTtlMs).
 */
export function idleBound(meta: SocketMeta, settings: AgentSettings, now: number): { timeoutMs: number; reason: CloseReason } {
  let timeoutMs = settings.freeSocketTimeoutMs;
  let reason: CloseReason = 'idle_timeout';
  if (meta.hintTimeoutMs < timeoutMs) {
    timeoutMs = meta.hintTimeoutMs;
    reason = 'hint_expiry';
  }
  if (settings.socketActiveTtlMs > 0) {
    const left = meta.createdAt + settings.socketActiveTtlMs - now;
    if (left < timeoutMs) {
      timeoutMs = left;
      reason = 'max_age';
    }
  }
  return { timeoutMs, reason };
}

/** The close reason when the pool did not choose one: the socket closed by itself. */
export function inferCloseReason(meta: SocketMeta, hadError: boolean): CloseReason {
  if (meta.state === 'idle') return 'peer_idle_close';
  if (meta.errorReason !== undefined) return meta.errorReason;
  if (hadError) return 'error';
  const res = meta.req === undefined ? null : requestInternals(meta.req).res;
  if (meta.peerEnded || (res !== null && meta.req !== undefined && !requestInternals(meta.req).shouldKeepAlive)) return 'peer_close';
  return 'aborted';
}

/** A copy of every origin's counters with its gauges filled in from the live sockets. */
export function snapshot(origins: Iterable<[string, OriginRecord]>, live: readonly SocketMeta[]): Record<string, OriginStats> {
  const out: Record<string, OriginStats> = {};
  const byRecord = new Map<OriginRecord, OriginStats>();
  for (const [key, origin] of origins) {
    const copy = { ...origin.stats, closes: { ...origin.stats.closes }, socketsActive: 0, socketsFree: 0 };
    out[key] = copy;
    byRecord.set(origin, copy);
  }
  for (const meta of live) {
    const copy = byRecord.get(meta.origin);
    if (copy === undefined || meta.state === 'closing' || meta.state === 'closed') continue;
    if (meta.state === 'idle') copy.socketsFree++;
    else copy.socketsActive++;
  }
  return out;
}
