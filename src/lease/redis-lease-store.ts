/**
 * RedisLeaseStore: leases shared by every process that reaches one Redis.
 *
 * Grant is `SET <key> <token> NX PX <ttl>` inside a Lua script that also files the lease's
 * deadline in a sorted set and takes its fencing token from `INCR`; keep-alive and revoke are
 * Lua scripts that act only if the token matches (see redis-lease-scripts.ts). Redis itself ends
 * a lease at its TTL (the key expires), whether or not any store process is alive.
 *
 * Expiry events come from a sweeper: every `sweepIntervalMs` a script claims the deadlines that
 * have passed and whose key is gone, removing each from the set in the same step, so each expiry
 * is reported once, by one sweeping store, and an expiry that happened while no store was running
 * is reported by the next one to sweep (Redis keyspace notifications would simply be lost). The
 * claim and the event are not one transaction: a store that dies between the two loses that one
 * event.
 *
 * Failure: when Redis is unreachable every call rejects at once with
 * `ERR_LEASE_STORE_UNAVAILABLE` (no offline queue: a keep-alive queued during an outage and sent
 * after it would extend a lease its holder already gave up). The client reconnects by itself.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type * as Ioredis from 'ioredis';
import type { Clock, TimerHandle } from '../core/clock.js';
import { ClosedError, InvalidOptionError } from '../core/errors.js';
import { booleanOption, clockOption, integerOption, rejectUnknown } from '../core/options.js';
import { LeaseError, LeaseHeldError, LeaseNotFoundError, LeaseStoreUnavailableError, LeaseTokenMismatchError } from './lease-errors.js';
import { checkGrantOptions, checkId, checkToken, checkTtl, generateLeaseId } from './lease-store.js';
import type { ExpiredLease, GrantOptions, Lease, LeaseMetadata, LeaseOverview, LeaseStore, LeaseStoreEvents } from './lease-store.js';
import { GET, GRANT, KEEPALIVE, REVOKE, SWEEP } from './redis-lease-scripts.js';

/**
 * The part of an ioredis client the store uses. Structural so that the published types do not
 * import ioredis's own declarations (which need `skipLibCheck` in a user's project); an ioredis
 * `Redis` (or `Cluster`) fits it.
 */
export interface RedisClient {
  readonly status: string;
  on(event: 'error' | 'ready', listener: (error: Error) => void): unknown;
  once(event: 'error' | 'ready', listener: (error: Error) => void): unknown;
  off(event: 'error' | 'ready', listener: (error: Error) => void): unknown;
  ping(): Promise<string>;
  evalsha(sha: string, numKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>;
  zcard(key: string): Promise<number>;
  zrange(key: string, start: string, stop: string): Promise<string[]>;
  disconnect(): void;
}

/**
 * ioredis reads any other scheme as a Unix socket path (`http://x` fails as `connect ENOENT //x`),
 * so the URL is checked here and the error names what is accepted.
 */
function checkRedisUrl(url: string): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') || parsed.hostname === '') {
    throw new InvalidOptionError('url', `RedisLeaseStore: url must be redis://HOST[:PORT][/DB] or rediss://HOST[:PORT][/DB] (TLS); got '${url}'`);
  }
}

export interface RedisLeaseStoreOptions {
  /** A Redis URL (`redis://127.0.0.1:6379/0`); the store makes and owns its client. */
  url?: string;
  /** Or a client you own (not closed by `close()`). Give it `enableOfflineQueue: false` and
   * `maxRetriesPerRequest: 0`, or calls wait during an outage instead of failing. */
  redis?: RedisClient;
  /** Key prefix; keep one `{hash tag}` in it for Redis Cluster. Default `lifeline:{lease}:`. */
  prefix?: string;
  /** Run the expiry sweeper in this store (default true). */
  sweep?: boolean;
  /** Sweep period in ms (10..60000): how late an `expired` event may be. Default 100. */
  sweepIntervalMs?: number;
  /** Expired leases claimed per sweep script run (1..10000). Default 500. */
  sweepBatch?: number;
  /** Per-command timeout of an owned client, in ms (>= 1). Default 2000. */
  commandTimeoutMs?: number;
  clock?: Clock;
}

