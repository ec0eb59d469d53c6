/**
 * TimerWheel: a hashed timing wheel for very many deadlines that are pushed back far more often
 * than they expire (idle connections, leases, sessions).
 *
 * Model (HAProxy's lazy expiry): a deadline is filed in the slot of the tick when it was due at
 * filing time. `touch()` only writes the new expiry time into the entry; nothing is moved and no
 * timer is re-armed. When a slot comes due, each entry re-checks its real expiry: if it was
 * pushed back, it is re-filed then (once per wheel turn at most); if not, it expires. Because a
 * touch only moves a deadline later, an entry is always found at or before its real expiry.
 *
 * Invariants
 * - add, touch and cancel are O(1): an entry sits in one intrusive doubly-linked slot list.
 * - One unref'd clock timer drives the wheel, only while it holds entries; `close()` stops it.
 * - Expiry is never early by the wheel's time and at most one tick late (plus event-loop lag).
 * - Times are integers of ms since the wheel's epoch, so V8 keeps them as small integers.
 * - `touch()` reads the wheel's tick time (refreshed every tick while entries exist), not the
 *   clock: a clock read costs ~50 ns, a field read ~1 ns. So a touched idle timeout lasts between
 *   timeoutMs - resolutionMs and timeoutMs + resolutionMs of real time. Keep-alive users choose a
 *   fine resolution and advertise a hint shorter than the close by a margin much larger than it.
 */
import type { Clock, TimerHandle } from './clock.js';
import { ClosedError, InvalidOptionError } from './errors.js';
import { checkInteger, integerOption, rejectUnknown } from './options.js';
import { clockOption } from './options.js';

const FILED = 1;
const DUE = 2;
const IDLE = 0;
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export interface TimerWheelOptions {
  /** Length of one tick in ms (1..60000). Fine (1-10 ms) for keep-alive expiry, coarse
   * (100-1000 ms) for long request timeouts and leases. Default 10. */
  resolutionMs?: number;
  /** Number of slots, a power of two (16..1048576). The wheel spans slots x resolutionMs; later
   * deadlines are simply re-filed when their slot comes round. Default 4096. */
  slots?: number;
  clock?: Clock;
}

/** Called once when a deadline expires; the deadline is no longer active. */
export type ExpireCallback = (deadline: Deadline) => void;

/**
 * One deadline in a wheel. Create with `wheel.add()`.
 * @example
 *   const d = wheel.add(60_000, () => socket.destroy());
 *   socket.on('data', () => d.touch());
 */
export class Deadline {
  /** The idle timeout that `touch()` re-applies, in ms. */
  timeoutMs: number;
  /** Opaque value for the owner (a socket, a lease id), so callbacks can be shared. */
  data: unknown;
  /** @internal expiry in ms since the wheel's epoch */
  expiresAt: number;
  /** @internal */ state = IDLE;
  /** @internal */ slot = -1;
  /** @internal */ prev: Deadline | null = null;
  /** @internal */ next: Deadline | null = null;
  readonly #wheel: TimerWheel;
  /** @internal */ readonly onExpire: ExpireCallback;

  /** @internal use TimerWheel.add */
  constructor(wheel: TimerWheel, timeoutMs: number, onExpire: ExpireCallback, data: unknown, nowTick: number) {
    this.#wheel = wheel;
    this.timeoutMs = timeoutMs;
    this.onExpire = onExpire;
    this.data = data;
    this.expiresAt = nowTick + timeoutMs;
  }

  /** A keep-alive event: expire `timeoutMs` from now. One write; nothing is re-filed. */
  touch(): void {
    this.expiresAt = this.#wheel.tickNow + this.timeoutMs;
  }

