/**
 * One kept-alive connection to a backend endpoint, with its lifecycle state.
 *
 * States: connecting -> idle <-> active -> closed. The pool owns the transitions between idle
 * and active; the exchange that holds an active connection receives its bytes through `sink`.
 * Listeners are attached once, at creation, and dispatch by state, so a request costs no
 * closures or listener churn.
 */
import type { Socket } from 'node:net';

export type UpstreamState = 'connecting' | 'idle' | 'active' | 'closed';

/** Who receives an active connection's events: the exchange currently using it. */
export interface UpstreamSink {
  /**
   * Bytes from the backend. `shared`: `chunk` is a view of the pool's shared read buffer, valid
   * only during the call, so whatever must outlive it (kept, or handed to a write) is copied.
   */
  onUpstreamData(chunk: Buffer, shared: boolean): void;
  /** The connection ended or failed; `error` is undefined for a clean close (FIN). */
  onUpstreamClose(error: Error | undefined): void;
  onUpstreamDrain(): void;
}

export class UpstreamConnection {
  state: UpstreamState = 'connecting';
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
  /** Why the connection was closed, set just before destroy() so 'close' counts it right. */
  closeReason: string | undefined;
  readonly openedAtMs: number;

  constructor(
    readonly socket: Socket,
    readonly id: number,
    nowMs: number,
  ) {
    this.openedAtMs = nowMs;
  }
}