interface Script {
  sha: string;
  lua: string;
}

const script = (lua: string): Script => ({ lua, sha: createHash('sha1').update(lua).digest('hex') });
const SCRIPTS = { grant: script(GRANT), keepAlive: script(KEEPALIVE), revoke: script(REVOKE), get: script(GET), sweep: script(SWEEP) };

interface Info {
  token: number;
  ttlMs: number;
  generatedId: boolean;
  holder: string | undefined;
  metadataJson: string | undefined;
}

function parseInfo(text: string): Info {
  const match = /^(\d+)\|(\d+)\|([01])\|(.*)$/s.exec(text);
  if (match === null) throw new LeaseStoreUnavailableError(`malformed lease record in Redis: ${JSON.stringify(text.slice(0, 80))}`);
  const tail = JSON.parse(match[4] as string) as [string | null, string | null];
  return {
    token: Number(match[1]),
    ttlMs: Number(match[2]),
    generatedId: match[3] === '1',
    holder: tail[0] ?? undefined,
    metadataJson: tail[1] ?? undefined,
  };
}

function lease(id: string, info: Info, remainingMs: number): Lease {
  const out: Lease = { id, token: info.token, ttlMs: info.ttlMs, remainingMs, generatedId: info.generatedId };
  if (info.holder !== undefined) out.holder = info.holder;
  if (info.metadataJson !== undefined) out.metadata = JSON.parse(info.metadataJson) as LeaseMetadata;
  return out;
}

function expired(id: string, info: Info, lateMs: number | undefined): ExpiredLease {
  const out: ExpiredLease = { id, token: info.token, ttlMs: info.ttlMs, generatedId: info.generatedId };
  if (info.holder !== undefined) out.holder = info.holder;
  if (info.metadataJson !== undefined) out.metadata = JSON.parse(info.metadataJson) as LeaseMetadata;
  if (lateMs !== undefined) out.lateMs = lateMs;
  return out;
}

/**
 * @example
 *   const store = await RedisLeaseStore.connect({ url: 'redis://127.0.0.1:6379' });
 *   const { id, token } = await store.grant(10_000, { id: 'nightly-report', holder: os.hostname() });
 *   await store.keepAlive(id, token);
 *   await store.close();
 */
export class RedisLeaseStore extends EventEmitter<LeaseStoreEvents & { error: [error: unknown] }> implements LeaseStore {
  readonly redis: RedisClient;
  readonly prefix: string;
  readonly sweepIntervalMs: number;
  readonly #owned: boolean;
  readonly #sweepBatch: number;
  readonly #clock: Clock;
  readonly #keys: { info: string; deadlines: string; fence: string; leasePrefix: string };
  #sweepTimer: TimerHandle | undefined;
  #sweeping = false;
  #closed = false;

