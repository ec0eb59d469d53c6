/**
 * LeaseKeeper: the holder's side of a lease. Keeps it alive at a fraction of its TTL and says
 * `lost` as soon as the holder can no longer be sure it holds it, which is *before* the TTL can
 * have passed on the server (etcd3 for Node notices a lost lease only after twice the TTL).
 *
 * The rule: a keep-alive sent at local monotonic time s, once acknowledged, proves the server's
 * deadline is at least s + ttlMs (the server restarted the TTL after the request left). So the
 * holder may act as holder until s + ttlMs - marginMs, where the margin covers the server's timer
 * granularity and clock-rate differences. When that "safe deadline" passes without a newer
 * acknowledgement (the store is down, the network is slow, the process was paused) the keeper
 * emits `lost`; an answer that the lease is gone or was re-granted (`ERR_LEASE_NOT_FOUND`,
 * `ERR_LEASE_TOKEN_MISMATCH`) emits it at once. After `lost` the keeper does nothing more.
 *
 * A pause longer than the margin can still make a holder act on a lease it no longer holds
 * between its own checks; that is what the fencing `token` is for: pass it to the resource.
 */
import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../core/clock.js';
import { LifelineError } from '../core/errors.js';
import { clockOption, integerOption, numberOption, rejectUnknown } from '../core/options.js';
import type { GrantOptions, Lease, LeaseStore } from './lease-store.js';
import { checkTtl } from './lease-store.js';

export type LeaseLostReason = 'deadline' | 'not-found' | 'token-mismatch';

export interface LeaseKeeperEvents {
  /** A keep-alive was acknowledged; `safeRemainingMs` is how long the holder may rely on it. */
  renewed: [lease: Lease, safeRemainingMs: number];
  /** The lease can no longer be relied on. Emitted once; the keeper has stopped. */
  lost: [reason: LeaseLostReason, error?: unknown];
  /** A keep-alive failed in a way that may be temporary (the keeper retries). */
  retry: [error: unknown];
}

export interface LeaseKeeperOptions {
  /** Keep-alive period as a fraction of the TTL (0.05..0.5). Default 1/3, so two keep-alives
   * can fail before the lease is lost. */
  renewFraction?: number;
  /** Subtracted from the TTL for the safe deadline, in ms (0 .. ttlMs/2). Default
   * max(25, ttlMs / 10): more than the memory store's tick and any sane clock drift. */
  marginMs?: number;
  /** Delay before retrying a failed keep-alive, in ms (>= 1). Default renew period / 4. */
  retryMs?: number;
  clock?: Clock;
}

export interface AcquireOptions extends GrantOptions, LeaseKeeperOptions {}

type State = 'held' | 'lost' | 'released';

/**
 * @example
 *   const keeper = await LeaseKeeper.acquire(store, 10_000, { id: 'nightly-report', holder: host });
 *   keeper.on('lost', () => abortTheJob());
 *   await db.write(row, { fencingToken: keeper.token });   // the resource refuses stale tokens
 *   await keeper.release();
 */
export class LeaseKeeper extends EventEmitter<LeaseKeeperEvents> {
  readonly store: LeaseStore;
  readonly id: string;
  readonly token: number;
  readonly ttlMs: number;
  readonly renewMs: number;
  readonly marginMs: number;
  readonly retryMs: number;
  readonly #clock: Clock;
  #state: State = 'held';
  #safeDeadline: number;
  #renewTimer: TimerHandle | undefined;
  #deadlineTimer: TimerHandle | undefined;
  #inFlight = false;

  /**
   * Grant a lease and keep it. `grant` is timed from before the request is sent, so the first
   * safe deadline is already conservative.
   */
  static async acquire(store: LeaseStore, ttlMs: number, options: AcquireOptions = {}): Promise<LeaseKeeper> {
    const { id, holder, metadata, ...keeperOptions } = options;
    const clock = clockOption('LeaseKeeper', keeperOptions);
    const grant: GrantOptions = {};
    if (id !== undefined) grant.id = id;
    if (holder !== undefined) grant.holder = holder;
    if (metadata !== undefined) grant.metadata = metadata;
    const sentAt = clock.now();
    const lease = await store.grant(ttlMs, grant);
    try {
      return new LeaseKeeper(store, lease, sentAt, keeperOptions);
    } catch (error) {
      await store.revoke(lease.id, lease.token).catch(() => undefined); // bad options: give it back
      throw error;
    }
  }

