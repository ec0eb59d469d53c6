/**
 * The proxy's own WebSocket pings, both ways, for one upgraded connection
 * (`websocket.pingIntervalMs` > 0 and the 101 said `Upgrade: websocket`).
 *
 * Rule, per side (client, backend), with the core Heartbeat: after `intervalMs` without a byte
 * from that side, the proxy sends it a Ping whose payload is `lifeline:<n>` (to the client
 * unmasked, as a server does; to the backend masked with a random key, as a client does). Any
 * byte from the side is proof of life; a side that leaves `missedLimit` pings in a row unanswered
 * for `timeoutMs` each is dead, and `onFailure` is called (the connection closes both sockets).
 * So a side that goes silent at t is cut off by t + intervalMs + missedLimit x timeoutMs.
 *
 * Invariants
 * - Every byte passes through unchanged and in order, except a Pong frame whose payload is one of
 *   the proxy's own `lifeline:<n>` (n already sent to that side): it is swallowed, so the other
 *   side never sees an answer to a ping it did not send. A Pong's bytes (<= 139) are held back
 *   until the frame is complete and can be recognised; nothing after it overtakes it.
 * - A Ping is injected only between frames of the stream it joins (RFC 6455 5.4 allows a control
 *   frame between the fragments of a message too). If that stream is mid-frame (a large frame
 *   still arriving), the ping waits for the frame's end; meanwhile each byte forwarded to the
 *   side counts as its proof of life, since that side's socket is still taking data (when it
 *   stops reading, backpressure stops the flow and the ping timeout runs out).
 * - Once a Close frame passes either way, the proxy stops pinging (the closing handshake must
 *   not be disturbed); its pongs still in flight are still swallowed.
 * - A malformed frame header (see websocket-frames.ts) calls `onFailure`; nothing more is
 *   forwarded from that call.
 */
import { randomFillSync } from 'node:crypto';
import { Heartbeat } from '../../core/heartbeat.js';
import type { Clock } from '../../core/clock.js';
import { LifelineError } from '../../core/errors.js';
import { OPCODE_CLOSE, OPCODE_PONG, WebSocketFrameError, WebSocketFrameScanner } from './websocket-frames.js';

export type WebSocketSide = 'client' | 'backend';

export interface WebSocketPingerOptions {
  /** Silence from a side after which it is pinged, ms (>= 1). */
  intervalMs: number;
  /** How long each ping waits for any byte back, ms (>= 1). */
  timeoutMs: number;
  /** Unanswered pings in a row that make a side dead. Default 1. */
  missedLimit?: number;
  clock: Clock;
  /** Write bytes to the client socket; false = backpressure (as `socket.write`). */
  toClient: (data: Buffer) => boolean;
  /** Write bytes to the backend socket; false = backpressure. */
  toBackend: (data: Buffer) => boolean;
  /** A side is dead (ERR_WEBSOCKET_PING_TIMEOUT) or sent a malformed frame (ERR_WEBSOCKET_FRAME). */
  onFailure: (error: LifelineError) => void;
}

const PREFIX = 'lifeline:';
const EMPTY_LIST: Buffer[] = [];

/** One direction of the tunnel: bytes from `from`, written to the other side. */
class Lane {
  readonly scanner = new WebSocketFrameScanner();
  /** Bytes of an incomplete Pong frame, held back until it can be recognised. */
  held: Buffer[] = EMPTY_LIST;
  /** A ping for the receiving side waits for the end of the current frame. */
  pingPending = false;

  constructor(
    readonly from: WebSocketSide,
    readonly write: (data: Buffer) => boolean,
  ) {}
}

/** `Upgrade: websocket` (the value of a 101's Upgrade header), case-insensitively. */
export function isWebSocketUpgrade(upgrade: string | undefined): boolean {
  return upgrade !== undefined && upgrade.trim().toLowerCase() === 'websocket';
}

/**
 * @example
 *   const pinger = new WebSocketPinger({ intervalMs: 30_000, timeoutMs: 10_000, clock,
 *     toClient: (b) => client.write(b), toBackend: (b) => backend.write(b),
 *     onFailure: () => { client.destroy(); backend.destroy(); } });
 *   client.on('data', (b) => pinger.fromClient(b) || client.pause());
 *   backend.on('data', (b) => pinger.fromBackend(b) || backend.pause());
 *   pinger.start();
 */
export class WebSocketPinger {
  /** Bytes from the client, to the backend: carries the pings to the backend. */
  readonly #up: Lane;
  /** Bytes from the backend, to the client: carries the pings to the client. */
  readonly #down: Lane;
  readonly #client: Heartbeat;
  readonly #backend: Heartbeat;
  readonly #onFailure: (error: LifelineError) => void;
  /** Last ping sequence sent to each side. */
  #sentClient = 0;
  #sentBackend = 0;
  #closed = false;
  #failed = false;
  /** Pings sent and own pongs swallowed, per side (for tests and stats). */
  readonly counts = { pingsToClient: 0, pingsToBackend: 0, pongsFromClient: 0, pongsFromBackend: 0 };

  constructor(options: WebSocketPingerOptions) {
    this.#up = new Lane('client', options.toBackend);
    this.#down = new Lane('backend', options.toClient);
    this.#onFailure = options.onFailure;
    const common = { intervalMs: options.intervalMs, timeoutMs: options.timeoutMs, missedLimit: options.missedLimit ?? 1, clock: options.clock };
    this.#client = new Heartbeat({ ...common, sendPing: () => this.#ping(this.#down) });
    this.#backend = new Heartbeat({ ...common, sendPing: () => this.#ping(this.#up) });
    this.#client.on('dead', () => this.#dead('client'));
    this.#backend.on('dead', () => this.#dead('backend'));
  }

