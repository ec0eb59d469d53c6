/**
 * TimerWheel: a hashed timing wheel for very many deadlines that are pushed back far more often
 * than they expire (idle connections, leases, sessions).
 *
 * Model (HAProxy's lazy expiry): a deadline is filed in the slot of the tick when it was due at
 * filing time. `touch()` only writes the new expiry time; nothing moves and no timer is re-armed.
 * When a slot comes due, each entry re-checks its real expiry: if it was pushed back it is
 * re-filed then (at most once per turn of the wheel); if not, it expires. A touch only moves a
 * deadline later, so an entry is always found at or before its real expiry.
 *
 * Storage is struct-of-arrays (typed arrays indexed by entry), not one object per deadline: with a
 * million deadlines touched at random, an object per entry costs a cache miss per touch (~150 ns
 * measured here) where a typed-array write costs ~20 ns, and it halves the memory. So a deadline
 * is an integer id: the entry's index plus a generation that changes on every reuse, so a stale
 * id (kept after expiry or cancel) can never touch someone else's deadline.
 *
 * Invariants
 * - add, touch and cancel are O(1): an entry sits in one doubly-linked slot list (by index).
 * - One unref'd clock timer drives the wheel, only while it holds entries; `close()` stops it.
 * - Expiry is never early by the wheel's time and at most one tick late (plus event-loop lag).
 * - `touch()` reads the wheel's tick time (refreshed every tick while entries exist), not the
 *   clock: a clock read costs ~50 ns. So a touched idle timeout lasts between
 *   timeoutMs - resolutionMs and timeoutMs + resolutionMs of real time. Keep-alive users choose a
 *   fine resolution and advertise a hint shorter than the close by a margin much larger than it.
 */
import type { Clock, TimerHandle } from './clock.js';
import { ClosedError, InvalidOptionError } from './errors.js';
import { checkInteger, clockOption, integerOption, rejectUnknown } from './options.js';

const IDLE = 0;
const FILED = 1;
const DUE = 2;
const NONE = -1;
/** Longest timeout (about 12.4 days): expiries are int32 ms since the wheel's epoch. */
export const MAX_WHEEL_TIMEOUT_MS = 2 ** 30 - 1;
const MAX_TIMEOUT_MS = MAX_WHEEL_TIMEOUT_MS;
/** Ids are `generation << INDEX_BITS | index`, a positive 31-bit integer. */
const INDEX_BITS = 22;
const INDEX_MASK = (1 << INDEX_BITS) - 1;
const GEN_MASK = (1 << (31 - INDEX_BITS)) - 1;
/** A configured timeout as a wheel timeout: 0 (no limit) or anything longer than the wheel can hold
 * becomes its longest. */
export function wheelTimeoutMs(ms: number): number {
  return ms <= 0 || ms > MAX_WHEEL_TIMEOUT_MS ? MAX_WHEEL_TIMEOUT_MS : ms;
}

/** The most deadlines one wheel holds at once (4,194,304). */
export const MAX_DEADLINES = 1 << INDEX_BITS;

export interface TimerWheelOptions {
  /** Length of one tick in ms (1..60000). Fine (1-10 ms) for keep-alive expiry, coarse
   * (100-1000 ms) for long request timeouts and leases. Default 10. */
  resolutionMs?: number;
  /** Number of slots, a power of two (16..1048576). The wheel spans slots x resolutionMs; later
   * deadlines are re-filed when their slot comes round. Default 4096. */
  slots?: number;
  /** Entries to allocate up front (grows by doubling). Default 1024. */
  initialCapacity?: number;
  /** The wheel's time base moves forward once its clock passes this many ms (default 2^30,
   * about 12.4 days), re-filing every entry once. Lower only to test that path. */
  rebaseAfterMs?: number;
  clock?: Clock;
}

/** Called once when a deadline expires, with its id and the `data` given to `add()`. */
export type ExpireCallback = (id: number, data: unknown) => void;

/**
 * @example
 *   const wheel = new TimerWheel({ resolutionMs: 10 });
 *   const id = wheel.add(5_000, (_id, socket) => (socket as Socket).destroy(), socket);
 *   socket.on('data', () => wheel.touch(id));   // a keep-alive event: one write
 *   socket.on('close', () => wheel.cancel(id));
 *   wheel.close();                               // on shutdown
 */
