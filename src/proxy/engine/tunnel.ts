/**
 * An upgraded client connection (WebSocket, or any 101): bytes pass both ways between the client
 * socket and the upstream connection the Exchange handed over, with the proxy's own WebSocket
 * pings (websocket-pinger.ts) when configured. The tunnel owns the upstream connection until it
 * ends, then gives it back to its endpoint's pool to be closed (a tunnel is never reused).
 */
import { writeBytes } from './client-output.js';
import type { LifelineError } from '../../core/errors.js';
import type { CloseReason } from '../../core/close-reason.js';
import { WebSocketPinger, isWebSocketUpgrade } from './websocket-pinger.js';
import type { Member } from './cluster.js';
import type { UpstreamConnection, UpstreamSink } from './upstream-connection.js';
import type { Http1Connection } from './http1-connection.js';
import { owned } from './borrowed-bytes.js';

export class Tunnel implements UpstreamSink {
  #pinger: WebSocketPinger | undefined;
  #upstream: UpstreamConnection | null;
  #ended = false;

  constructor(
    readonly conn: Http1Connection,
    upstream: UpstreamConnection,
    readonly member: Member,
    upgrade: string | undefined,
    /** Backend bytes that came with the 101 (owned). */
    rest: Buffer,
    /** Client bytes that came before the 101 (owned). */
    early: Buffer,
  ) {
    this.#upstream = upstream;
    upstream.sink = this;
    const ping = conn.ctx.tunnelPing;
    // WebSocket pings on: from here on every tunnel byte passes through the pinger.
    if (ping.intervalMs > 0 && isWebSocketUpgrade(upgrade)) {
      const socket = upstream.socket;
      this.#pinger = new WebSocketPinger({
        intervalMs: ping.intervalMs,
        timeoutMs: ping.timeoutMs,
        missedLimit: 1,
        clock: conn.ctx.clock,
        toClient: (data) => conn.socket.write(data),
        toBackend: (data) => socket.write(data),
        // A side that stopped answering, or a malformed frame: close both sockets.
        onFailure: (error: LifelineError) => conn.tunnelEnded(error.code === 'ERR_WEBSOCKET_PING_TIMEOUT' ? 'heartbeat_timeout' : 'protocol_error', true),
      }).start();
    }
    if (rest.length > 0) this.onUpstreamData(rest, false);
    if (early.length > 0) this.fromClient(early, false);
  }

  fromClient(chunk: Buffer, shared: boolean): void {
    const upstream = this.#upstream;
    if (upstream === null) return;
    chunk = owned(chunk, shared); // written on, so it must outlive the read
    // With pings on, the pinger forwards (swallowing its own pongs, adding its pings).
    const ok = this.#pinger === undefined ? upstream.socket.write(chunk) : this.#pinger.fromClient(chunk);
    if (!ok) this.conn.socket.pause();
  }

  /** The client half-closed: pass the FIN on (a half-closed client cannot answer pings). */
  clientEnded(): void {
    this.#pinger?.close();
    this.#upstream?.socket.end();
  }

  clientDrained(): void {
    this.#upstream?.socket.resume();
  }

  clientBackpressure(): void {
    this.#upstream?.socket.pause();
  }

  onUpstreamData(chunk: Buffer, shared: boolean): void {
    chunk = owned(chunk, shared);
    this.conn.touch();
    if (this.#pinger === undefined) writeBytes(this.conn, chunk, false); // handles the pushback itself
    else if (!this.#pinger.fromBackend(chunk)) this.conn.pushback(); // pause upstream until the client drains
  }

  onUpstreamDrain(): void {
    this.conn.socket.resume();
  }

  onUpstreamClose(): void {
    this.#upstream = null;
    this.#done();
    this.conn.tunnelEnded('peer_close', false);
  }

  /** The client side ended the tunnel: close the upstream connection as `reason`. */
  close(reason: CloseReason): void {
    const upstream = this.#upstream;
    this.#upstream = null;
    this.#done();
    if (upstream !== null) this.member.pool.release(upstream, reason === 'peer_close' ? 'aborted' : reason, undefined, false);
  }

  #done(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#pinger?.close();
    this.member.view.activeRequests -= 1;
  }
}
