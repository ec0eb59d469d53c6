/**
 * ServerSession: one client's tunnel on the server: handshake, authentication, keep-alive policy,
 * and opening target connections on the client's behalf.
 *
 * Lifecycle (changed only in `#setState`/`close`): `handshaking` (HELLO sent, waiting for AUTH,
 * bounded by handshakeTimeoutMs) -> `open` (WELCOME sent) -> `closed`. Any bad wire data closes
 * this session only, with a typed error sent in GOAWAY first; the server keeps serving the others.
 *
 * Keep-alive: the session ends when the client sends nothing for `clientTimeoutMs` (an IdleTimer
 * touched on every inbound chunk: one clock read per chunk). Closing releases every socket at
 * once: the tunnel socket is destroyed (not ended: the peer is presumed gone), every stream's
 * target socket is destroyed, and dials still in progress are aborted.
 *
 * Ping limiting: the server announces its interval and a minimum; pings are answered from a token
 * bucket (burst `PING_BURST`, one token per minPingIntervalMs). The first ping over the limit
 * earns a NOTICE; pings over the limit are counted and not answered.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Clock, TimerHandle } from '../core/clock.js';
import { IdleTimer } from '../core/idle-timer.js';
import type { TimerWheel } from '../core/timer-wheel.js';
import type { BufferPool } from '../transport/write-batcher.js';
import type { LifelineError } from '../core/errors.js';
import { closeInfo, closeInfoFromError } from '../core/close-reason.js';
import type { CloseInfo, CloseLayer, CloseReason } from '../core/close-reason.js';
import type { Destination } from './address.js';
import { decodeOpen, formatDestination } from './address.js';
import type { Allowlist, Lookup } from './allowlist.js';
import { verifyMac } from './auth.js';
import { TunnelAuthError, TunnelError, TunnelProtocolError } from './errors.js';
import type { Frame } from './frame.js';
import { AuthMethod, FrameDecoder, FrameType, NoticeKind, decodeAuth, encodeFrame, encodeGoaway, encodeHello, encodeNotice, encodeOpenFail, encodeU32 } from './frame.js';
import { CONGESTED_BYTES, Mux } from './mux.js';
import type { TunnelStream } from './tunnel-stream.js';
import type { FrameTransport } from './transport.js';
import { channelBinding } from './transport.js';

export type ServerSessionState = 'handshaking' | 'open' | 'closed';
/**
 * Why a session ended, in lifeline's one vocabulary (src/core/close-reason.ts): the client's
 * pings stopped for clientTimeoutMs (`heartbeat_timeout`), it closed (`peer_close`: GOAWAY or a
 * FIN), bad frames (`protocol_error`), bad credentials (`auth_failed`), no AUTH in time
 * (`handshake_timeout`), the server closed (`shutdown`), or a socket error by its errno.
 */
export type ServerCloseReason = Extract<
  CloseReason,
  'heartbeat_timeout' | 'peer_close' | 'protocol_error' | 'auth_failed' | 'handshake_timeout' | 'shutdown' | 'reset' | 'tcp_timeout' | 'tls_error' | 'error'
>;

/** SOCKS5 reply codes (RFC 1928), also used in OPEN_FAIL. */
export const Reply = { OK: 0, GENERAL: 1, NOT_ALLOWED: 2, NET_UNREACHABLE: 3, HOST_UNREACHABLE: 4, REFUSED: 5, TIMEOUT: 6, COMMAND: 7, ADDRESS_TYPE: 8 } as const;

export const PING_BURST = 10;

export interface ServerSessionConfig {
  id: number;
  tokens: readonly string[];
  certificateAuth: boolean;
  allowlist: Allowlist;
  lookup: Lookup;
  pingIntervalMs: number;
  clientTimeoutMs: number;
  minPingIntervalMs: number;
  handshakeTimeoutMs: number;
  connectTimeoutMs: number;
  maxStreams: number;
  windowBytes: number;
  maxDataPayload: number;
  streamIdleTimeoutMs: number;
  wheel: TimerWheel;
  clock: Clock;
  /** The pool the server's sessions copy DATA for targets into (SessionBuffers.deliveries). */
  deliveryPool?: BufferPool | undefined;
}

export interface ServerSessionEvents {
  open: [];
  /** `info` has the reason again with its side and the layer that noticed (CloseInfo). */
  close: [reason: ServerCloseReason, error: LifelineError | Error | undefined, info: CloseInfo];
  stream: [event: 'open' | 'refused', destination: Destination, detail: string];
}