  /** Change the timeout and restart it from now. Re-files only when the new expiry is earlier. */
  reset(timeoutMs: number): void {
    checkInteger('Deadline.reset(timeoutMs)', timeoutMs, { min: 0, max: MAX_TIMEOUT_MS });
    this.timeoutMs = timeoutMs;
    const expiresAt = this.#wheel.tickNow + timeoutMs;
    const earlier = expiresAt < this.expiresAt;
    this.expiresAt = expiresAt;
    if (earlier && this.state === FILED) this.#wheel.refile(this);
  }

  /** Stop the deadline; its callback will not run. Harmless when already expired or cancelled. */
  cancel(): void {
    this.#wheel.remove(this);
  }

  /** True until it expires or is cancelled. */
  get active(): boolean {
    return this.state !== IDLE;
  }

  /** Milliseconds left by the wheel's tick time (may be negative while the expiry is being run). */
  get remainingMs(): number {
    return this.expiresAt - this.#wheel.tickNow;
  }

  /** Expiry in the clock's time base (`clock.now()` units). */
  get expiresAtMs(): number {
    return this.expiresAt + this.#wheel.epochMs;
  }
}

/**
 * @example
 *   const wheel = new TimerWheel({ resolutionMs: 10 });
 *   const d = wheel.add(5_000, (d) => close(d.data), socket);
 *   d.touch();      // on every request
 *   wheel.close();  // on shutdown
 */
export class TimerWheel {
  readonly resolutionMs: number;
  readonly slotCount: number;
  /** Clock time (ms) that wheel times count from. */
  readonly epochMs: number;
  /** The wheel's current time in ms since its epoch, refreshed on every tick and every add. */
  tickNow = 0;

  readonly #clock: Clock;
  readonly #mask: number;
  readonly #slots: (Deadline | null)[];
  /** Last entry of each slot list: entries are appended, so one tick fires in the order added. */
  readonly #tails: (Deadline | null)[];
  /** The last tick whose slot has been run. */
  #cursor = 0;
  #size = 0;
  #timer: TimerHandle | undefined;
  #closed = false;
  /** Reused between ticks so running a slot allocates nothing. */
  readonly #due: Deadline[] = [];

  constructor(options: TimerWheelOptions = {}) {
    const o = rejectUnknown('TimerWheel', options, ['resolutionMs', 'slots', 'clock']);
    this.resolutionMs = integerOption('TimerWheel', o, 'resolutionMs', 10, { min: 1, max: 60_000 });
    this.slotCount = integerOption('TimerWheel', o, 'slots', 4096, { min: 16, max: 1_048_576, note: '(a power of two)' });
    if ((this.slotCount & (this.slotCount - 1)) !== 0) {
      throw new InvalidOptionError('TimerWheel.slots', `TimerWheel.slots must be a power of two from 16 to 1048576; got ${this.slotCount}`);
    }
    this.#clock = clockOption('TimerWheel', o);
    this.#mask = this.slotCount - 1;
    this.#slots = new Array<Deadline | null>(this.slotCount).fill(null);
    this.#tails = new Array<Deadline | null>(this.slotCount).fill(null);
    this.epochMs = this.#clock.now();
  }

  /** Deadlines currently held. */
  get size(): number {
    return this.#size;
  }

