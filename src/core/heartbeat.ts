/**
 * Heartbeat: decide whether a peer is alive from pings and any inbound traffic.
 *
 * Rule: after `intervalMs` without inbound traffic, send a ping; each ping has its own reply
 * timeout (`timeoutMs`); an unanswered ping makes the peer `suspect` and the next ping goes out at
 * once; after `missedLimit` unanswered pings in a row the peer is `dead`. Any inbound traffic
 * (a pong, data, anything) is proof of life and returns the peer to `alive`. So a peer that went
 * silent at time t is declared dead no later than t + intervalMs + missedLimit * timeoutMs (plus
 * timer lateness), which is the bound the tests assert.
 *
 * Cost: `received()` is one clock read and one write. Only one timer exists at a time, and it is
 * re-armed lazily: when it fires it re-checks the real time of the last traffic (HAProxy's lazy
 * expiry) instead of being re-armed on every message.
 *
 * Transport-agnostic: the caller sends the ping (`sendPing`) and reports pongs and traffic.
 */
import { EventEmitter } from 'node:events';
import type { CloseReason } from './close-reason.js';
import type { Clock, TimerHandle } from './clock.js';
import { functionOption, integerOption, numberOption, rejectUnknown, requiredFunctionOption, requiredIntegerOption } from './options.js';
import { clockOption } from './options.js';

export type HeartbeatState = 'alive' | 'suspect' | 'dead';

export interface HeartbeatOptions {
  /** Silence after which a ping is sent, in ms (>= 1). */
  intervalMs: number;
  /** How long each ping waits for a reply before it counts as missed, in ms (>= 1). */
  timeoutMs: number;
  /** Unanswered pings in a row that make the peer dead (>= 1). Default 3. */
  missedLimit?: number;
  /** Fraction 0..1: each idle interval is shortened by up to this share at random, so a fleet of
   * clients does not ping in lockstep. Shortened, never lengthened, so the dead bound holds. Default 0. */
  jitter?: number;
  /** Sends one ping. Must not throw; if it does, the error goes to `onError` and the ping still counts. */
  sendPing: () => void;
  onError?: (error: unknown) => void;
  clock?: Clock;
  /** Random source in [0, 1), for jitter; injectable for tests. */
  random?: () => number;
}

export interface HeartbeatEvents {
  state: [state: HeartbeatState, previous: HeartbeatState];
  ping: [sequence: number];
  /** The peer missed `missedLimit` pings: `reason` is always `heartbeat_timeout`, for the owner to close with. */
  dead: [reason: Extract<CloseReason, 'heartbeat_timeout'>];
}

const KNOWN = ['intervalMs', 'timeoutMs', 'missedLimit', 'jitter', 'sendPing', 'onError', 'clock', 'random'];
const MAX_MS = 2 ** 31 - 1; // Node's timer limit

/**
 * @example
 *   const hb = new Heartbeat({ intervalMs: 25_000, timeoutMs: 10_000, missedLimit: 3,
 *     sendPing: () => socket.write(PING_FRAME) });
 *   socket.on('data', () => hb.received());
 *   hb.on('dead', (reason) => closeSocket(socket, reason)); // reason: 'heartbeat_timeout'
 *   hb.start();
 */
export class Heartbeat extends EventEmitter<HeartbeatEvents> {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly missedLimit: number;
  readonly jitter: number;
  #sendPing: () => void;
  #onError: ((error: unknown) => void) | undefined;
  #clock: Clock;
  #random: () => number;

  #state: HeartbeatState = 'alive';
  #started = false;
  #closed = false;
  #timer: TimerHandle | undefined;
  #lastInboundMs = 0;
  /** Time the outstanding ping was sent, or -1 when none is outstanding. */
  #pingSentMs = -1;
  #missed = 0;
  #sequence = 0;
  #rttMs: number | undefined;

