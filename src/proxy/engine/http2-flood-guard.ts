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
 * PING floods are the keep-alive controller's (maxPingsPerMinute, gRPC ping strikes); empty
 * DATA, CONTINUATION and invalid-frame floods and oversized header lists are nghttp2's.
 */
import { constants } from 'node:http2';
import type { ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import type { Clock } from '../../core/clock.js';

/** A reset within this long of the stream's opening is premature (Envoy's 1 s). */
export const PREMATURE_RESET_MS = 1_000;

export interface FloodLimits {
  readonly maxSettingsPerMinute: number;
  readonly prematureResetMinStreams: number;
}

export type FloodKind = 'rapid_reset' | 'settings_flood';

/** Stable codes counted in the listener's `rqRejected`, one per flood. */
export const FLOOD_CODES: Readonly<Record<FloodKind, string>> = {
  rapid_reset: 'ERR_HTTP2_RAPID_RESET',
  settings_flood: 'ERR_HTTP2_SETTINGS_FLOOD',
};

export class Http2FloodGuard {
  #streams = 0;
  #premature = 0;
  #settingsWindowStartMs: number;
  #settingsInWindow = 0;
  #ended = false;

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
