/**
 * MemoryLeaseStore: leases in one process, on the core timer wheel.
 *
 * Why the wheel: a lease store holds very many deadlines that are pushed back far more often
 * than they expire. On the wheel a keep-alive is one Map lookup and one typed-array write
 * (nothing re-filed, no timer re-armed); one unref'd timer drives every expiry. So a million
 * leases cost a record and a Map entry each, and a keep-alive costs tens of nanoseconds.
 *
 * Invariants
 * - A lease expires within one wheel tick (`resolutionMs`) of its deadline, never earlier by the
 *   wheel's time; its deadline is the wheel's tick time at the last keep-alive plus `ttlMs`, so
 *   by the real clock a lease may end up to one tick before `ttlMs` after a keep-alive. Holders
 *   keep a margin larger than a tick (LeaseKeeper does).
 * - Tokens start at `firstToken` and grow by one per grant. They do not survive a restart: give
 *   `firstToken` above the last one handed out (or use the Redis store) if resources outlive the
 *   process.
 * - The synchronous methods (`grantSync`, `keepAliveSync`, ...) throw; the `LeaseStore` methods
 *   return rejected promises instead.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { ClosedError } from '../core/errors.js';
import { clockOption, integerOption, rejectUnknown } from '../core/options.js';
import { TimerWheel } from '../core/timer-wheel.js';
import { LeaseHeldError, LeaseNotFoundError, LeaseTokenMismatchError } from './lease-errors.js';
import { checkGrantOptions, checkId, checkToken, checkTtl } from './lease-store.js';
import type { ExpiredLease, GrantOptions, Lease, LeaseMetadata, LeaseOverview, LeaseStore, LeaseStoreEvents } from './lease-store.js';

export interface MemoryLeaseStoreOptions {
  /** Wheel tick in ms (1..60000): expiry is at most this late. Default 10. */
  resolutionMs?: number;
  /** Wheel slots, a power of two (16..1048576). Default 4096. */
  slots?: number;
  /** Leases to allocate room for up front. Default 1024 (grows by doubling). */
  initialCapacity?: number;
  /** First fencing token (>= 1). Default 1. */
  firstToken?: number;
  clock?: Clock;
}

class LeaseRecord {
  constructor(
    readonly id: string,
    readonly token: number,
    readonly ttlMs: number,
    readonly generatedId: boolean,
    readonly holder: string | undefined,
    readonly metadataJson: string | undefined,
    public wheelId: number,
  ) {}
}

/** Random ids from a pooled buffer: one randomBytes call per 256 ids. */
class IdSource {
  #pool = Buffer.alloc(0);
  #offset = 0;

  next(): string {
    if (this.#offset + 16 > this.#pool.length) {
      this.#pool = randomBytes(16 * 256);
      this.#offset = 0;
    }
    const id = this.#pool.toString('base64url', this.#offset, this.#offset + 16);
    this.#offset += 16;
    return id;
  }
}

function withOptional(lease: Lease, record: LeaseRecord): Lease {
  if (record.holder !== undefined) lease.holder = record.holder;
  if (record.metadataJson !== undefined) lease.metadata = JSON.parse(record.metadataJson) as LeaseMetadata;
  return lease;
}

/**
 * @example
 *   const store = new MemoryLeaseStore({ resolutionMs: 10 });
 *   store.on('expired', (lease) => log(`${lease.id} (holder ${lease.holder}) expired`));
 *   const { id, token } = store.grantSync(30_000, { holder: 'worker-7' });
 *   store.keepAliveSync(id, token);   // one Map lookup and one write
 *   await store.close();
 */
export class MemoryLeaseStore extends EventEmitter<LeaseStoreEvents> implements LeaseStore {
  readonly resolutionMs: number;
  readonly #wheel: TimerWheel;
  readonly #leases = new Map<string, LeaseRecord>();
  readonly #ids = new IdSource();
  #nextToken: number;
  #closed = false;

  constructor(options: MemoryLeaseStoreOptions = {}) {
    super();
    const o = rejectUnknown('MemoryLeaseStore', options, ['resolutionMs', 'slots', 'initialCapacity', 'firstToken', 'clock']);
    this.resolutionMs = integerOption('MemoryLeaseStore', o, 'resolutionMs', 10, { min: 1, max: 60_000 });
    const slots = integerOption('MemoryLeaseStore', o, 'slots', 4096, { min: 16, max: 1_048_576 });
    const initialCapacity = integerOption('MemoryLeaseStore', o, 'initialCapacity', 1024, { min: 1, max: 4_194_304 });
    this.#nextToken = integerOption('MemoryLeaseStore', o, 'firstToken', 1, { min: 1, max: Number.MAX_SAFE_INTEGER });
    this.#wheel = new TimerWheel({ resolutionMs: this.resolutionMs, slots, initialCapacity, clock: clockOption('MemoryLeaseStore', o) });
  }