  /** Start both heartbeats; both sides count as just heard from. */
  start(): this {
    this.#client.start();
    this.#backend.start();
    return this;
  }

  /** Bytes read from the client: forwarded to the backend. Returns false on backpressure. */
  fromClient(chunk: Buffer): boolean {
    this.#client.received();
    return this.#pass(this.#up, chunk);
  }

  /** Bytes read from the backend: forwarded to the client. Returns false on backpressure. */
  fromBackend(chunk: Buffer): boolean {
    this.#backend.received();
    return this.#pass(this.#down, chunk);
  }

  /** Stop pinging (timers released). Forwarding and pong filtering go on. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#up.pingPending = false;
    this.#down.pingPending = false;
    this.#client.close();
    this.#backend.close();
  }

  #pass(lane: Lane, chunk: Buffer): boolean {
    if (this.#failed) return true;
    const scanner = lane.scanner;
    let ok = true;
    let emitFrom = 0; // chunk[emitFrom..pos) is neither written nor dropped yet
    let pos = 0;
    const flush = (to: number): void => {
      if (to > emitFrom) {
        ok = lane.write(emitFrom === 0 && to === chunk.length ? chunk : chunk.subarray(emitFrom, to));
        // A ping to this lane's receiver is waiting for a frame end: its socket taking data is
        // proof that it is alive.
        if (lane.pingPending) this.#receiverOf(lane).received();
      }
      emitFrom = to;
    };
    while (pos < chunk.length) {
      const frameStart = scanner.atBoundary ? pos : -1; // -1: the frame began in an earlier chunk
      try {
        pos = scanner.advance(chunk, pos, chunk.length);
      } catch (error) {
        if (!(error instanceof WebSocketFrameError)) throw error;
        this.#fail(error);
        return true;
      }
      const opcode = scanner.opcode;
      if (opcode === OPCODE_PONG) {
        if (frameStart >= 0) flush(frameStart);
        if (!scanner.atBoundary) {
          // Incomplete Pong: hold its bytes (pos is the chunk's end here).
          if (lane.held === EMPTY_LIST) lane.held = [];
          lane.held.push(chunk.subarray(emitFrom, pos));
          emitFrom = pos;
        } else if (this.#isOwnPong(lane.from, scanner.pongPayload())) {
          lane.held = EMPTY_LIST;
          emitFrom = pos; // swallowed
          if (lane.from === 'client') this.counts.pongsFromClient += 1;
          else this.counts.pongsFromBackend += 1;
          (lane.from === 'client' ? this.#client : this.#backend).pong();
        } else if (lane.held.length > 0) {
          for (const piece of lane.held) ok = lane.write(piece);
          lane.held = EMPTY_LIST;
        }
      } else if (opcode === OPCODE_CLOSE && !this.#closed) {
        this.close();
      }
      if (scanner.atBoundary && lane.pingPending) {
        flush(pos);
        this.#writePing(lane);
      }
    }
    flush(chunk.length);
    return ok;
  }

  #receiverOf(lane: Lane): Heartbeat {
    return lane === this.#up ? this.#backend : this.#client;
  }

  /** Heartbeat's sendPing: now if the lane is between frames, else at the current frame's end. */
  #ping(lane: Lane): void {
    if (this.#closed) return;
    if (lane === this.#up) this.#sentBackend += 1;
    else this.#sentClient += 1;
    // Holding a Pong means nothing of it went out: the forwarded stream is between frames.
    if (lane.scanner.atBoundary || lane.held.length > 0) this.#writePing(lane);
    else lane.pingPending = true;
  }

  #writePing(lane: Lane): void {
    lane.pingPending = false;
    const toBackend = lane === this.#up;
    const payload = Buffer.from(`${PREFIX}${toBackend ? this.#sentBackend : this.#sentClient}`, 'latin1');
    let frame: Buffer;
    if (toBackend) {
      // As a client: masked with a fresh random key (RFC 6455 5.3).
      frame = Buffer.allocUnsafe(6 + payload.length);
      frame[0] = 0x89;
      frame[1] = 0x80 | payload.length;
      randomFillSync(frame, 2, 4);
      for (let k = 0; k < payload.length; k++) frame[6 + k] = (payload[k] as number) ^ (frame[2 + (k & 3)] as number);
      this.counts.pingsToBackend += 1;
    } else {
      frame = Buffer.allocUnsafe(2 + payload.length);
      frame[0] = 0x89;
      frame[1] = payload.length;
      payload.copy(frame, 2);
      this.counts.pingsToClient += 1;
    }
    lane.write(frame);
  }

  #isOwnPong(from: WebSocketSide, payload: Buffer): boolean {
    if (payload.length <= PREFIX.length || payload.length > PREFIX.length + 15) return false;
    if (payload.toString('latin1', 0, PREFIX.length) !== PREFIX) return false;
    const digits = payload.toString('latin1', PREFIX.length);
    if (!/^[1-9][0-9]*$/.test(digits)) return false;
    const n = Number(digits);
    return n <= (from === 'client' ? this.#sentClient : this.#sentBackend);
  }

  #dead(side: WebSocketSide): void {
    this.#fail(new LifelineError('ERR_WEBSOCKET_PING_TIMEOUT', `WebSocket ${side} did not answer the proxy's ping`));
  }

  #fail(error: LifelineError): void {
    if (this.#failed) return;
    this.#failed = true;
    this.close();
    this.#onFailure(error);
  }
}