/** What `status()` reports for one session. */
export interface ServerSessionStatus {
  id: number;
  name: string;
  remote: string;
  transport: 'tls' | 'wss';
  state: ServerSessionState;
  connectedForMs: number;
  /** The client's last measured ping round trip, ms (reported in its pings). */
  rttMs: number | null;
  /** Time since the client's last ping arrived, ms; null before the first. */
  lastPingAgoMs: number | null;
  streams: number;
  /** Bytes from the client to targets, and from targets to the client. */
  bytesFromClient: number;
  bytesToClient: number;
  reconnects: number;
  pingsLimited: number;
}

export function replyForError(error: unknown): number {
  const code = (error as { code?: unknown }).code;
  switch (code) {
    case 'ECONNREFUSED':
      return Reply.REFUSED;
    case 'ENETUNREACH':
      return Reply.NET_UNREACHABLE;
    case 'EHOSTUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
      return Reply.HOST_UNREACHABLE;
    case 'ETIMEDOUT':
    case 'ERR_TUNNEL_TIMEOUT':
      return Reply.TIMEOUT;
    default:
      return Reply.GENERAL;
  }
}

/**
 * @example
 *   const session = new ServerSession(transport, config);
 *   session.on('close', (reason, error) => log(reason, error?.code));
 */
export class ServerSession extends EventEmitter<ServerSessionEvents> {
  readonly id: number;
  readonly transport: FrameTransport;
  readonly mux: Mux;
  name = '';
  reconnects = 0;
  rttMs: number | null = null;
  pingsLimited = 0;
  closeReason: ServerCloseReason | undefined;
  /** The reason with its side and layer, once closed. */
  closeInfo: CloseInfo | undefined;
  readonly #config: ServerSessionConfig;
  readonly #decoder: FrameDecoder;
  readonly #idle: IdleTimer;
  readonly #nonce = randomBytes(32);
  readonly #startedMs: number;
  readonly #dialing = new Set<net.Socket>();
  #state: ServerSessionState = 'handshaking';
  #handshakeTimer: TimerHandle | undefined;
  #lastStreamId = 0;
  #pingTokens = PING_BURST;
  /** When the last PING arrived (clock ms); undefined before the first. */
  #lastPingMs: number | undefined;
  #pingRefillMs: number;
  #noticeSent = false;

  constructor(transport: FrameTransport, config: ServerSessionConfig) {
    super();
    this.id = config.id;
    this.transport = transport;
    this.#config = config;
    this.#startedMs = config.clock.now();
    this.#pingRefillMs = this.#startedMs;
    this.#decoder = new FrameDecoder(config.maxDataPayload);
    this.mux = new Mux({
      windowBytes: config.windowBytes,
      maxDataPayload: config.maxDataPayload,
      send: (frame) => transport.write(frame),
      sendParts: (header, payload) => transport.writeParts(header, payload),
      congested: () => transport.kind === 'tls' && transport.bufferedBytes >= CONGESTED_BYTES,
      // A client may pipeline DATA behind OPEN (up to the window HELLO announced): held until the
      // target connection is up, dropped if it fails.
      dataWhileOpening: true,
      deliveryPool: config.deliveryPool,
      wheel: config.wheel,
      streamIdleTimeoutMs: config.streamIdleTimeoutMs,
    });
    this.#idle = new IdleTimer({ timeoutMs: config.clientTimeoutMs, onExpire: () => this.close('heartbeat_timeout'), clock: config.clock }).start();
    this.#handshakeTimer = config.clock.setTimer(() => {
      if (this.#state === 'handshaking') this.close('handshake_timeout', new TunnelError('ERR_TUNNEL_TIMEOUT', `no AUTH within ${config.handshakeTimeoutMs} ms`));
    }, config.handshakeTimeoutMs);
    transport.onData((chunk) => this.#onChunk(chunk));
    transport.onDrain(() => this.mux.drained());
    // A FIN (or a WebSocket close) without GOAWAY is the client closing; an error says by its errno.
    transport.onClose((error) => {
      if (error === undefined) this.close('peer_close', undefined, transport.kind === 'wss' ? 'websocket' : 'tcp');
      else {
        const info = closeInfoFromError(error);
        this.close(info.reason as ServerCloseReason, error, info.layer);
      }
    });
    transport.write(
      encodeHello({
        nonce: this.#nonce,
        pingIntervalMs: config.pingIntervalMs,
        clientTimeoutMs: config.clientTimeoutMs,
        minPingIntervalMs: config.minPingIntervalMs,
        maxStreams: config.maxStreams,
        windowBytes: config.windowBytes,
      }),
    );
  }

