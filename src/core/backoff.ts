/**
 * Backoff: exponential delays with full jitter for reconnect loops.
 *
 * Full jitter (delay = random(0, min(maxMs, initialMs * factor^attempt))) spreads a fleet of
 * clients that lost the same server, so they do not return in lockstep (AWS architecture blog,
 * "Exponential Backoff And Jitter"). `reset()` after a connection has proved healthy.
 */
import { functionOption, integerOption, numberOption, rejectUnknown } from './options.js';

export interface BackoffOptions {
  /** Ceiling of the first delay, in ms (>= 1). Default 100. */
  initialMs?: number;
  /** Largest ceiling, in ms (>= initialMs). Default 30000. */
  maxMs?: number;
  /** Growth of the ceiling per attempt (1..100). Default 2. */
  factor?: number;
  /** Random source in [0, 1); injectable for tests. */
  random?: () => number;
}

/**
 * @example
 *   const backoff = new Backoff({ initialMs: 200, maxMs: 30_000 });
 *   socket.on('close', () => setTimeout(connect, backoff.next()));
 *   socket.on('ready', () => backoff.reset());
 */
export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(options: BackoffOptions = {}) {
    const o = rejectUnknown('Backoff', options, ['initialMs', 'maxMs', 'factor', 'random']);
    this.initialMs = integerOption('Backoff', o, 'initialMs', 100, { min: 1, max: 2 ** 31 - 1 });
    this.maxMs = integerOption('Backoff', o, 'maxMs', Math.max(30_000, this.initialMs), { min: this.initialMs, max: 2 ** 31 - 1, note: '(at least initialMs)' });
    this.factor = numberOption('Backoff', o, 'factor', 2, { min: 1, max: 100 });
    this.#random = functionOption<() => number>('Backoff', o, 'random') ?? Math.random;
  }

  /** Attempts made since the last reset. */
  get attempts(): number {
    return this.#attempt;
  }

  /** The ceiling for the next delay (without jitter), in ms. */
  get ceilingMs(): number {
    return Math.min(this.maxMs, this.initialMs * this.factor ** this.#attempt);
  }

  /** The next delay in ms, an integer in [0, ceiling]; advances the attempt count. */
  next(): number {
    const ceiling = this.ceilingMs;
    if (ceiling < this.maxMs) this.#attempt += 1; // stop growing once capped, so factor**n never overflows
    return Math.floor(this.#random() * (ceiling + 1));
  }

  reset(): void {
    this.#attempt = 0;
  }
}