  /**
   * Start a deadline `timeoutMs` from now (0 expires on the next tick).
   * `data` is stored on the deadline for the callback's use.
   */
  add(timeoutMs: number, onExpire: ExpireCallback, data?: unknown): Deadline {
    if (this.#closed) throw new ClosedError('TimerWheel');
    checkInteger('TimerWheel.add(timeoutMs)', timeoutMs, { min: 0, max: MAX_TIMEOUT_MS });
    this.#refreshNow();
    if (this.#timer === undefined) this.#cursor = this.#tickOf(this.tickNow);
    const deadline = new Deadline(this, timeoutMs, onExpire, data, this.tickNow);
    this.#file(deadline);
    this.#size += 1;
    if (this.#timer === undefined) this.#arm();
    return deadline;
  }

  /** Stop the driving timer and drop every deadline without running callbacks. */
  close(): void {
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    for (let i = 0; i < this.#slots.length; i++) {
      for (let d = this.#slots[i] ?? null; d !== null; ) {
        const next: Deadline | null = d.next;
        d.state = IDLE;
        d.prev = d.next = null;
        d = next;
      }
      this.#slots[i] = null;
      this.#tails[i] = null;
    }
    for (const d of this.#due) d.state = IDLE;
    this.#due.length = 0;
    this.#size = 0;
  }

  /** @internal unlink and forget a deadline */
  remove(d: Deadline): void {
    if (d.state === FILED) this.#unlink(d);
    if (d.state !== IDLE) {
      d.state = IDLE;
      this.#size -= 1;
    }
  }

  /** @internal re-file a deadline whose expiry moved earlier */
  refile(d: Deadline): void {
    this.#unlink(d);
    this.#file(d);
  }

  #refreshNow(): void {
    this.tickNow = Math.floor(this.#clock.now() - this.epochMs);
  }

  #tickOf(ms: number): number {
    return Math.floor(ms / this.resolutionMs);
  }

  #file(d: Deadline): void {
    // The first tick whose start is at or after the expiry, but never a tick already run.
    let tick = Math.ceil(d.expiresAt / this.resolutionMs);
    if (tick <= this.#cursor) tick = this.#cursor + 1;
    const slot = tick & this.#mask;
    const tail = this.#tails[slot] ?? null;
    d.slot = slot;
    d.prev = tail;
    d.next = null;
    if (tail !== null) tail.next = d;
    else this.#slots[slot] = d;
    this.#tails[slot] = d;
    d.state = FILED;
  }

  #unlink(d: Deadline): void {
    if (d.prev !== null) d.prev.next = d.next;
    else this.#slots[d.slot] = d.next;
    if (d.next !== null) d.next.prev = d.prev;
    else this.#tails[d.slot] = d.prev;
    d.prev = d.next = null;
    d.state = DUE; // detached; the caller sets the final state
  }

  #arm(): void {
    const nextTickStart = (this.#cursor + 1) * this.resolutionMs;
    const delay = Math.max(0, nextTickStart - (this.#clock.now() - this.epochMs));
    this.#timer = this.#clock.setTimer(this.#onTick, delay);
  }

  readonly #onTick = (): void => {
    this.#timer = undefined;
    if (this.#closed) return;
    this.#refreshNow();
    const now = this.tickNow;
    const target = this.#tickOf(now);
    // After a long stall, one turn of the wheel visits every slot once.
    const steps = Math.min(target - this.#cursor, this.slotCount);
    for (let i = 0; i < steps; i++) {
      this.#cursor += 1;
      this.#runSlot(this.#cursor & this.#mask, now);
    }
    if (this.#cursor < target) this.#cursor = target;
    this.#runDue(now);
    // Keep ticking while entries exist, so `tickNow` stays fresh for touch().
    if (this.#size > 0 && !this.#closed && this.#timer === undefined) this.#arm();
  };

  /** Detach a slot's list, re-file the entries that were pushed back, collect the due ones. */
  #runSlot(slot: number, now: number): void {
    let d = this.#slots[slot] ?? null;
    this.#slots[slot] = null;
    this.#tails[slot] = null;
    while (d !== null) {
      const next: Deadline | null = d.next;
      d.prev = d.next = null;
      if (d.expiresAt <= now) {
        d.state = DUE;
        this.#due.push(d);
      } else {
        this.#file(d);
      }
      d = next;
    }
  }

  /** Run callbacks after the wheel is consistent, since a callback may add, touch or cancel. */
  #runDue(now: number): void {
    const due = this.#due;
    for (let i = 0; i < due.length; i++) {
      const d = due[i] as Deadline;
      if (d.state !== DUE) continue; // cancelled by an earlier callback
      if (d.expiresAt > now) {
        this.#file(d); // touched by an earlier callback
        continue;
      }
      d.state = IDLE;
      this.#size -= 1;
      d.onExpire(d);
    }
    due.length = 0;
  }
}