export class TimerWheel {
  readonly resolutionMs: number;
  readonly slotCount: number;
  /** The wheel's current time in ms since its epoch, refreshed on every tick and every add. */
  tickNow = 0;

  readonly #clock: Clock;
  readonly #mask: number;
  readonly #heads: Int32Array;
  readonly #tails: Int32Array;
  /** Clock time (ms) that wheel times count from; moves forward on a rebase. */
  #epochMs: number;
  readonly #rebaseAfterMs: number;
  // Per-entry columns. The two int32 fields a touch writes and reads sit side by side in `#hot`
  // (8 bytes an entry, 8 MB for a million: it stays in cache where 16 MB did not, measured):
  // hot[2i] = expiry in ms since the epoch, hot[2i + 1] = timeoutMs.
  #hot: Int32Array;
  #gen: Uint16Array;
  #next: Int32Array;
  #prev: Int32Array;
  #slot: Int32Array;
  #state: Uint8Array;
  #callbacks: (ExpireCallback | undefined)[];
  #data: unknown[];
  #capacity: number;
  /** Head of the free list, linked through `#next`. */
  #free = NONE;
  #used = 0;

  /** The last tick whose slot has been run. */
  #cursor = 0;
  #size = 0;
  #timer: TimerHandle | undefined;
  #closed = false;
  /** True while expiry callbacks run. */
  #ticking = false;
  /** Reused between ticks so running a slot allocates nothing. */
  readonly #due: number[] = [];

  constructor(options: TimerWheelOptions = {}) {
    const o = rejectUnknown('TimerWheel', options, ['resolutionMs', 'slots', 'initialCapacity', 'rebaseAfterMs', 'clock']);
    this.resolutionMs = integerOption('TimerWheel', o, 'resolutionMs', 10, { min: 1, max: 60_000 });
    this.slotCount = integerOption('TimerWheel', o, 'slots', 4096, { min: 16, max: 1_048_576, note: '(a power of two)' });
    if ((this.slotCount & (this.slotCount - 1)) !== 0) {
      throw new InvalidOptionError('TimerWheel.slots', `TimerWheel.slots must be a power of two from 16 to 1048576; got ${this.slotCount}`);
    }
    this.#capacity = integerOption('TimerWheel', o, 'initialCapacity', 1024, { min: 1, max: MAX_DEADLINES });
    this.#rebaseAfterMs = integerOption('TimerWheel', o, 'rebaseAfterMs', 2 ** 30, { min: 1000, max: 2 ** 30 });
    this.#clock = clockOption('TimerWheel', o);
    this.#mask = this.slotCount - 1;
    this.#heads = new Int32Array(this.slotCount).fill(NONE);
    this.#tails = new Int32Array(this.slotCount).fill(NONE);
    this.#hot = new Int32Array(this.#capacity * 2);
    this.#gen = new Uint16Array(this.#capacity);
    this.#next = new Int32Array(this.#capacity);
    this.#prev = new Int32Array(this.#capacity);
    this.#slot = new Int32Array(this.#capacity);
    this.#state = new Uint8Array(this.#capacity);
    this.#callbacks = [];
    this.#data = [];
    this.#epochMs = this.#clock.now();
  }

  /** Clock time (ms) that the wheel's times count from. */
  get epochMs(): number {
    return this.#epochMs;
  }

  /** Deadlines currently held. */
  get size(): number {
    return this.#size;
  }

