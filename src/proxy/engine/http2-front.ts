/**
 * A listener's HTTP/2 side: one `node:http2` server that owns no socket of its own. The listener
 * hands it the sockets that chose HTTP/2 (ALPN `h2` on TLS, the connection preface in clear);
 * each request stream becomes an Http2Stream and goes through the same Exchange as HTTP/1.1.
 *
 * Keep-alive on the HTTP/2 layer is lifeline/server's Http2KeepAliveController: PING after
 * `pingIntervalMs` of silence and close on `pingTimeoutMs`, GOAWAY(NO_ERROR) after
 * `idleTimeoutMs` with no stream, max age with jitter, gRPC's ping strikes.
 */
import http2 from 'node:http2';
import type { IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { Http2KeepAliveController } from '../../http/server/http2-keep-alive-controller.js';
import type { DrainResult } from '../../http/server/drain-run.js';
import type { CloseReason } from '../../core/close-reason.js';
import type { Http2ClientConfig } from '../config/index.js';
import type { ListenerContext } from './listener-context.js';
import { Http2Stream, requestHeadFromHttp2 } from './http2-stream.js';
import { FLOOD_CODES, Http2FloodGuard, REJECTED_CHECK_BYTES } from './http2-flood-guard.js';
import type { TimerHandle } from '../../core/clock.js';

/** How often sessions that read much are checked for streams Node rejected (see Http2FloodGuard). */
const REJECTED_CHECK_MS = 250;

/** The connection preface of HTTP/2 with prior knowledge (RFC 9113 3.4). */
export const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** lifeline/server's close reasons in the one vocabulary of core/close-reason.ts. */

function ignore(): void {}

function startStream(s: Http2Stream): void {
  if (s.stream.destroyed || s.stream.closed || s.stream.aborted) return;
  s.start();
}

export class Http2Front {
  readonly server: http2.Http2Server;
  readonly keepAlive: Http2KeepAliveController;
  readonly #sessions = new Set<ServerHttp2Session>();
  readonly #guards = new WeakMap<ServerHttp2Session, Http2FloodGuard>();
  /** Sessions ended for a flood: their close counts as `flood`, whatever nghttp2 saw after. */
  readonly #flooded = new WeakSet<ServerHttp2Session>();
  /** The sockets handed over, until they close (close() destroys them with their sessions). */
  readonly #sockets = new Set<Socket>();

  constructor(
    readonly ctx: ListenerContext,
    config: Http2ClientConfig,
  ) {
    this.server = http2.createServer({
      // RFC 8441 extended CONNECT is not offered: browsers then open WebSockets over HTTP/1.1.
      settings: { maxConcurrentStreams: config.maxConcurrentStreams, enableConnectProtocol: false },
      maxHeaderListPairs: ctx.client.maxHeaders,
      maxSendHeaderBlockLength: 64 * 1024,
    });
    this.keepAlive = new Http2KeepAliveController(this.server, {
      idleTimeoutMs: config.idleTimeoutMs,
      pingIntervalMs: config.pingIntervalMs,
      pingTimeoutMs: config.pingTimeoutMs,
      maxConnectionAgeMs: config.maxConnectionAgeMs,
      maxPingsPerMinute: config.maxPingsPerMinute,
      minPingIntervalWithoutDataMs: config.minPingIntervalWithoutDataMs,
      maxPingStrikes: config.maxPingStrikes,
      clock: ctx.clock,
      onSessionClose: (session, reason) => {
        if (reason === 'flood') this.ctx.metrics.rejected('ERR_HTTP2_PING_FLOOD');
        this.#sessionClosed(session, reason);
      },
    });
    this.server.on('session', (session: ServerHttp2Session) => {
      this.#sessions.add(session);
      session.on('error', (error: Error & { code?: string }) => this.#sessionError(session, error));
      const guard = new Http2FloodGuard(session, config, ctx.clock, (kind) => {
        this.#flooded.add(session);
        ctx.metrics.rejected(FLOOD_CODES[kind]);
      });
      this.#guards.set(session, guard);
      session.on('remoteSettings', () => guard.settings());
    });
    this.server.on('stream', this.#onStream);
    this.server.on('sessionError', ignore);
    this.#checkTimer = ctx.clock.setTimer(this.#checkRejected, REJECTED_CHECK_MS);
  }

  #checkTimer: TimerHandle | undefined;

  /** Every REJECTED_CHECK_MS: sessions that read REJECTED_CHECK_BYTES since the last look (an idle one costs a field read). */
  readonly #checkRejected = (): void => {
    for (const session of this.#sessions) {
      const guard = this.#guards.get(session);
      if (guard === undefined) continue;
      const read = session.socket?.bytesRead ?? 0;
      if (read - guard.bytesAtCheck < REJECTED_CHECK_BYTES) continue;
      guard.bytesAtCheck = read;
      if (!session.destroyed) guard.checkRejected();
    }
    this.#checkTimer = this.ctx.clock.setTimer(this.#checkRejected, REJECTED_CHECK_MS);
  };

  /** HTTP/2 sessions open. */
  get sessions(): number {
    return this.#sessions.size;
  }

  /** Serve `socket` (its preface may have been unshifted back) as an HTTP/2 session. */
  accept(socket: Socket): void {
    // The listener allows half-open for HTTP/1 (a response after the client's FIN); HTTP/2 ends
    // with GOAWAY, and a session must end when its client's socket does.
    socket.allowHalfOpen = false;
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    this.server.emit('connection', socket);
  }

  /** GOAWAY every session; open streams finish; what remains at `timeoutMs` is destroyed. */
  drain(timeoutMs: number): Promise<DrainResult> {
    return this.keepAlive.drain({ timeoutMs, spreadMs: 0 });
  }

  /** Destroy every session and stop every timer. */
  close(): void {
    for (const session of this.#sessions) session.destroy();
    this.#sessions.clear();
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    this.keepAlive.close();
    this.#checkTimer?.cancel();
    this.#checkTimer = undefined;
  }

  readonly #onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]): void => {
    stream.on('error', ignore);
    const session = stream.session;
    if (session !== undefined) this.#guards.get(session as ServerHttp2Session)?.stream(stream);
    const endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    const head = requestHeadFromHttp2(headers, rawHeaders, endStream);
    // Begun on the next turn, once the rest of this read is processed: a stream the client reset
    // in the same read (Rapid Reset sends HEADERS and RST_STREAM together) then costs no exchange
    // and no backend request.
    setImmediate(startStream, new Http2Stream(this.ctx, stream, head, stream.session?.socket?.remoteAddress ?? ''));
  };

  /** nghttp2 ends the floods it bounds itself with an error (and GOAWAY INTERNAL_ERROR): count them as floods. */
  #sessionError(session: ServerHttp2Session, error: Error & { code?: string }): void {
    let code: string | undefined;
    if (error.code === 'ERR_HTTP2_TOO_MANY_INVALID_FRAMES') code = 'ERR_HTTP2_INVALID_FRAME_FLOOD';
    else if (error.code === 'ERR_HTTP2_ERROR' && error.message.includes('CONTINUATION')) code = 'ERR_HTTP2_CONTINUATION_FLOOD';
    if (code === undefined || this.#flooded.has(session)) return;
    this.#flooded.add(session);
    this.ctx.metrics.rejected(code);
  }

  #sessionClosed(session: ServerHttp2Session, reason: CloseReason): void {
    if (!this.#sessions.delete(session)) return;
    this.ctx.metrics.connectionClosed(this.#flooded.has(session) ? 'flood' : reason);
  }
}
