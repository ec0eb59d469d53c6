/**
 * Writes copied into reused buffers and handed to a socket one batch at a time.
 *
 * Why by hand: Node's stream `write` keeps a reference to each buffer until the kernel has it,
 * so bytes that live in a reused read buffer (a socket's `onread` buffer) cannot be written as
 * views; the alternatives are a fresh allocation per read (each an ArrayBuffer the GC must find:
 * on a 500 MB/s stream that was a major collection every 40 ms, measured) or cork + writev, which
 * a TLS socket turns into one more join copy per write. Here each byte is copied once, into a
 * buffer taken from a small pool and given back when the socket has taken it; at most one write
 * is outstanding, so everything appended meanwhile leaves in one write (one syscall, full TLS
 * records). A batch is written at the end of the turn it was started in (check phase), or as soon
 * as the previous write completes, so no byte waits beyond the turn its predecessor took.
 *
 * Invariants: bytes reach the socket in `append` order; `onWritten(n)` is called once per batch
 * with its size, after the socket took it or failed to (so credit tied to it is never lost); a buffer handed to the socket is not reused before its
 * write completes. `flushAll` hands everything held to the socket at once (before `end`).
 * @example
 *   const pool = new BufferPool(65_536, 256);
 *   const out = new WriteBatcher(socket, pool, (n) => credit(n));
 *   out.append(view); // view may be overwritten as soon as this returns
 */
import type { Writable } from 'node:stream';
import type { Clock, TimerHandle } from '../core/clock.js';
import { systemClock } from '../core/clock.js';

/**
 * Buffers of one size kept for reuse. A busy owner takes and gives many per second and should
 * allocate none; an owner gone quiet should not keep them: every `trimIntervalMs`, the buffers
 * that stayed free the whole interval (the low-water mark of the free list) are let go, down to
 * `keep`. So the pool follows the load both ways without a fixed guess at its size.
 */
export class BufferPool {
  readonly bufferBytes: number;
  readonly #max: number;
  readonly #keep: number;
  readonly #trimIntervalMs: number;
  readonly #clock: Clock;
  readonly #free: Buffer[] = [];
  /** The fewest free buffers seen since the last trim: that many were not needed. */
  #lowWater = 0;
  #trimTimer: TimerHandle | undefined;

  /**
   * @param max buffers kept at most (bounds what a burst can leave behind)
   * @param keep buffers kept however quiet the owner is
   */
  constructor(bufferBytes: number, max: number, options: { keep?: number; trimIntervalMs?: number; clock?: Clock } = {}) {
    this.bufferBytes = bufferBytes;
    this.#max = max;
    this.#keep = Math.min(max, options.keep ?? 2);
    this.#trimIntervalMs = options.trimIntervalMs ?? 1000;
    this.#clock = options.clock ?? systemClock;
  }

