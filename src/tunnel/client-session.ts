/**
 * ClientSession: one connection from the client to the server, from HELLO to close.
 *
 * Lifecycle: `handshaking` (waiting for HELLO, then WELCOME; bounded by handshakeTimeoutMs) ->
 * `open` -> `closed`. The `closed` promise resolves once, with the error that ended it (undefined
 * for a normal close). The owner (TunnelClient) reconnects; a session is never reused.
 *
 * Keep-alive, both directions:
 * - Inbound: a Heartbeat. Any inbound frame is proof of life; after pingIntervalMs of inbound
 *   silence a PING goes out with its own reply timeout (pingTimeoutMs); after missedPings
 *   unanswered the server is declared dead (TunnelDeadPeerError) no later than
 *   pingIntervalMs + missedPings x pingTimeoutMs after the last inbound byte.
 * - Outbound: the server drops a client silent for clientTimeoutMs, and a client receiving a slow
 *   trickle sends nothing of its own; so a PING also goes out after pingIntervalMs of outbound
 *   silence. The interval used is the smaller of ours and the one the server announces.
 *
 * Security: the server's AUTH challenge is answered only after the transport's certificate check
 * (fingerprint pin or CA) passed, which the dialer does before this object exists.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Clock, TimerHandle } from '../core/clock.js';
import { Heartbeat } from '../core/heartbeat.js';
import { IdleTimer } from '../core/idle-timer.js';
import { closeInfo, closeInfoFromError } from '../core/close-reason.js';
import type { CloseInfo } from '../core/close-reason.js';
import type { Destination } from './address.js';
import { encodeOpen, formatDestination } from './address.js';
import { authMac } from './auth.js';
import { TunnelAuthError, TunnelDeadPeerError, TunnelError, TunnelProtocolError } from './errors.js';
import type { Frame, Hello } from './frame.js';
import { AuthMethod, FrameDecoder, FrameType, decodeGoaway, decodeHello, decodeNotice, decodeOpenFail, encodeAuth, encodeGoaway, encodePing, MAX_DATA_PAYLOAD } from './frame.js';
import { CONGESTED_BYTES, Mux, RstCode } from './mux.js';
import type { TunnelStream } from './tunnel-stream.js';
import type { FrameTransport } from './transport.js';
import { channelBinding } from './transport.js';

export interface ClientSessionConfig {
  token: string | undefined;
  /** Authenticate with the TLS client certificate instead of a token. */
  certificateAuth: boolean;
  name: string;
  reconnects: number;
  pingIntervalMs: number;
  pingTimeoutMs: number;
  missedPings: number;
  jitter: number;
  handshakeTimeoutMs: number;
  windowBytes: number;
  /** Pipeline opens to destinations that opened before in this session (see `open`). */
  pipelineOpens: boolean;
  clock: Clock;
}

/** Destinations remembered as opened successfully, per session (oldest forgotten first). */
const KNOWN_DESTINATIONS = 1024;

export interface OpenResult {
  /** SOCKS5 reply code: 0 success, 2 not allowed by the server, ... */
  reply: number;
  message: string;
}

export interface ClientSessionEvents {
  open: [info: { sessionId: number; hello: Hello; pingIntervalMs: number }];
  notice: [message: string];
  ping: [sequence: number];
}

export type ClientSessionState = 'handshaking' | 'open' | 'closed';

interface PendingOpen {
  stream: TunnelStream;
  socket: Socket;
  accept: (() => void) | undefined;
  resolve: (result: OpenResult) => void;
  /** Sent optimistically: the stream already runs on the window HELLO announced. */
  pipelined: boolean;
  key: string;
}

/**
 * @example
 *   const session = new ClientSession(transport, config);
 *   await session.ready; const r = await session.open(dest, socket); // r.reply === 0
 *   const error = await session.closed;
 */