  /** Live leases. */
  get size(): number {
    return this.#leases.size;
  }

  /** The token the next grant will get. */
  get nextToken(): number {
    return this.#nextToken;
  }

  grantSync(ttlMs: number, options?: GrantOptions): Lease {
    this.#checkOpen();
    checkTtl(ttlMs);
    const { id: named, holder, metadataJson } = checkGrantOptions(options);
    const id = named ?? this.#ids.next();
    if (this.#leases.has(id)) throw new LeaseHeldError(id);
    const record = new LeaseRecord(id, this.#nextToken++, ttlMs, named === undefined, holder, metadataJson, 0);
    record.wheelId = this.#wheel.add(ttlMs, this.#onExpire, record);
    this.#leases.set(id, record);
    return this.#toLease(record);
  }

  /** Push the deadline `ttlMs` from now; returns the ms left (the TTL). One lookup, one write. */
  keepAliveSync(id: string, token?: number): number {
    const record = this.#find(id, token);
    this.#wheel.touch(record.wheelId);
    return record.ttlMs;
  }

  revokeSync(id: string, token?: number): Lease {
    const record = this.#find(id, token);
    const lease = this.#toLease(record);
    this.#wheel.cancel(record.wheelId);
    this.#leases.delete(id);
    this.emit('revoked', this.#toExpired(record));
    return lease;
  }

  /**
   * The live count and the `limit` leases soonest to expire. One pass over every lease (a
   * million take some tens of ms): the dashboard asks once a second, and only while it is open.
   */
  overviewSync(limit: number): LeaseOverview {
    const top: { remainingMs: number; record: LeaseRecord }[] = [];
    for (const record of this.#leases.values()) {
      const remainingMs = this.#wheel.remainingMs(record.wheelId) ?? 0;
      if (top.length === limit && remainingMs >= (top[top.length - 1] as { remainingMs: number }).remainingMs) continue;
      let at = top.length;
      while (at > 0 && (top[at - 1] as { remainingMs: number }).remainingMs > remainingMs) at--;
      top.splice(at, 0, { remainingMs, record });
      if (top.length > limit) top.pop();
    }
    return { count: this.#leases.size, leases: top.map((t) => this.#toLease(t.record)) };
  }

  overview(limit: number): Promise<LeaseOverview> {
    return this.#async(() => this.overviewSync(limit));
  }

  getSync(id: string): Lease | undefined {
    const record = this.#leases.get(id);
    return record === undefined ? undefined : this.#toLease(record);
  }

  grant(ttlMs: number, options?: GrantOptions): Promise<Lease> {
    return this.#async(() => this.grantSync(ttlMs, options));
  }

  keepAlive(id: string, token?: number): Promise<Lease> {
    return this.#async(() => {
      const record = this.#find(id, token);
      this.#wheel.touch(record.wheelId);
      return this.#toLease(record);
    });
  }

  revoke(id: string, token?: number): Promise<Lease> {
    return this.#async(() => this.revokeSync(id, token));
  }

  get(id: string): Promise<Lease | undefined> {
    return this.#async(() => this.getSync(id));
  }

  /** Drop every lease without `expired` events and stop the wheel's timer. */
  close(): Promise<void> {
    this.#closed = true;
    this.#wheel.close();
    this.#leases.clear();
    return Promise.resolve();
  }

  #async<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError('MemoryLeaseStore');
  }

  #find(id: string, token: number | undefined): LeaseRecord {
    const record = this.#leases.get(id);
    if (record === undefined) {
      this.#checkOpen();
      checkId(id);
      checkToken(token);
      throw new LeaseNotFoundError(id);
    }
    if (token !== undefined && token !== record.token) {
      checkToken(token);
      throw new LeaseTokenMismatchError(id, token, record.token);
    }
    return record;
  }

  #toLease(record: LeaseRecord): Lease {
    const lease: Lease = {
      id: record.id,
      token: record.token,
      ttlMs: record.ttlMs,
      remainingMs: Math.max(0, this.#wheel.remainingMs(record.wheelId) ?? 0),
      generatedId: record.generatedId,
    };
    return withOptional(lease, record);
  }

  #toExpired(record: LeaseRecord): ExpiredLease {
    const lease: ExpiredLease = { id: record.id, token: record.token, ttlMs: record.ttlMs, generatedId: record.generatedId };
    if (record.holder !== undefined) lease.holder = record.holder;
    if (record.metadataJson !== undefined) lease.metadata = JSON.parse(record.metadataJson) as LeaseMetadata;
    return lease;
  }

  readonly #onExpire = (_wheelId: number, data: unknown): void => {
    const record = data as LeaseRecord;
    if (this.#leases.get(record.id) === record) this.#leases.delete(record.id);
    if (this.listenerCount('expired') > 0) this.emit('expired', this.#toExpired(record));
  };
}