  /** Make a store and wait until its Redis answers (rejects with ERR_LEASE_STORE_UNAVAILABLE). */
  static async connect(options: RedisLeaseStoreOptions): Promise<RedisLeaseStore> {
    const store = new RedisLeaseStore(options);
    try {
      await store.ping();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  constructor(options: RedisLeaseStoreOptions) {
    super();
    const o = rejectUnknown('RedisLeaseStore', options, ['url', 'redis', 'prefix', 'sweep', 'sweepIntervalMs', 'sweepBatch', 'commandTimeoutMs', 'clock']);
    this.prefix = typeof o.prefix === 'string' ? o.prefix : 'lifeline:{lease}:';
    this.sweepIntervalMs = integerOption('RedisLeaseStore', o, 'sweepIntervalMs', 100, { min: 10, max: 60_000 });
    this.#sweepBatch = integerOption('RedisLeaseStore', o, 'sweepBatch', 500, { min: 1, max: 10_000 });
    const commandTimeout = integerOption('RedisLeaseStore', o, 'commandTimeoutMs', 2000, { min: 1, max: 2 ** 31 - 1 });
    this.#clock = clockOption('RedisLeaseStore', o);
    const sweep = booleanOption('RedisLeaseStore', o, 'sweep', true);
    if (options.redis !== undefined) {
      this.redis = options.redis;
      this.#owned = false;
    } else if (typeof o.url === 'string') {
      checkRedisUrl(o.url);
      // ioredis is loaded here, when a Redis store is made, not when lifeline/lease is imported.
      const { Redis: IoRedis } = createRequire(import.meta.url)('ioredis') as typeof Ioredis;
      this.redis = new IoRedis(o.url, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        commandTimeout,
        connectTimeout: 2000,
        retryStrategy: (times) => Math.min(50 * times, 1000),
      });
      this.#owned = true;
    } else {
      throw new TypeError('RedisLeaseStore needs `url` (a Redis URL) or `redis` (an ioredis client)');
    }
    // An unreachable Redis is reported through the calls that fail; the client's own error
    // events would otherwise go to ioredis's console warning.
    this.redis.on('error', this.#onClientError);
    this.#keys = { info: `${this.prefix}info`, deadlines: `${this.prefix}deadlines`, fence: `${this.prefix}fence`, leasePrefix: `${this.prefix}k:` };
    if (sweep) this.#armSweep();
  }

  /** Resolves once Redis answers a PING. */
  async ping(): Promise<void> {
    if (this.redis.status !== 'ready') {
      await new Promise<void>((resolve, reject) => {
        const done = (error?: unknown): void => {
          this.redis.off('ready', onReady);
          this.redis.off('error', onError);
          clearTimeout(timer);
          if (error === undefined) resolve();
          else reject(new LeaseStoreUnavailableError(`Redis is unreachable: ${error instanceof Error ? error.message : 'connection failed'}`, error));
        };
        const onReady = (): void => done();
        const onError = (error: unknown): void => done(error);
        const timer = setTimeout(() => done(new Error('no connection within 5000 ms')), 5000);
        timer.unref();
        this.redis.once('ready', onReady);
        this.redis.once('error', onError);
      });
    }
    await this.#call(() => this.redis.ping());
  }

  async grant(ttlMs: number, options?: GrantOptions): Promise<Lease> {
    this.#checkOpen();
    checkTtl(ttlMs);
    const { id: named, holder, metadataJson } = checkGrantOptions(options);
    const id = named ?? generateLeaseId();
    const tail = JSON.stringify([holder ?? null, metadataJson ?? null]);
    const reply = (await this.#eval(SCRIPTS.grant, [this.#leaseKey(id), this.#keys.info, this.#keys.deadlines, this.#keys.fence], [id, ttlMs, named === undefined ? 1 : 0, tail])) as [number, string?, string?, string?];
    if (reply[0] === 0) throw new LeaseHeldError(id);
    const [, token, claimed, late] = reply;
    if (claimed !== undefined && claimed !== '') this.#emitExpired(id, claimed, late === undefined || late === '' ? undefined : Number(late));
    const info: Info = { token: Number(token), ttlMs, generatedId: named === undefined, holder, metadataJson };
    return lease(id, info, ttlMs);
  }

  async keepAlive(id: string, token?: number): Promise<Lease> {
    const info = await this.#guarded(SCRIPTS.keepAlive, id, token);
    return lease(id, info, info.ttlMs);
  }

  async revoke(id: string, token?: number): Promise<Lease> {
    const info = await this.#guarded(SCRIPTS.revoke, id, token);
    if (this.listenerCount('revoked') > 0) this.emit('revoked', expired(id, info, undefined));
    return lease(id, info, 0);
  }

  async get(id: string): Promise<Lease | undefined> {
    this.#checkOpen();
    checkId(id);
    const reply = (await this.#eval(SCRIPTS.get, [this.#leaseKey(id), this.#keys.info], [id])) as [number, string?, number?];
    if (reply[0] !== 1) return undefined;
    return lease(id, parseInfo(reply[1] as string), Math.max(0, reply[2] ?? 0));
  }

  /** The live count and the `limit` soonest to expire, from the deadlines sorted set (O(log n + limit)). */
  async overview(limit: number): Promise<LeaseOverview> {
    this.#checkOpen();
    const [count, ids] = await this.#call(() => Promise.all([this.redis.zcard(this.#keys.deadlines), this.redis.zrange(this.#keys.deadlines, '0', String(Math.max(0, limit - 1)))]));
    // A lease may end between the two reads: it is left out.
    const leases = (await Promise.all(ids.map((id) => this.get(id)))).filter((l): l is Lease => l !== undefined);
    return { count, leases };
  }

  /** Run one sweep now; resolves to the number of expiries reported. */
  async sweepNow(): Promise<number> {
    let total = 0;
    for (;;) {
      const out = (await this.#eval(SCRIPTS.sweep, [this.#keys.deadlines, this.#keys.info], [this.#sweepBatch, this.#keys.leasePrefix])) as string[];
      for (let i = 0; i + 2 < out.length; i += 3) {
        const info = out[i + 1] as string;
        if (info !== '') this.#emitExpired(out[i] as string, info, Number(out[i + 2]));
      }
      total += out.length / 3;
      if (out.length / 3 < this.#sweepBatch || this.#closed) return total;
    }
  }

  /** Stop sweeping; close the client if the store made it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#sweepTimer?.cancel();
    this.#sweepTimer = undefined;
    this.redis.off('error', this.#onClientError);
    if (this.#owned) {
      this.redis.disconnect();
    }
    return Promise.resolve();
  }

  #leaseKey(id: string): string {
    return `${this.#keys.leasePrefix}${id}`;
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError('RedisLeaseStore');
  }

  async #guarded(s: Script, id: string, token: number | undefined): Promise<Info> {
    this.#checkOpen();
    checkId(id);
    checkToken(token);
    const reply = (await this.#eval(s, [this.#leaseKey(id), this.#keys.info, this.#keys.deadlines], [id, token === undefined ? '' : String(token)])) as [number, string?];
    if (reply[0] === 0) throw new LeaseNotFoundError(id);
    if (reply[0] === -1) throw new LeaseTokenMismatchError(id, token as number, reply[1] === undefined ? undefined : Number(reply[1]));
    return parseInfo(reply[1] as string);
  }

  #emitExpired(id: string, infoText: string, lateMs: number | undefined): void {
    if (this.listenerCount('expired') === 0) return;
    this.emit('expired', expired(id, parseInfo(infoText), lateMs));
  }

  async #eval(s: Script, keys: string[], args: (string | number)[]): Promise<unknown> {
    return this.#call(async () => {
      try {
        return await this.redis.evalsha(s.sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (error instanceof Error && error.message.startsWith('NOSCRIPT')) return await this.redis.eval(s.lua, keys.length, ...keys, ...args);
        throw error;
      }
    });
  }

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof LeaseError) throw error;
      throw new LeaseStoreUnavailableError(`Redis call failed: ${error instanceof Error ? error.message : String(error)}`, error);
    }
  }

  #armSweep(): void {
    this.#sweepTimer = this.#clock.setTimer(this.#onSweep, this.sweepIntervalMs);
  }

  readonly #onSweep = (): void => {
    this.#sweepTimer = undefined;
    if (this.#closed || this.#sweeping) return;
    this.#sweeping = true;
    this.sweepNow().then(
      () => this.#afterSweep(),
      (error: unknown) => {
        if (this.listenerCount('error') > 0) this.emit('error', error);
        this.#afterSweep();
      },
    );
  };

  #afterSweep(): void {
    this.#sweeping = false;
    if (!this.#closed) this.#armSweep();
  }

  readonly #onClientError = (): void => {};
}