export class ClientSession extends EventEmitter<ClientSessionEvents> {
  readonly transport: FrameTransport;
  readonly mux: Mux;
  /** Resolves when the server welcomed us; rejects with the reason otherwise. */
  readonly ready: Promise<number>;
  /** Resolves once when the session ends, with the error (undefined for a normal close). */
  readonly closed: Promise<Error | undefined>;
  sessionId = 0;
  pingIntervalMs: number;
  /** Why the session ended, who ended it and the layer that noticed; undefined while it lasts. */
  closeInfo: CloseInfo | undefined;
  readonly #config: ClientSessionConfig;
  readonly #decoder = new FrameDecoder(MAX_DATA_PAYLOAD);
  readonly #pending = new Map<number, PendingOpen>();
  /** Destinations the server opened for us in this session, most recent last. */
  readonly #known = new Set<string>();
  #state: ClientSessionState = 'handshaking';
  #heartbeat: Heartbeat | undefined;
  #outIdle: IdleTimer | undefined;
  #handshakeTimer: TimerHandle | undefined;
  #nextStreamId = 1;
  #pingSequence = 0;
  #heartbeatSequence = -1;
  #lastInboundMs: number;
  #resolveReady!: (id: number) => void;
  #rejectReady!: (error: Error) => void;
  #resolveClosed!: (error: Error | undefined) => void;

  constructor(transport: FrameTransport, config: ClientSessionConfig) {
    super();
    this.transport = transport;
    this.#config = config;
    this.pingIntervalMs = config.pingIntervalMs;
    this.#lastInboundMs = config.clock.now();
    this.ready = new Promise<number>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.ready.catch(() => undefined);
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.mux = new Mux({
      windowBytes: config.windowBytes,
      maxDataPayload: MAX_DATA_PAYLOAD,
      send: (frame) => this.#send(frame),
      sendParts: (header, payload) => {
        this.#outIdle?.touch();
        transport.writeParts(header, payload);
      },
      congested: () => transport.kind === 'tls' && transport.bufferedBytes >= CONGESTED_BYTES,
    });
    this.#handshakeTimer = config.clock.setTimer(() => {
      if (this.#state === 'handshaking') this.close(new TunnelError('ERR_TUNNEL_TIMEOUT', `no WELCOME within ${config.handshakeTimeoutMs} ms`), closeInfo('handshake_timeout', 'tunnel'));
    }, config.handshakeTimeoutMs);
    transport.onData((chunk) => this.#onChunk(chunk));
    transport.onDrain(() => this.mux.drained());
    // A FIN (or a WebSocket close) without GOAWAY is the server closing; an error says by its errno.
    transport.onClose((error) => {
      if (error !== undefined) this.close(error, closeInfoFromError(error));
      else this.close(new TunnelError('ERR_TUNNEL_CLOSED', 'the server closed the connection'), closeInfo('peer_close', transport.kind === 'wss' ? 'websocket' : 'tcp'));
    });
  }

  get state(): ClientSessionState {
    return this.#state;
  }

  get rttMs(): number | undefined {
    return this.#heartbeat?.rttMs;
  }

