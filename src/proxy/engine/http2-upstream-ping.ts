/**
 * PINGs on the HTTP/2 connections of one upstream pool: the periodic keep-alive PING and the
 * PING before reuse (see http2-upstream-session.ts for the policy). A PING not answered within
 * `pingTimeoutMs` hands the connection back to the pool as dead (`onTimeout`).
 *
 * The periodic timer is lazy (HAProxy's way): frames from the backend bump `session.heard`, and
 * the deadline compares it with the value it saw last, so nothing reads the clock per frame.
 */
import type { TimerWheel } from '../../core/timer-wheel.js';
import type { ClusterConfig } from '../config/index.js';
import type { EndpointMetrics } from '../metrics/index.js';
import type { Http2UpstreamSession } from './http2-upstream-session.js';

function randomShare(ms: number): number {
  // 85-100 %: jitter only ever shortens an interval (Envoy's interval_jitter, 15 %).
  return Math.max(1, Math.floor(ms * (0.85 + Math.random() * 0.15)));
}

export class Http2UpstreamPinger {
  constructor(
    private readonly wheel: TimerWheel,
    private readonly cluster: ClusterConfig,
    private readonly metrics: EndpointMetrics,
    /** A PING went unanswered: the pool closes the connection (`heartbeat_timeout`). */
    private readonly onTimeout: (session: Http2UpstreamSession) => void,
  ) {}

  /** Arm the periodic PING check of a connection just opened (nothing when pingIntervalMs is 0). */
  start(session: Http2UpstreamSession): void {
    const intervalMs = this.cluster.http2.pingIntervalMs;
    if (intervalMs > 0) session.pingTimerId = this.wheel.add(randomShare(intervalMs), this.#onCheck, session);
  }

  /** PING now; `answered` runs on the reply, which must come within pingTimeoutMs. */
  ping(session: Http2UpstreamSession, answered?: () => void): void {
    if (session.pinging) return;
    session.pinging = true;
    this.metrics.pingSent();
    const timer = this.wheel.add(this.cluster.http2.pingTimeoutMs, () => {
      if (!session.pinging) return;
      session.pinging = false;
      this.metrics.pingTimedOut();
      this.onTimeout(session);
    });
    const sent = session.session.ping((error) => {
      this.wheel.cancel(timer);
      if (!session.pinging) return;
      session.pinging = false;
      if (error !== null) return; // the session is closing: its 'close' says why
      session.heard += 1;
      session.heardAtCheck = session.heard;
      answered?.();
    });
    if (!sent) {
      this.wheel.cancel(timer);
      session.pinging = false;
    }
  }

  /** The lazy PING timer: PING when nothing was heard since the last look. */
  readonly #onCheck = (_id: number, data: unknown): void => {
    const session = data as Http2UpstreamSession;
    session.pingTimerId = -1;
    if (session.state === 'closed') return;
    if (session.heard === session.heardAtCheck) this.ping(session);
    session.heardAtCheck = session.heard;
    session.pingTimerId = this.wheel.add(randomShare(this.cluster.http2.pingIntervalMs), this.#onCheck, session);
  };
}
