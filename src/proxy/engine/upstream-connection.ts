/**
 * One kept-alive connection to a backend endpoint, with its lifecycle state.
 *
 * States: connecting -> active <-> idle, and any -> closed. Only the pool moves a connection
 * (through its StateTable, which rejects illegal moves); the exchange that holds an active
 * connection receives its bytes through `sink`. Listeners are attached once, at creation, and
 * dispatch by state, so a request costs no closures or listener churn.
 */
import type { Socket } from 'node:net';
import type { CloseReason } from '../../core/close-reason.js';

export type UpstreamState = 'connecting' | 'idle' | 'active' | 'closed';

/** The moves an upstream connection may make (the pool's StateTable enforces them). */
export const UPSTREAM_TRANSITIONS: Readonly<Record<UpstreamState, readonly UpstreamState[]>> = {
  connecting: ['active', 'idle', 'closed'],
  // idle -> idle re-files a connection as the most recently used.
  idle: ['active', 'idle', 'closed'],
  active: ['idle', 'closed'],
  closed: [],
};

/** Who receives an active connection's events: the exchange currently using it. */
export interface UpstreamSink {
  /**
   * Bytes from the backend. `shared`: `chunk` is a view of the pool's shared read buffer, valid
   * only during the call, so whatever must outlive it goes through `owned()` (borrowed-bytes.ts).
   */
  onUpstreamData(chunk: Buffer, shared: boolean): void;
  /** The connection ended or failed; `error` is undefined for a clean close (FIN). */
  onUpstreamClose(error: Error | undefined): void;
  onUpstreamDrain(): void;
}

export class UpstreamConnection {
  state: UpstreamState = 'connecting';
  /** Links of the pool's list for `state`. */
  prev: UpstreamConnection | undefined;
  next: UpstreamConnection | undefined;
  /** Requests started on this connection. */
  requests = 0;
  /** Wheel deadline id while idle or connecting; -1 when none. */
  timerId = -1;
  /** The exchange using the connection while active. */
  sink: UpstreamSink | undefined;
  /** Clock ms when the connection last became idle (for learning a backend's idle timeout). */
  idleSinceMs = 0;
  /** Clock ms after which an idle connection must not be reused (backend hint, ours). */
  reuseUntilMs = Number.POSITIVE_INFINITY;
  /** The backend said it will close after this many more requests (Keep-Alive: max). */
  remainingByHint = Number.POSITIVE_INFINITY;
  /** Why the pool closed the connection, set before destroy() so 'close' counts it right. */
  closeReason: CloseReason | undefined;
  /** The socket error, if one came before 'close'. */
  failure: Error | undefined;
  readonly openedAtMs: number;

  constructor(
    readonly socket: Socket,
    readonly id: number,
    nowMs: number,
  ) {
    this.openedAtMs = nowMs;
  }
}