  /**
   * Open a stream to `destination` through the server and bind it to `socket` (kept paused until
   * the server answers). `accept` runs synchronously on success before any stream byte reaches
   * `socket` (a SOCKS reply must precede the data). Resolves with the server's reply; never rejects.
   *
   * Pipelined open: to a destination the server already opened for us in this session (and with
   * `pipelineOpens`), we do not wait for OPEN_OK: `accept` runs at once, and the socket's first
   * bytes follow the OPEN as DATA on the window the server announced in HELLO, as ssh -D does. It
   * saves a tunnel round trip before the first byte. The cost: if that open fails after all, the
   * local client sees its connection close instead of a SOCKS error code (and the destination is
   * no longer pipelined). First opens, and opens after a failure, wait and get the exact reply.
   */
  open(destination: Destination, socket: Socket, accept?: () => void): Promise<OpenResult> {
    if (this.#state !== 'open') return Promise.resolve({ reply: 1, message: 'tunnel session not open' });
    const id = this.#nextStreamId;
    this.#nextStreamId += 1;
    const stream = this.mux.create(id, destination);
    const key = `${destination.kind} ${formatDestination(destination)}`;
    // Far below the server's stream limit only, so a refusal for the limit keeps its exact reply
    // (the server's count of live streams may lag ours by a few closes, not by half the limit).
    const hello = this.#helloSeen;
    const pipelined = this.#config.pipelineOpens && hello !== undefined && this.#known.has(key) && this.mux.streams.size * 2 <= hello.maxStreams;
    socket.pause();
    return new Promise<OpenResult>((resolve) => {
      this.#pending.set(id, { stream, socket, accept, resolve, pipelined, key });
      const cancel = (): void => {
        if (!this.#pending.has(id)) return;
        this.#pending.delete(id);
        this.mux.reset(stream, RstCode.CANCEL);
        resolve({ reply: 1, message: 'local connection closed while opening' });
      };
      if (!pipelined) socket.once('close', cancel);
      // Pipelined: the local client is answered first, so its first bytes are on their way while
      // the OPEN goes out; they are read only once the stream is attached, after the OPEN.
      if (pipelined) accept?.();
      this.#send(encodeOpen(id, this.#config.windowBytes, destination));
      if (pipelined) {
        this.mux.attach(stream, socket, hello.windowBytes);
        resolve({ reply: 0, message: 'ok (pipelined)' });
      }
    });
  }

  /**
   * End the session (idempotent). Every stream socket is destroyed. `info` says why; without it,
   * no error is our own close (`shutdown`) and an error is bad data from the server (`protocol_error`).
   */
  close(error?: Error, info?: CloseInfo): void {
    if (this.#state === 'closed') return;
    const wasOpen = this.#state === 'open';
    this.#state = 'closed';
    this.closeInfo = info ?? closeInfo(error === undefined ? 'shutdown' : 'protocol_error', 'tunnel');
    this.#heartbeat?.close();
    this.#outIdle?.stop();
    this.#handshakeTimer?.cancel();
    for (const p of this.#pending.values()) p.resolve({ reply: 1, message: 'tunnel session closed' });
    this.#pending.clear();
    this.mux.closeAll();
    if (error === undefined && !this.transport.closed) {
      this.transport.write(encodeGoaway('ERR_TUNNEL_DONE', 'client closing'));
      this.transport.end();
    } else {
      this.transport.destroy();
    }
    if (!wasOpen) this.#rejectReady(error ?? new TunnelError('ERR_TUNNEL_CLOSED', 'closed during the handshake'));
    this.#resolveClosed(error);
  }

  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #send(frame: Buffer): void {
    this.#outIdle?.touch();
    this.transport.write(frame);
  }

  #onChunk(chunk: Buffer): void {
    if (this.#state === 'closed') return;
    this.#lastInboundMs = this.#config.clock.now();
    this.#heartbeat?.received();
    let frames: Frame[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (error) {
      this.close(error as Error);
      return;
    }
    for (const frame of frames) {
      if (this.#isClosed()) return;
      try {
        this.#onFrame(frame);
      } catch (error) {
        this.close(error as Error);
        return;
      }
    }
  }

  #onFrame(frame: Frame): void {
    switch (frame.type) {
      case FrameType.HELLO:
        if (this.#state !== 'handshaking' || this.#heartbeat !== undefined || this.sessionId !== 0) throw new TunnelProtocolError('ERR_TUNNEL_UNEXPECTED', 'HELLO twice');
        this.#onHello(decodeHello(frame.payload));
        return;
      case FrameType.WELCOME:
        if (this.#state !== 'handshaking' || this.#heartbeat === undefined) throw new TunnelProtocolError('ERR_TUNNEL_UNEXPECTED', 'WELCOME out of order');
        this.#onWelcome(frame.payload.readUInt32BE(0));
        return;
      case FrameType.GOAWAY: {
        const { code, message } = decodeGoaway(frame.payload);
        if (code === 'ERR_TUNNEL_AUTH') this.close(new TunnelAuthError('ERR_TUNNEL_AUTH', `server refused: ${message}`), closeInfo('auth_failed', 'tunnel', 'remote'));
        else this.close(new TunnelError(code, `server closed the session: ${message}`), closeInfo('peer_close', 'tunnel'));
        return;
      }
      case FrameType.PONG: {
        const seq = Number(frame.payload.readBigUInt64BE(0));
        if (seq === this.#heartbeatSequence) this.#heartbeat?.pong();
        return;
      }
      case FrameType.NOTICE:
        this.emit('notice', decodeNotice(frame.payload).message);
        return;
      default:
        break;
    }
    if (this.#state !== 'open') throw new TunnelProtocolError('ERR_TUNNEL_UNEXPECTED', `frame type 0x${frame.type.toString(16)} before WELCOME`);
    switch (frame.type) {
      case FrameType.OPEN_OK:
      case FrameType.OPEN_FAIL: {
        const pending = this.#pending.get(frame.streamId);
        if (pending === undefined) {
          if (this.mux.streams.has(frame.streamId)) throw new TunnelProtocolError('ERR_TUNNEL_STREAM', `second answer for stream ${frame.streamId}`);
          return; // answer for a stream we cancelled
        }
        this.#pending.delete(frame.streamId);
        if (frame.type === FrameType.OPEN_OK) {
          const window = frame.payload.readUInt32BE(0);
          this.#remember(pending.key);
          if (pending.pipelined) {
            // It has been sending on HELLO's window; the server's answer is the real one.
            this.mux.adjustSendWindow(pending.stream, window - (this.#helloSeen as Hello).windowBytes);
            return;
          }
          pending.accept?.();
          this.mux.attach(pending.stream, pending.socket, window);
          pending.resolve({ reply: 0, message: 'ok' });
        } else {
          const { reply, message } = decodeOpenFail(frame.payload);
          this.#known.delete(pending.key);
          this.mux.drop(pending.stream);
          if (pending.pipelined) pending.socket.destroy(); // already told "connected": all we can do
          else pending.resolve({ reply, message });
        }
        return;
      }
      case FrameType.DATA:
      case FrameType.WINDOW:
      case FrameType.FIN:
      case FrameType.RST:
        this.mux.handle(frame);
        return;
      default:
        throw new TunnelProtocolError('ERR_TUNNEL_UNEXPECTED', `a server may not send frame type 0x${frame.type.toString(16)}`);
    }
  }

  #onHello(hello: Hello): void {
    const c = this.#config;
    // The smaller interval wins: ours if we are stricter, the server's if it needs more.
    this.pingIntervalMs = Math.max(1, Math.min(c.pingIntervalMs, hello.pingIntervalMs > 0 ? hello.pingIntervalMs : c.pingIntervalMs));
    if (hello.minPingIntervalMs > 0) this.pingIntervalMs = Math.max(this.pingIntervalMs, hello.minPingIntervalMs);
    const timeoutMs = Math.max(hello.minPingIntervalMs, c.pingTimeoutMs);
    this.#heartbeat = new Heartbeat({
      intervalMs: this.pingIntervalMs,
      timeoutMs,
      missedLimit: c.missedPings,
      jitter: c.jitter,
      clock: c.clock,
      sendPing: () => this.#sendPing(true),
    });
    this.#heartbeat.on('dead', (reason) => this.close(new TunnelDeadPeerError(c.missedPings, c.clock.now() - this.#lastInboundMs), closeInfo(reason, 'tunnel')));
    let mac: Buffer = Buffer.alloc(32);
    let method: 1 | 2 = AuthMethod.CERTIFICATE;
    if (c.token !== undefined && !c.certificateAuth) {
      method = AuthMethod.TOKEN;
      mac = authMac(c.token, hello.nonce, channelBinding(this.transport));
    }
    this.#send(encodeAuth({ method, mac, reconnects: c.reconnects, name: c.name }));
    this.#helloSeen = hello;
  }

  #helloSeen: Hello | undefined;

  #remember(key: string): void {
    if (!this.#config.pipelineOpens) return;
    this.#known.delete(key);
    this.#known.add(key);
    if (this.#known.size > KNOWN_DESTINATIONS) {
      const oldest = this.#known.values().next();
      if (oldest.done !== true) this.#known.delete(oldest.value);
    }
  }

  #onWelcome(sessionId: number): void {
    const hello = this.#helloSeen as Hello;
    this.sessionId = sessionId;
    this.#state = 'open';
    this.#handshakeTimer?.cancel();
    this.#heartbeat?.start();
    this.#outIdle = new IdleTimer({
      timeoutMs: this.pingIntervalMs,
      clock: this.#config.clock,
      onExpire: () => {
        if (this.#state !== 'open') return;
        this.#sendPing(false);
        this.#outIdle?.start();
      },
    }).start();
    this.#resolveReady(sessionId);
    this.emit('open', { sessionId, hello, pingIntervalMs: this.pingIntervalMs });
  }

  #sendPing(tracked: boolean): void {
    this.#pingSequence += 1;
    if (tracked) this.#heartbeatSequence = this.#pingSequence;
    const rtt = this.#heartbeat?.rttMs;
    this.emit('ping', this.#pingSequence);
    this.#send(encodePing(this.#pingSequence, rtt === undefined ? 0 : rtt * 1000));
  }
}
