/**
 * Per-session accounting of the HTTP/2 floods nghttp2 does not bound tightly enough by itself,
 * each ended with GOAWAY ENHANCE_YOUR_CALM (with debug data naming it) and counted:
 *
 * - Rapid Reset (CVE-2023-44487): streams the client opens and resets at once. Node 20 alone
 *   (nghttp2's reset rate limit) lets about 1000 through per connection, each of which starts
 *   a request to a backend, and then answers INTERNAL_ERROR. As Envoy does, a stream reset by the
 *   client within `PREMATURE_RESET_MS` of opening is premature; once a session has opened
 *   `prematureResetMinStreams` streams, more than half of them premature ends it.
 * - SETTINGS flood: each SETTINGS costs an ACK and a settings change; more than
 *   `maxSettingsPerMinute` ends the session (nghttp2 alone stops after thousands).
 * - Rejected streams: streams the client opened that Node refused before they reached the proxy
 *   (a header list over the size or field-count limit: RST_STREAM ENHANCE_YOUR_CALM). Node 20
 *   refuses each but keeps the session, so a client may send oversized header lists for ever,
 *   each decoded and thrown away. More than `MAX_REJECTED_STREAMS` in a session ends it (Node's
 *   own `maxSessionRejectedStreams` is 100, but counts only streams over the concurrency limit).
 *   Counted from the session's last stream id against the streams that reached the proxy, checked
 *   when the session has read `REJECTED_CHECK_BYTES` since the last look (see Http2Front).
 * PING floods are the keep-alive controller's (maxPingsPerMinute, gRPC ping strikes); empty
 * DATA, CONTINUATION and invalid-frame floods are nghttp2's.
 */
import { constants } from 'node:http2';
import type { ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import type { Clock } from '../../core/clock.js';

/** A reset within this long of the stream's opening is premature (Envoy's 1 s). */
export const PREMATURE_RESET_MS = 1_000;

/** Streams refused before reaching the proxy that a session may send (Node's maxSessionRejectedStreams). */
export const MAX_REJECTED_STREAMS = 100;

/** A session that read this much since the last look is checked for rejected streams. */
export const REJECTED_CHECK_BYTES = 16 * 1024;

export interface FloodLimits {
  readonly maxSettingsPerMinute: number;
  readonly prematureResetMinStreams: number;
}

export type FloodKind = 'rapid_reset' | 'settings_flood' | 'rejected_streams';

/** Stable codes counted in the listener's `rqRejected`, one per flood. */
export const FLOOD_CODES: Readonly<Record<FloodKind, string>> = {
  rapid_reset: 'ERR_HTTP2_RAPID_RESET',
  settings_flood: 'ERR_HTTP2_SETTINGS_FLOOD',
  rejected_streams: 'ERR_HTTP2_REJECTED_STREAM_FLOOD',
};

export class Http2FloodGuard {
  #streams = 0;
  #premature = 0;
  #settingsWindowStartMs: number;
  #settingsInWindow = 0;
  #ended = false;
  /** The session socket's bytesRead at the last rejected-streams look. */
  bytesAtCheck = 0;

  constructor(
    readonly session: ServerHttp2Session,
    readonly limits: FloodLimits,
    readonly clock: Clock,
    /** Told once, when the guard ends the session. */
    readonly onFlood: (kind: FloodKind) => void,
  ) {
    this.#settingsWindowStartMs = clock.now();
  }

  /** A SETTINGS frame came from the client. */
  settings(): void {
    const max = this.limits.maxSettingsPerMinute;
    if (max === 0) return;
    const now = this.clock.now();
    if (now - this.#settingsWindowStartMs >= 60_000) {
      this.#settingsWindowStartMs = now;
      this.#settingsInWindow = 0;
    }
    this.#settingsInWindow += 1;
    if (this.#settingsInWindow > max) this.#end('settings_flood');
  }

  /** A stream opened; `aborted` is listened for to spot a premature reset. */
  stream(stream: ServerHttp2Stream): void {
    this.#streams += 1;
    if (this.limits.prematureResetMinStreams === 0) return;
    const openedMs = this.clock.now();
    stream.once('aborted', () => {
      if (this.clock.now() - openedMs >= PREMATURE_RESET_MS) return;
      this.#premature += 1;
      if (this.#streams >= this.limits.prematureResetMinStreams && this.#premature * 2 > this.#streams) this.#end('rapid_reset');
    });
  }

  /** Streams the client opened (its last stream id) that never reached the proxy. */
  checkRejected(): void {
    const last = this.session.state.lastProcStreamID ?? 0;
    const opened = (last + 1) >> 1; // client streams are odd: 1, 3, 5, ...
    if (opened - this.#streams > MAX_REJECTED_STREAMS) this.#end('rejected_streams');
  }

  #end(kind: FloodKind): void {
    const session = this.session;
    if (this.#ended || session.destroyed) return;
    this.#ended = true;
    this.onFlood(kind);
    const code = constants.NGHTTP2_ENHANCE_YOUR_CALM;
    session.goaway(code, session.state.lastProcStreamID ?? 0, Buffer.from(kind, 'latin1'));
    session.destroy(undefined, code);
  }
}
