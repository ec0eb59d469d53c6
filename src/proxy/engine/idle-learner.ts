/**
 * Learns how long a backend keeps an idle connection, from the idle connections it closes, for
 * backends that send no `Keep-Alive: timeout` hint.
 *
 * A backend with an idle timeout closes every idle connection at about the same age, so a value
 * is learned only when two closes agree (within half of each other); one close may as well be a
 * restart. Several idle connections closed at once are a restart or shutdown (each timeout runs
 * on its own clock) and teach nothing. A learned value is forgotten after LEARNED_IDLE_TTL_MS
 * without a new observation.
 */
import type { Clock } from '../../core/clock.js';

/** Below this, an observed idle close is noise (a close racing a response), not a timeout. */
const MIN_LEARNED_IDLE_MS = 100;
/** Idle closes closer together than this are one event (a backend restarting), not timeouts. */
const BURST_MS = 20;
/** A learned backend idle time is forgotten after this long without a new observation. */
export const LEARNED_IDLE_TTL_MS = 60_000;

export class IdleLearner {
  #learnedMs = Number.POSITIVE_INFINITY;
  #learnedAtMs = 0;
  /** One idle-close observation waiting for a second that agrees with it. */
  #candidateMs: number | undefined;
  #candidateAtMs = 0;
  #lastCloseMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly clock: Clock,
    /** Told when a value is learned (ms) or forgotten (null, with the value it had). */
    private readonly onChange: (learnedMs: number | null, previousMs: number) => void = () => undefined,
  ) {}

  /** The learned idle time, ms (Infinity when none, or forgotten). */
  value(): number {
    if (Number.isFinite(this.#learnedMs) && this.clock.now() - this.#learnedAtMs > LEARNED_IDLE_TTL_MS) {
      const previous = this.#learnedMs;
      this.#learnedMs = Number.POSITIVE_INFINITY;
      this.onChange(null, previous);
    }
    return this.#learnedMs;
  }

  /** The backend closed a connection that had been idle `idleMs`. */
  observe(idleMs: number): void {
    const now = this.clock.now();
    const burst = now - this.#lastCloseMs < BURST_MS;
    this.#lastCloseMs = now;
    if (burst) {
      this.#candidateMs = undefined;
      return;
    }
    if (idleMs < MIN_LEARNED_IDLE_MS) return;
    const candidate = this.#candidateMs;
    if (candidate !== undefined && Math.abs(idleMs - candidate) <= Math.max(idleMs, candidate) / 2 && now - this.#candidateAtMs < LEARNED_IDLE_TTL_MS) {
      const learned = Math.min(idleMs, candidate);
      const previous = this.value();
      if (learned < previous || now - this.#learnedAtMs > LEARNED_IDLE_TTL_MS / 2) {
        this.#learnedMs = learned;
        if (learned !== previous) this.onChange(learned, previous);
      }
      this.#learnedAtMs = now;
      this.#candidateMs = undefined;
      return;
    }
    this.#candidateMs = idleMs;
    this.#candidateAtMs = now;
  }
}