  /** Keep an already granted `lease`; `sentAt` is the clock time just before the grant was sent. */
  constructor(store: LeaseStore, lease: Lease, sentAt: number, options: LeaseKeeperOptions = {}) {
    super();
    const o = rejectUnknown('LeaseKeeper', options, ['renewFraction', 'marginMs', 'retryMs', 'clock']);
    this.store = store;
    this.id = lease.id;
    this.token = lease.token;
    this.ttlMs = checkTtl(lease.ttlMs);
    const fraction = numberOption('LeaseKeeper', o, 'renewFraction', 1 / 3, { min: 0.05, max: 0.5 });
    this.renewMs = Math.max(1, Math.floor(this.ttlMs * fraction));
    this.marginMs = integerOption('LeaseKeeper', o, 'marginMs', Math.max(25, Math.ceil(this.ttlMs / 10)), {
      min: 0,
      max: Math.floor(this.ttlMs / 2),
      note: '(at most half the TTL)',
    });
    this.retryMs = integerOption('LeaseKeeper', o, 'retryMs', Math.max(1, Math.floor(this.renewMs / 4)), { min: 1, max: 2 ** 31 - 1 });
    this.#clock = clockOption('LeaseKeeper', o);
    this.#safeDeadline = sentAt + this.ttlMs - this.marginMs;
    this.#armDeadline();
    this.#scheduleRenew(Math.max(0, sentAt + this.renewMs - this.#clock.now()));
  }

  /** True while the holder may rely on the lease (before the safe deadline, not lost or released). */
  get held(): boolean {
    return this.#state === 'held' && this.#clock.now() < this.#safeDeadline;
  }

  get state(): State {
    return this.#state;
  }

  /** Ms until the safe deadline (0 when past it or not held). */
  get safeRemainingMs(): number {
    return this.#state === 'held' ? Math.max(0, this.#safeDeadline - this.#clock.now()) : 0;
  }

  /** The safe deadline as a clock time (monotonic ms). */
  get safeDeadline(): number {
    return this.#safeDeadline;
  }

  /** Stop keeping the lease and revoke it (with the token, so a successor is never touched).
   * A lease already gone is not an error. */
  async release(): Promise<void> {
    if (this.#state !== 'held') return;
    this.#stop('released');
    try {
      await this.store.revoke(this.id, this.token);
    } catch (error) {
      const code = error instanceof LifelineError ? error.code : undefined;
      if (code !== 'ERR_LEASE_NOT_FOUND' && code !== 'ERR_LEASE_TOKEN_MISMATCH') throw error;
    }
  }

  /** Stop keeping the lease without revoking it (it expires after its TTL). */
  abandon(): void {
    if (this.#state === 'held') this.#stop('released');
  }

  #stop(state: State): void {
    this.#state = state;
    this.#renewTimer?.cancel();
    this.#deadlineTimer?.cancel();
    this.#renewTimer = undefined;
    this.#deadlineTimer = undefined;
  }

  #lose(reason: LeaseLostReason, error?: unknown): void {
    if (this.#state !== 'held') return;
    this.#stop('lost');
    if (error === undefined) this.emit('lost', reason);
    else this.emit('lost', reason, error);
  }

  #armDeadline(): void {
    this.#deadlineTimer?.cancel();
    this.#deadlineTimer = this.#clock.setTimer(this.#onDeadline, Math.max(0, this.#safeDeadline - this.#clock.now()));
  }

  readonly #onDeadline = (): void => {
    this.#deadlineTimer = undefined;
    if (this.#state !== 'held') return;
    if (this.#clock.now() >= this.#safeDeadline) this.#lose('deadline');
    else this.#armDeadline(); // pushed back by a renewal since the timer was set
  };

  #scheduleRenew(delayMs: number): void {
    this.#renewTimer?.cancel();
    this.#renewTimer = this.#clock.setTimer(this.#renew, delayMs);
  }

  readonly #renew = (): void => {
    this.#renewTimer = undefined;
    if (this.#state !== 'held' || this.#inFlight) return;
    this.#inFlight = true;
    const sentAt = this.#clock.now();
    this.store.keepAlive(this.id, this.token).then(
      (lease) => {
        this.#inFlight = false;
        if (this.#state !== 'held') return;
        const deadline = sentAt + this.ttlMs - this.marginMs;
        if (deadline > this.#safeDeadline) this.#safeDeadline = deadline;
        if (this.#clock.now() >= this.#safeDeadline) {
          this.#lose('deadline');
          return;
        }
        this.#scheduleRenew(Math.max(0, sentAt + this.renewMs - this.#clock.now()));
        this.emit('renewed', lease, this.#safeDeadline - this.#clock.now());
      },
      (error: unknown) => {
        this.#inFlight = false;
        if (this.#state !== 'held') return;
        const code = error instanceof LifelineError ? error.code : undefined;
        if (code === 'ERR_LEASE_NOT_FOUND') this.#lose('not-found', error);
        else if (code === 'ERR_LEASE_TOKEN_MISMATCH') this.#lose('token-mismatch', error);
        else {
          if (this.listenerCount('retry') > 0) this.emit('retry', error);
          this.#scheduleRenew(this.retryMs);
        }
      },
    );
  };
}
