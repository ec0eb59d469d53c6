/**
 * The protocol seam on the upstream side: what an Exchange needs from one try of its request on
 * one endpoint. `Attempt` (attempt.ts) is HTTP/1.1 over a pooled connection; `Http2Attempt`
 * (http2-attempt.ts) is a stream on a multiplexed HTTP/2 connection. Both feed the response back
 * through the Exchange's methods; the Exchange keeps what spans attempts (replay buffer, phase,
 * the answer) and never looks at the upstream protocol.
 */
import type { CloseReason } from '../../core/close-reason.js';
import type { Member } from './cluster.js';

export interface UpstreamAttempt {
  readonly member: Member;
  /** The connection had served an earlier request. */
  readonly reused: boolean;
  /** Some request bytes were handed to the connection. */
  readonly written: boolean;
  /** Time from sending the request to the first response byte; null before it. */
  readonly ttfbMs: number | null;
  /** A connection (or stream) carries the request now. */
  readonly connected: boolean;
  /** Ask the endpoint's pool; `fresh`: never a pooled connection (this endpoint just failed). */
  start(fresh: boolean): void;
  /** Request body bytes (owned): written, or queued until the connection is there. */
  send(piece: Buffer): void;
  /** The request body is complete. */
  endRequest(): void;
  /** Body bytes that never left: a retry sends them. */
  unsent(): Buffer[] | null;
  /** Stop reading the response (the client pushes back), and start again. */
  pause(): void;
  resume(): void;
  /** Give up: the wait is cancelled, the connection (or stream) closes as `reason`. */
  release(reason: CloseReason): void;
  /** The response is complete: the connection goes back to its pool. */
  complete(requestDone: boolean): void;
}