  /**
   * Start a deadline `timeoutMs` from now (0 expires on the next tick) and return its id.
   * `data` is handed to the callback, so one callback can serve every deadline.
   */
  add(timeoutMs: number, onExpire: ExpireCallback, data?: unknown): number {
    if (this.#closed) throw new ClosedError('TimerWheel');
    checkInteger('TimerWheel.add(timeoutMs)', timeoutMs, { min: 0, max: MAX_TIMEOUT_MS });
    const i = this.#allocate();
    this.#refreshNow();
    // An empty, idle wheel restarts its cursor at now. Never inside a tick (a callback adding a
    // deadline): ticks after the cursor may not have run yet, and jumping over them would delay
    // their deadlines by a whole turn.
    if (this.#size === 0 && !this.#ticking) this.#cursor = this.#tickOf(this.tickNow);
    const gen = this.#gen[i] as number;
    this.#hot[2 * i + 1] = timeoutMs;
    this.#hot[2 * i] = this.tickNow + timeoutMs;
    this.#callbacks[i] = onExpire;
    this.#data[i] = data;
    this.#file(i);
    this.#size += 1;
    if (this.#timer === undefined && !this.#ticking) this.#arm();
    return (gen << INDEX_BITS) | i;
  }

  /** A keep-alive event: expire `timeoutMs` (as last set) from now. One write; nothing is re-filed.
   * Returns false if the id is no longer active. */
  touch(id: number): boolean {
    // A released entry's generation has moved on, so a stale id fails the check; an index
    // beyond the arrays reads undefined and fails it too.
    const i = id & INDEX_MASK;
    if (this.#gen[i] !== id >>> INDEX_BITS || this.#state[i] === IDLE) return false;
    this.#hot[2 * i] = this.tickNow + (this.#hot[2 * i + 1] as number);
    return true;
  }

  /** Change the timeout and restart it from now. Re-files only when the new expiry is earlier. */
  reset(id: number, timeoutMs: number): boolean {
    checkInteger('TimerWheel.reset(timeoutMs)', timeoutMs, { min: 0, max: MAX_TIMEOUT_MS });
    const i = this.#index(id);
    if (i === NONE) return false;
    const expires = this.tickNow + timeoutMs;
    const earlier = expires < (this.#hot[2 * i] as number);
    this.#hot[2 * i + 1] = timeoutMs;
    this.#hot[2 * i] = expires;
    if (earlier && this.#state[i] === FILED) {
      this.#unlink(i);
      this.#file(i);
    }
    return true;
  }

  /** Stop a deadline; its callback will not run. Harmless when already expired or cancelled. */
  cancel(id: number): boolean {
    const i = this.#index(id);
    if (i === NONE) return false;
    if (this.#state[i] === FILED) this.#unlink(i);
    this.#release(i);
    return true;
  }

  /** True until the deadline expires or is cancelled. */
  isActive(id: number): boolean {
    return this.#index(id) !== NONE;
  }

  /** Milliseconds left by the wheel's tick time, or undefined for an inactive id. */
  remainingMs(id: number): number | undefined {
    const i = this.#index(id);
    return i === NONE ? undefined : (this.#hot[2 * i] as number) - this.tickNow;
  }

  /** Stop the driving timer and drop every deadline without running callbacks. */
  close(): void {
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#heads.fill(NONE);
    this.#tails.fill(NONE);
    this.#state.fill(IDLE);
    this.#callbacks = [];
    this.#data = [];
    this.#due.length = 0;
    this.#size = 0;
  }

  #index(id: number): number {
    const i = id & INDEX_MASK;
    if (id < 0 || i >= this.#used || this.#state[i] === IDLE || this.#gen[i] !== id >>> INDEX_BITS) return NONE;
    return i;
  }

  #allocate(): number {
    if (this.#free !== NONE) {
      const i = this.#free;
      this.#free = this.#next[i] as number;
      return i;
    }
    if (this.#used === this.#capacity) this.#grow();
    return this.#used++;
  }

  #release(i: number): void {
    this.#state[i] = IDLE;
    this.#callbacks[i] = undefined;
    this.#data[i] = undefined;
    this.#gen[i] = ((this.#gen[i] as number) + 1) & GEN_MASK;
    this.#next[i] = this.#free;
    this.#free = i;
    this.#size -= 1;
  }

  #grow(): void {
    if (this.#capacity >= MAX_DEADLINES) throw new RangeError(`a TimerWheel holds at most ${MAX_DEADLINES} deadlines`);
    const capacity = Math.min(this.#capacity * 2, MAX_DEADLINES);
    const grow = <T extends Int32Array | Uint16Array | Uint8Array>(old: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(old);
      return next;
    };
    const hot = new Int32Array(capacity * 2);
    hot.set(this.#hot);
    this.#hot = hot;
    this.#gen = grow(this.#gen, (n) => new Uint16Array(n));
    this.#next = grow(this.#next, (n) => new Int32Array(n));
    this.#prev = grow(this.#prev, (n) => new Int32Array(n));
    this.#slot = grow(this.#slot, (n) => new Int32Array(n));
    this.#state = grow(this.#state, (n) => new Uint8Array(n));
    this.#capacity = capacity;
  }

  #refreshNow(): void {
    const now = Math.floor(this.#clock.now() - this.#epochMs);
    this.tickNow = now >= this.#rebaseAfterMs ? this.#rebase(now) : now;
  }

  /**
   * Move the epoch forward so int32 expiries never overflow: subtract a whole number of ticks
   * from every time and re-file every entry (slots depend on absolute ticks). O(entries), once in
   * `rebaseAfterMs / 2` of running time. Returns the new now.
   */
  #rebase(now: number): number {
    const shift = Math.floor(this.#rebaseAfterMs / 2 / this.resolutionMs) * this.resolutionMs;
    this.#epochMs += shift;
    this.#cursor -= shift / this.resolutionMs;
    this.#heads.fill(NONE);
    this.#tails.fill(NONE);
    for (let i = 0; i < this.#used; i++) {
      if (this.#state[i] === IDLE) continue;
      this.#hot[2 * i] = (this.#hot[2 * i] as number) - shift;
      if (this.#state[i] === FILED) this.#file(i);
    }
    return now - shift;
  }

  #tickOf(ms: number): number {
    return Math.floor(ms / this.resolutionMs);
  }

  /** Append entry i to the slot of the first tick at or after its expiry (never a tick already run). */
  #file(i: number): void {
    let tick = Math.ceil((this.#hot[2 * i] as number) / this.resolutionMs);
    if (tick <= this.#cursor) tick = this.#cursor + 1;
    const slot = tick & this.#mask;
    const tail = this.#tails[slot] as number;
    this.#slot[i] = slot;
    this.#prev[i] = tail;
    this.#next[i] = NONE;
    if (tail !== NONE) this.#next[tail] = i;
    else this.#heads[slot] = i;
    this.#tails[slot] = i;
    this.#state[i] = FILED;
  }

  #unlink(i: number): void {
    const prev = this.#prev[i] as number;
    const next = this.#next[i] as number;
    if (prev !== NONE) this.#next[prev] = next;
    else this.#heads[this.#slot[i] as number] = next;
    if (next !== NONE) this.#prev[next] = prev;
    else this.#tails[this.#slot[i] as number] = prev;
    this.#state[i] = DUE; // detached; the caller decides what comes next
  }

  #arm(): void {
    const nextTickStart = (this.#cursor + 1) * this.resolutionMs;
    // Whole milliseconds, rounded up: Node's timers have ms granularity, and a fractional delay
    // can fire just before the tick is due, leaving an empty tick and a re-arm.
    const delay = Math.max(0, Math.ceil(nextTickStart - (this.#clock.now() - this.#epochMs)));
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
    for (let s = 0; s < steps; s++) {
      this.#cursor += 1;
      this.#runSlot(this.#cursor & this.#mask, now);
    }
    if (this.#cursor < target) this.#cursor = target;
    this.#ticking = true;
    try {
      this.#runDue(now);
    } finally {
      this.#ticking = false;
      // Keep ticking while entries exist, so `tickNow` stays fresh for touch().
      if (this.#size > 0 && !this.#closed && this.#timer === undefined) this.#arm();
    }
  };

  /** Detach a slot's list, re-file the entries that were pushed back, collect the due ones. */
  #runSlot(slot: number, now: number): void {
    let i = this.#heads[slot] as number;
    this.#heads[slot] = NONE;
    this.#tails[slot] = NONE;
    while (i !== NONE) {
      const next = this.#next[i] as number;
      if ((this.#hot[2 * i] as number) <= now) {
        this.#state[i] = DUE;
        this.#due.push(i);
      } else {
        this.#file(i);
      }
      i = next;
    }
  }

  /** Run callbacks after the wheel is consistent, since a callback may add, touch or cancel. */
  #runDue(now: number): void {
    const due = this.#due;
    for (let k = 0; k < due.length; k++) {
      const i = due[k] as number;
      if (this.#state[i] !== DUE) continue; // cancelled by an earlier callback
      if ((this.#hot[2 * i] as number) > now) {
        this.#file(i); // touched by an earlier callback
        continue;
      }
      const callback = this.#callbacks[i];
      const data = this.#data[i];
      const id = ((this.#gen[i] as number) << INDEX_BITS) | i;
      this.#release(i);
      callback?.(id, data);
    }
    due.length = 0;
  }
}