  constructor(options: HeartbeatOptions) {
    super();
    const o = rejectUnknown('Heartbeat', options, KNOWN);
    this.intervalMs = requiredIntegerOption('Heartbeat', o, 'intervalMs', { min: 1, max: MAX_MS });
    this.timeoutMs = requiredIntegerOption('Heartbeat', o, 'timeoutMs', { min: 1, max: MAX_MS });
    this.missedLimit = integerOption('Heartbeat', o, 'missedLimit', 3, { min: 1, max: 1000 });
    this.jitter = numberOption('Heartbeat', o, 'jitter', 0, { min: 0, max: 1 });
    this.#sendPing = requiredFunctionOption<() => void>('Heartbeat', o, 'sendPing');
    this.#onError = functionOption<(error: unknown) => void>('Heartbeat', o, 'onError');
    this.#clock = clockOption('Heartbeat', o);
    this.#random = functionOption<() => number>('Heartbeat', o, 'random') ?? Math.random;
  }

  get state(): HeartbeatState {
    return this.#state;
  }

  /** Round-trip time of the last answered ping, in ms, or undefined before the first. */
  get rttMs(): number | undefined {
    return this.#rttMs;
  }

  /** Unanswered pings in a row right now. */
  get missed(): number {
    return this.#missed;
  }

  /** Start watching; the peer counts as just heard from. Calling twice is harmless. */
  start(): this {
    if (this.#started || this.#closed) return this;
    this.#started = true;
    this.#lastInboundMs = this.#clock.now();
    this.#armIdle(this.#lastInboundMs);
    return this;
  }

  /** Any inbound traffic: proof of life. One clock read and one write, no timer re-armed. */
  received(): void {
    this.#lastInboundMs = this.#clock.now();
    if (this.#state === 'suspect') this.#setState('alive');
  }

  /** A reply to a ping: proof of life, and the round-trip time is recorded. */
  pong(): void {
    const now = this.#clock.now();
    if (this.#pingSentMs >= 0) this.#rttMs = now - this.#pingSentMs;
    this.#lastInboundMs = now;
    if (this.#state === 'suspect') this.#setState('alive');
  }

  /** Stop all timers. The state stays as it was. */
  close(): void {
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #armIdle(fromMs: number): void {
    const shorten = this.jitter === 0 ? 0 : Math.floor(this.intervalMs * this.jitter * this.#random());
    const due = fromMs + this.intervalMs - shorten;
    this.#timer = this.#clock.setTimer(() => this.#onIdleTimer(), Math.max(0, due - this.#clock.now()));
  }

  #onIdleTimer(): void {
    this.#timer = undefined;
    if (this.#closed) return;
    const now = this.#clock.now();
    // Lazy expiry: traffic since the timer was armed pushed the real deadline back.
    // The jittered interval is a lower bound, so compare with the shortest allowed silence.
    const minimumSilence = this.intervalMs - Math.floor(this.intervalMs * this.jitter);
    if (now - this.#lastInboundMs < minimumSilence) {
      this.#armIdle(this.#lastInboundMs);
      return;
    }
    this.#ping(now);
  }

  #ping(now: number): void {
    this.#pingSentMs = now;
    this.#sequence += 1;
    this.emit('ping', this.#sequence);
    try {
      this.#sendPing();
    } catch (error) {
      this.#onError?.(error);
    }
    if (this.#closed) return;
    this.#timer = this.#clock.setTimer(() => this.#onPingTimeout(now), this.timeoutMs);
  }

  #onPingTimeout(sentMs: number): void {
    this.#timer = undefined;
    if (this.#closed) return;
    if (this.#lastInboundMs >= sentMs) {
      // Answered (or other traffic arrived): back to the idle schedule from the last traffic.
      this.#missed = 0;
      this.#pingSentMs = -1;
      if (this.#state !== 'alive') this.#setState('alive');
      this.#armIdle(this.#lastInboundMs);
      return;
    }
    this.#missed += 1;
    if (this.#missed >= this.missedLimit) {
      this.#pingSentMs = -1;
      this.#setState('dead');
      this.close();
      this.emit('dead', 'heartbeat_timeout');
      return;
    }
    if (this.#state === 'alive') this.#setState('suspect');
    this.#ping(this.#clock.now());
  }

  #setState(next: HeartbeatState): void {
    const previous = this.#state;
    if (previous === next || previous === 'dead') return;
    this.#state = next;
    this.emit('state', next, previous);
  }
}