  get state(): ServerSessionState {
    return this.#state;
  }

  status(): ServerSessionStatus {
    return {
      id: this.id,
      name: this.name,
      remote: this.transport.remoteAddress,
      transport: this.transport.kind,
      state: this.#state,
      connectedForMs: Math.round(this.#config.clock.now() - this.#startedMs),
      rttMs: this.rttMs,
      lastPingAgoMs: this.#lastPingMs === undefined ? null : Math.round(this.#config.clock.now() - this.#lastPingMs),
      streams: this.mux.streams.size,
      bytesFromClient: this.mux.bytesIn,
      bytesToClient: this.mux.bytesOut,
      reconnects: this.reconnects,
      pingsLimited: this.pingsLimited,
    };
  }

  /**
   * End the session. With an error, GOAWAY carries its code and the socket is ended (flushed);
   * for timeouts and server shutdown it is destroyed at once. Every stream socket goes with it.
   */
  close(reason: ServerCloseReason, error?: LifelineError | Error, layer: CloseLayer = 'tunnel'): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.closeReason = reason;
    const info = closeInfo(reason, layer);
    this.closeInfo = info;
    this.#idle.stop();
    this.#handshakeTimer?.cancel();
    this.mux.closeAll();
    for (const socket of this.#dialing) socket.destroy();
    this.#dialing.clear();
    const code = (error as { code?: unknown } | undefined)?.code;
    if (typeof code === 'string' && code.startsWith('ERR_TUNNEL') && !this.transport.closed) {
      this.transport.write(encodeGoaway(code, error?.message ?? ''));
      this.transport.end();
    } else if (reason === 'shutdown' && !this.transport.closed) {
      this.transport.write(encodeGoaway('ERR_TUNNEL_SHUTDOWN', 'server is shutting down'));
      this.transport.destroy();
    } else {
      this.transport.destroy();
    }
    this.emit('close', reason, error, info);
  }

  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #onChunk(chunk: Buffer): void {
    if (this.#state === 'closed') return;
    this.#idle.touch();
    let frames: Frame[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (error) {
      this.close('protocol_error', error as Error);
      return;
    }
    for (const frame of frames) {
      if (this.#isClosed()) return;
      try {
        this.#onFrame(frame);
      } catch (error) {
        this.close(error instanceof TunnelAuthError ? 'auth_failed' : 'protocol_error', error as Error);
        return;
      }
    }
  }

  #onFrame(frame: Frame): void {
    if (this.#state === 'handshaking') {
      if (frame.type !== FrameType.AUTH) throw new TunnelProtocolError('ERR_TUNNEL_UNEXPECTED', `frame type 0x${frame.type.toString(16)} before AUTH`);
      this.#onAuth(frame.payload);
      return;
    }
    switch (frame.type) {
      case FrameType.PING:
        this.#onPing(frame);
        return;
      case FrameType.OPEN:
        this.#onOpen(frame);
        return;
      case FrameType.DATA:
      case FrameType.WINDOW:
      case FrameType.FIN:
      case FrameType.RST:
        this.mux.handle(frame);
        return;
      case FrameType.GOAWAY:
        this.close('peer_close');
        return;
      default:
        throw new TunnelProtocolError('ERR_TUNNEL_UNEXPECTED', `a client may not send frame type 0x${frame.type.toString(16)}`);
    }
  }

  #onAuth(payload: Buffer): void {
    const auth = decodeAuth(payload);
    let ok = false;
    if (auth.method === AuthMethod.TOKEN && this.#config.tokens.length > 0) {
      ok = verifyMac(this.#config.tokens, this.#nonce, channelBinding(this.transport), auth.mac);
    } else if (auth.method === AuthMethod.CERTIFICATE && this.#config.certificateAuth) {
      ok = this.transport.tlsSocket.authorized;
    }
    if (!ok) throw new TunnelAuthError('ERR_TUNNEL_AUTH', auth.method === AuthMethod.TOKEN ? 'token authentication failed' : 'client certificate authentication failed');
    this.name = auth.name;
    this.reconnects = auth.reconnects;
    this.#state = 'open';
    this.#handshakeTimer?.cancel();
    this.transport.write(encodeU32(FrameType.WELCOME, 0, this.id));
    this.emit('open');
  }

  #onPing(frame: Frame): void {
    const rttUs = frame.payload.readUInt32BE(8);
    if (rttUs > 0) this.rttMs = rttUs / 1000;
    const now = this.#config.clock.now();
    this.#lastPingMs = now;
    const min = this.#config.minPingIntervalMs;
    const earned = Math.floor((now - this.#pingRefillMs) / min);
    if (earned > 0) {
      this.#pingTokens = Math.min(PING_BURST, this.#pingTokens + earned);
      this.#pingRefillMs += earned * min;
      if (this.#pingTokens === PING_BURST) this.#pingRefillMs = now;
    }
    if (this.#pingTokens >= 1) {
      this.#pingTokens -= 1;
      this.transport.write(encodeFrame(FrameType.PONG, 0, frame.payload.subarray(0, 8)));
      return;
    }
    this.pingsLimited += 1;
    if (!this.#noticeSent) {
      this.#noticeSent = true;
      this.transport.write(encodeNotice(NoticeKind.PING_RATE, min, `pinging too fast: expected every ${this.#config.pingIntervalMs} ms, at most one per ${min} ms; excess pings are not answered`));
    }
  }

  #onOpen(frame: Frame): void {
    const id = frame.streamId;
    if (id <= this.#lastStreamId) throw new TunnelProtocolError('ERR_TUNNEL_STREAM', `OPEN stream ${id} not above the last (${this.#lastStreamId})`);
    this.#lastStreamId = id;
    const { windowBytes: peerWindow, destination } = decodeOpen(frame.payload);
    if (this.mux.streams.size >= this.#config.maxStreams) {
      this.transport.write(encodeOpenFail(id, Reply.GENERAL, `stream limit ${this.#config.maxStreams} reached`));
      this.emit('stream', 'refused', destination, 'limit');
      return;
    }
    const stream = this.mux.create(id, destination);
    void this.#dial(stream, peerWindow);
  }

  async #dial(stream: TunnelStream, peerWindow: number): Promise<void> {
    const d = stream.destination;
    const fail = (reply: number, message: string, why: string): void => {
      if (stream.state === 'closed' || this.#state === 'closed') return;
      this.mux.drop(stream);
      this.transport.write(encodeOpenFail(stream.id, reply, message));
      this.emit('stream', 'refused', d, why);
    };
    let address = d.host;
    try {
      const quick = this.#config.allowlist.decideSync(d);
      const decision = quick ?? (await withTimeout(this.#config.allowlist.decide(d, this.#config.lookup), this.#config.connectTimeoutMs, this.#config.clock));
      if (!decision.allowed) {
        fail(Reply.NOT_ALLOWED, `${formatDestination(d)} is not on the server's allowlist`, 'not-allowed');
        return;
      }
      // Names are resolved here (once, with the server's resolver) and the address is dialled.
      address = decision.address ?? (d.kind === 'domain' ? await withTimeout(this.#config.lookup(d.host), this.#config.connectTimeoutMs, this.#config.clock) : d.host);
    } catch (error) {
      fail(replyForError(error), `cannot resolve ${d.host}: ${(error as Error).message}`, 'resolve');
      return;
    }
    if (stream.state === 'closed' || this.#state === 'closed') return;
    const socket = net.connect({ host: address, port: d.port, allowHalfOpen: true, onread: this.mux.readInto(stream) });
    socket.pause();
    this.#dialing.add(socket);
    const timer = this.#config.clock.setTimer(() => socket.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })), this.#config.connectTimeoutMs);
    socket.once('error', (error) => {
      timer.cancel();
      this.#dialing.delete(socket);
      if (stream.state === 'opening') fail(replyForError(error), `connect to ${formatDestination(d)} failed: ${error.message}`, 'connect');
    });
    socket.once('connect', () => {
      timer.cancel();
      this.#dialing.delete(socket);
      if (stream.state === 'closed' || this.#state === 'closed') {
        socket.destroy();
        return;
      }
      // Attached first: pipelined bytes go to the target before the OPEN_OK goes to the client
      // (nothing the target sends can overtake it: the socket is read in a later turn).
      this.mux.attach(stream, socket, peerWindow);
      this.transport.write(encodeU32(FrameType.OPEN_OK, stream.id, this.#config.windowBytes));
      this.emit('stream', 'open', d, address);
    });
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, clock: Clock): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimer(() => reject(new TunnelError('ERR_TUNNEL_TIMEOUT', `timed out after ${ms} ms`)), ms);
    promise.then(
      (value) => {
        timer.cancel();
        resolve(value);
      },
      (error: unknown) => {
        timer.cancel();
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