  /** A buffer of at least `bytes` (the pool's size, or larger for one oversized write). */
  take(bytes: number): Buffer {
    if (bytes <= this.bufferBytes) {
      const free = this.#free.pop();
      if (free !== undefined) {
        if (this.#free.length < this.#lowWater) this.#lowWater = this.#free.length;
        return free;
      }
      this.#lowWater = 0;
    }
    return Buffer.allocUnsafeSlow(Math.max(bytes, this.bufferBytes));
  }

  give(buffer: Buffer): void {
    if (buffer.length !== this.bufferBytes || this.#free.length >= this.#max) return;
    this.#free.push(buffer);
    if (this.#free.length > this.#keep && this.#trimTimer === undefined) {
      this.#lowWater = this.#free.length;
      this.#trimTimer = this.#clock.setTimer(this.#trim, this.#trimIntervalMs);
    }
  }

  /** Buffers kept now. */
  get size(): number {
    return this.#free.length;
  }

  /** Let every kept buffer go and stop the trim timer. */
  clear(): void {
    this.#free.length = 0;
    this.#trimTimer?.cancel();
    this.#trimTimer = undefined;
  }

  readonly #trim = (): void => {
    this.#trimTimer = undefined;
    const unused = Math.min(this.#lowWater, this.#free.length - this.#keep);
    if (unused > 0) this.#free.length -= unused;
    this.#lowWater = this.#free.length;
    if (this.#free.length > this.#keep) this.#trimTimer = this.#clock.setTimer(this.#trim, this.#trimIntervalMs);
  };
}

interface Batch {
  buffer: Buffer;
  used: number;
}

export class WriteBatcher {
  readonly #socket: Writable;
  readonly #pool: BufferPool;
  readonly #onWritten: ((bytes: number) => void) | undefined;
  /** Full batches waiting for the outstanding write, oldest first. */
  readonly #ready: Batch[] = [];
  /** The batch being filled. */
  #open: Batch | undefined;
  #held = 0;
  #writing = false;
  #flushQueued = false;
  #dropped = false;
  readonly #flushNow = (): void => {
    this.#flushQueued = false;
    if (!this.#writing) this.#writeNext();
  };

  constructor(socket: Writable, pool: BufferPool, onWritten?: (bytes: number) => void) {
    this.#socket = socket;
    this.#pool = pool;
    this.#onWritten = onWritten;
  }

  /** Bytes appended and not yet handed to the socket. */
  get heldBytes(): number {
    return this.#held;
  }

  /** Something is held or a write is outstanding: a direct socket write now would overtake it. */
  get busy(): boolean {
    return this.#writing || this.#held > 0;
  }

  /** Copy `a` (and `b`, in the same batch) for writing; both may be reused once this returns. */
  append(a: Uint8Array, b?: Uint8Array): void {
    if (this.#dropped) return;
    const bytes = a.length + (b === undefined ? 0 : b.length);
    let batch = this.#open;
    if (batch === undefined || batch.buffer.length - batch.used < bytes) batch = this.#start(bytes);
    batch.buffer.set(a, batch.used);
    batch.used += a.length;
    if (b !== undefined) {
      batch.buffer.set(b, batch.used);
      batch.used += b.length;
    }
    this.#held += bytes;
  }

  /** Write what is held now rather than at the end of the turn, unless a write is outstanding
   * (then it leaves when that one completes, as usual). For latency: a first write nothing
   * else in this turn will join. */
  flush(): void {
    if (!this.#writing && this.#held > 0) this.#writeNext();
  }

  /** Hand every held batch to the socket now, in order, behind the outstanding write. */
  flushAll(): void {
    if (this.#open !== undefined && this.#open.used > 0) this.#ready.push(this.#open);
    this.#open = undefined;
    for (const batch of this.#ready) this.#write(batch);
    this.#ready.length = 0;
    this.#held = 0;
  }

  /** Forget what is held (the socket is gone); later appends are ignored. */
  drop(): void {
    this.#dropped = true;
    if (this.#open !== undefined) this.#pool.give(this.#open.buffer);
    for (const batch of this.#ready) this.#pool.give(batch.buffer);
    this.#open = undefined;
    this.#ready.length = 0;
    this.#held = 0;
  }

  /** A new open batch with room for `bytes`; the current one, if any, joins the ready list. */
  #start(bytes: number): Batch {
    if (this.#open !== undefined && this.#open.used > 0) this.#ready.push(this.#open);
    const batch = { buffer: this.#pool.take(bytes), used: 0 };
    this.#open = batch;
    if (!this.#flushQueued && !this.#writing) {
      this.#flushQueued = true;
      setImmediate(this.#flushNow);
    }
    return batch;
  }

  /** Hand the oldest batch to the socket; called when no write is outstanding. */
  #writeNext(): void {
    let next = this.#ready.shift();
    if (next === undefined && this.#open !== undefined && this.#open.used > 0) {
      next = this.#open;
      this.#open = undefined;
    }
    if (next === undefined || this.#dropped) return;
    this.#held -= next.used;
    this.#writing = true;
    this.#write(next, true);
  }

  #write(batch: Batch, chained = false): void {
    const { buffer, used } = batch;
    this.#socket.write(buffer.subarray(0, used), (error?: Error | null) => {
      const failed = error !== undefined && error !== null;
      if (!failed) this.#pool.give(buffer); // a failed write may still hold it: let the GC have it
      this.#onWritten?.(used);
      if (failed) return; // the socket is gone
      if (!chained) return;
      this.#writing = false;
      this.#writeNext();
    });
  }
}
