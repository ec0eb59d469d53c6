/**
 * One multiplexed HTTP/2 connection to a backend endpoint (`protocol: http2` clusters): Node's
 * `ClientHttp2Session` (nghttp2) with what a pool needs around it: its state, how many streams
 * it carries and may carry, and its keep-alive on the HTTP/2 layer.
 *
 * States (the pool's StateTable enforces the moves):
 *   connecting -> idle (no stream) <-> ready (streams, room for more) <-> full (at the limit);
 *   idle -> probing (a PING before reuse) -> idle; any open state -> draining (GOAWAY received,
 *   or retired by us at maxRequestsPerConnection, maxConnectionAgeMs or a drain: no new stream,
 *   open ones finish) -> closed.
 *
 * Keep-alive (Envoy's connection_keepalive, HAProxy's idle-ping):
 * - A PING after `pingIntervalMs` without a frame from the backend, drawn from 85-100 % of it
 *   (jitter only shortens, so the backend's ping policy is never undercut), answered within
 *   `pingTimeoutMs` or the connection is closed as `heartbeat_timeout` and its streams fail over.
 *   Lazy timer (HAProxy's way): frames bump a counter, the deadline compares it; no clock read
 *   per frame.
 * - A PING before a stream goes on a connection that has been idle `pingBeforeReuseMs` or longer
 *   (Envoy's connection_idle_interval): a backend that hangs, or a NAT that forgot the flow, is
 *   found before a request is put on it, at the cost of one round trip.
 */
import type { ClientHttp2Session } from 'node:http2';
import type { CloseReason } from '../../core/close-reason.js';

export type Http2SessionState = 'connecting' | 'idle' | 'ready' | 'full' | 'probing' | 'draining' | 'closed';

/** The moves a session may make (the pool's StateTable rejects any other). */
export const HTTP2_SESSION_MOVES: Readonly<Record<Http2SessionState, readonly Http2SessionState[]>> = {
  connecting: ['idle', 'ready', 'full', 'draining', 'closed'],
  // idle -> idle re-files a session as the most recently used.
  idle: ['idle', 'ready', 'full', 'probing', 'draining', 'closed'],
  ready: ['idle', 'ready', 'full', 'draining', 'closed'],
  full: ['idle', 'ready', 'draining', 'closed'],
  probing: ['idle', 'draining', 'closed'],
  draining: ['closed'],
  closed: [],
};

/** Streams assumed allowed until the backend's SETTINGS arrive (RFC 9113 6.5.2 suggests at least 100). */
export const ASSUMED_MAX_STREAMS = 100;

export class Http2UpstreamSession {
  state: Http2SessionState = 'connecting';
  /** Links of the pool's list for `state`. */
  prev: Http2UpstreamSession | undefined;
  next: Http2UpstreamSession | undefined;
  /** Streams open now (slots handed out). */
  streams = 0;
  /** Streams started on this connection. */
  requests = 0;
  /** Streams allowed at once: ours, capped by the backend's SETTINGS_MAX_CONCURRENT_STREAMS. */
  limit: number;
  /** Frames heard from the backend (bumped per response event; read by the lazy PING timer). */
  heard = 0;
  /** `heard` when the PING timer last looked. */
  heardAtCheck = -1;
  /** Clock ms when the last stream ended (or the connection opened). */
  idleSinceMs: number;
  /** Wheel deadline: connect timeout, idle timeout, or PING reply timeout. -1 when none. */
  timerId = -1;
  /** Wheel deadline for the backend's first SETTINGS (connectTimeoutMs from the dial). -1 when none. */
  settingsTimerId = -1;
  /** Wheel deadline of the next PING check. -1 when none. */
  pingTimerId = -1;
  /** A PING is out and unanswered. */
  pinging = false;
  /** Counted in cxOpened (its dial succeeded); only such a connection is counted closed. */
  opened = false;
  /** Why the pool closed it, set before close so 'close' counts it right. */
  closeReason: CloseReason | undefined;
  /** The session error, if one came before 'close'. */
  failure: Error | undefined;
  /** The backend sent GOAWAY. */
  goaway = false;
  /** Why it was retired (draining): the close reason once its last stream ends. */
  retiredAs: CloseReason | undefined;
  /** Clock ms from which it takes no new stream (maxConnectionAgeMs, with jitter). */
  retireAtMs = Number.POSITIVE_INFINITY;
  readonly openedAtMs: number;

  constructor(
    readonly session: ClientHttp2Session,
    readonly id: number,
    nowMs: number,
    /** Our own stream limit (0: the backend's). */
    readonly maxStreams: number,
  ) {
    this.openedAtMs = nowMs;
    this.idleSinceMs = nowMs;
    this.limit = maxStreams > 0 ? Math.min(maxStreams, ASSUMED_MAX_STREAMS) : ASSUMED_MAX_STREAMS;
  }

  /** The backend's SETTINGS arrived: its stream limit, under ours. */
  settingsArrived(remoteMax: number | undefined): void {
    const theirs = remoteMax === undefined || remoteMax <= 0 ? Number.MAX_SAFE_INTEGER : remoteMax;
    this.limit = Math.max(1, this.maxStreams > 0 ? Math.min(this.maxStreams, theirs) : Math.min(theirs, 2 ** 31 - 1));
  }

  /** The state the stream count calls for (draining and closed are final). */
  fits(): Http2SessionState {
    if (this.streams === 0) return 'idle';
    return this.streams < this.limit ? 'ready' : 'full';
  }
}
