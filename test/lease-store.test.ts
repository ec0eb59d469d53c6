/**
 * The same behaviour, asserted against both stores: memory (the timer wheel) and Redis (a real
 * redis-server). Real clocks and short TTLs; bounds are stated with the store's granularity.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryLeaseStore } from '../src/lease/memory-lease-store.js';
import { Redis } from 'ioredis';
import { RedisLeaseStore } from '../src/lease/redis-lease-store.js';
import { LeaseKeeper } from '../src/lease/lease-keeper.js';
import type { ExpiredLease, LeaseStore } from '../src/lease/lease-store.js';
import { testRedis, uniquePrefix } from './helpers/redis.js';
import { skipFor } from './helpers/lease-prerequisites.js';

const redisTarget = await testRedis();
const redisSkip = skipFor('lease-store (Redis)', typeof redisTarget === 'string' ? redisTarget : undefined);
after(async () => {
  if (typeof redisTarget !== 'string') await redisTarget.server?.stop();
});

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal((error as { code?: unknown }).code, code);
    return true;
  });
}

interface Flavour {
  name: string;
  skip: string | false;
  /** ms by which an expiry may be late: the wheel tick or the sweep period, plus loop slack. */
  lateMs: number;
  make(): Promise<LeaseStore>;
}

const flavours: Flavour[] = [
  { name: 'memory', skip: false, lateMs: 10 + 40, make: () => Promise.resolve(new MemoryLeaseStore({ resolutionMs: 10 })) },
  {
    name: 'redis',
    skip: redisSkip,
    lateMs: 50 + 60,
    make: () => RedisLeaseStore.connect({ url: (redisTarget as { url: string }).url, prefix: uniquePrefix('suite'), sweepIntervalMs: 50 }),
  },
];

for (const flavour of flavours) {
  describe(`lease store: ${flavour.name}`, { skip: flavour.skip }, () => {
    test('grant gives an id and a token that only grows; generated ids are unguessable', async () => {
      const store = await flavour.make();
      try {
        const a = await store.grant(5_000, { holder: 'alice', metadata: { job: 42 } });
        const b = await store.grant(5_000);
        const c = await store.grant(5_000, { id: 'named:lock' });
        assert.match(a.id, /^[A-Za-z0-9_-]{22}$/);
        assert.equal(a.generatedId, true);
        assert.equal(c.id, 'named:lock');
        assert.equal(c.generatedId, false);
        assert.ok(a.token < b.token && b.token < c.token, `tokens ${a.token} ${b.token} ${c.token}`);
        const got = await store.get(a.id);
        assert.equal(got?.holder, 'alice');
        assert.deepEqual(got?.metadata, { job: 42 });
        assert.ok((got?.remainingMs ?? 0) > 4_000);
      } finally {
        await store.close();
      }
    });

    test('a held name cannot be granted again; a wrong token is refused and touches nothing', async () => {
      const store = await flavour.make();
      try {
        const a = await store.grant(5_000, { id: 'job:1' });
        const other = await store.grant(300, { id: 'job:2' });
        await rejectsWith(store.grant(5_000, { id: 'job:1' }), 'ERR_LEASE_HELD');
        await rejectsWith(store.keepAlive('job:1', a.token + 1000), 'ERR_LEASE_TOKEN_MISMATCH');
        await rejectsWith(store.revoke('job:1', a.token + 1000), 'ERR_LEASE_TOKEN_MISMATCH');
        await rejectsWith(store.keepAlive('no-such-lease', 1), 'ERR_LEASE_NOT_FOUND');
        await rejectsWith(store.revoke('no-such-lease'), 'ERR_LEASE_NOT_FOUND');
        await rejectsWith(store.grant(0), 'ERR_LEASE_BAD_TTL');
        await rejectsWith(store.grant(1.5), 'ERR_LEASE_BAD_TTL');
        await rejectsWith(store.grant(Number.NaN), 'ERR_LEASE_BAD_TTL');
        await rejectsWith(store.keepAlive('bad id with spaces'), 'ERR_LEASE_BAD_ID');
        await rejectsWith(store.keepAlive('job:1', -3), 'ERR_LEASE_BAD_TOKEN');
        assert.equal(await store.get('no-such-lease'), undefined);
        // Nothing else's lease was touched: job:1 still held with its token, job:2 not extended.
        assert.equal((await store.get('job:1'))?.token, a.token);
        const left = (await store.get('job:2'))?.remainingMs ?? 0;
        assert.ok(left <= 300 && left > 0, `job:2 has ${left} ms left of 300`);
        assert.equal((await store.get('job:2'))?.token, other.token);
      } finally {
        await store.close();
      }
    });

    test('keep-alive pushes the deadline back; without it the lease expires once, with an event', async () => {
      const store = await flavour.make();
      const events: { lease: ExpiredLease; at: number }[] = [];
      store.on('expired', (lease) => events.push({ lease, at: performance.now() }));
      try {
        const kept = await store.grant(200, { holder: 'kept' });
        const dropped = await store.grant(200, { holder: 'dropped', metadata: ['m'] });
        const droppedAt = performance.now();
        for (let i = 0; i < 10; i++) {
          await sleep(60);
          await store.keepAlive(kept.id, kept.token);
        }
        assert.ok(await store.get(kept.id), 'kept alive for 3 TTLs');
        assert.equal(await store.get(dropped.id), undefined);
        const ev = events.filter((e) => e.lease.id === dropped.id);
        assert.equal(ev.length, 1);
        assert.equal(ev[0]?.lease.holder, 'dropped');
        assert.deepEqual(ev[0]?.lease.metadata, ['m']);
        assert.equal(ev[0]?.lease.token, dropped.token);
        const late = (ev[0]?.at ?? 0) - droppedAt - 200;
        assert.ok(late > -15 && late < flavour.lateMs, `expired ${late.toFixed(1)} ms after its deadline`);
        assert.equal(events.filter((e) => e.lease.id === kept.id).length, 0);
      } finally {
        await store.close();
      }
    });

    test('a token mismatch says what the current token proves: never granted, or granted again since', async () => {
      const store = await flavour.make();
      try {
        const a = await store.grant(5_000, { id: 'job:m' });
        await assert.rejects(store.keepAlive('job:m', a.token + 1000), (e: Error) => {
          assert.match(e.message, /not held by token \d+: that token was never granted for this lease/);
          assert.doesNotMatch(e.message, /granted again/);
          assert.ok(!e.message.includes(String(a.token)) || String(a.token + 1000).includes(String(a.token)), 'the current token is not printed');
          return true;
        });
        await store.revoke('job:m', a.token);
        const b = await store.grant(5_000, { id: 'job:m' });
        await assert.rejects(store.keepAlive('job:m', a.token), (e: Error) => {
          assert.match(e.message, /not held by token \d+: it was granted again since/);
          assert.ok(!e.message.includes(`token ${b.token}`), 'the current token is not printed');
          return true;
        });
      } finally {
        await store.close();
      }
    });

    test('a revoked lease is gone at once, without an expired event; a re-grant gets a higher token', async () => {
      const store = await flavour.make();
      const expired: string[] = [];
      store.on('expired', (lease) => expired.push(lease.id));
      try {
        const a = await store.grant(100, { id: 'res' });
        const revoked = await store.revoke('res', a.token);
        assert.equal(revoked.token, a.token);
        assert.equal(await store.get('res'), undefined);
        const b = await store.grant(100, { id: 'res' });
        assert.ok(b.token > a.token);
        await rejectsWith(store.keepAlive('res', a.token), 'ERR_LEASE_TOKEN_MISMATCH');
        await sleep(100 + flavour.lateMs + 50);
        assert.deepEqual(expired, ['res']); // b's expiry only
        const c = await store.grant(100, { id: 'res' });
        assert.ok(c.token > b.token);
      } finally {
        await store.close();
      }
    });

    test('LeaseKeeper keeps a lease past three TTLs, says lost when it is taken, releases with its token', async () => {
      const store = await flavour.make();
      try {
        const keeper = await LeaseKeeper.acquire(store, 300, { id: 'kept-by-keeper', holder: 'me' });
        await sleep(1000);
        assert.equal(keeper.held, true);
        assert.ok(await store.get('kept-by-keeper'));
        const lost = new Promise<string>((resolve) => keeper.once('lost', resolve));
        await store.revoke('kept-by-keeper'); // an operator takes it away
        const t0 = performance.now();
        // The keeper's timers are unref'd (a keep-alive must not hold a process open): hold the
        // event loop with a ref'd timer while waiting for its verdict.
        const guard = setTimeout(() => undefined, 5_000);
        const verdict = await lost.finally(() => clearTimeout(guard));
        assert.equal(verdict, 'not-found');
        assert.ok(performance.now() - t0 < 300, 'noticed within one renewal period');
        assert.equal(keeper.held, false);

        const again = await LeaseKeeper.acquire(store, 300, { id: 'kept-by-keeper' });
        assert.ok(again.token > keeper.token);
        await again.release();
        assert.equal(await store.get('kept-by-keeper'), undefined);
      } finally {
        await store.close();
      }
    });
  });
}

describe('redis store: expiry events are not lost', { skip: redisSkip }, () => {
  const url = (redisTarget as { url: string }).url;

  test('leases that expire while no store sweeps are reported by the next one, each exactly once', async () => {
    const prefix = uniquePrefix('sweep');
    const granter = await RedisLeaseStore.connect({ url, prefix, sweep: false });
    const ids = new Set<string>();
    for (let i = 0; i < 200; i++) ids.add((await granter.grant(50, { holder: `h${i}` })).id);
    await granter.close();
    await sleep(150); // all expired, nobody sweeping

    const a = await RedisLeaseStore.connect({ url, prefix, sweepIntervalMs: 20, sweepBatch: 37 });
    const b = await RedisLeaseStore.connect({ url, prefix, sweepIntervalMs: 20, sweepBatch: 37 });
    const seen: string[] = [];
    for (const s of [a, b]) s.on('expired', (lease) => seen.push(lease.id));
    const until = performance.now() + 5000;
    while (seen.length < 200 && performance.now() < until) await sleep(20);
    await sleep(200); // and nothing more arrives
    await a.close();
    await b.close();
    assert.equal(seen.length, 200, 'every expiry reported');
    assert.equal(new Set(seen).size, 200, 'none twice');
    for (const id of seen) assert.ok(ids.has(id));
  });

  test('a named lease re-granted before the sweep reports its predecessor expiry first', async () => {
    const prefix = uniquePrefix('claim');
    const store = await RedisLeaseStore.connect({ url, prefix, sweep: false });
    const seen: ExpiredLease[] = [];
    store.on('expired', (lease) => seen.push(lease));
    const first = await store.grant(30, { id: 'x' });
    await sleep(80);
    const second = await store.grant(1000, { id: 'x' });
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.token, first.token);
    assert.ok(second.token > first.token);
    assert.ok((seen[0]?.lateMs ?? -1) >= 0);
    await store.close();
  });
});

test('RedisLeaseStore refuses a URL that is not redis:// or rediss://, naming both', () => {
  for (const url of ['http://x', 'x:6379', '//x', 'redis://']) {
    assert.throws(() => new RedisLeaseStore({ url }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ERR_INVALID_OPTION');
      assert.match(e.message, /redis:\/\/HOST.*rediss:\/\/HOST/);
      assert.ok(e.message.includes(`'${url}'`), e.message);
      return true;
    });
  }
});

test('RedisLeaseStore takes a caller\'s ioredis client (the structural RedisClient type) and leaves it open', { skip: redisSkip }, async () => {
  const client = new Redis((redisTarget as { url: string }).url);
  try {
    const store = new RedisLeaseStore({ redis: client, prefix: uniquePrefix('own-client') });
    await store.ping();
    const lease = await store.grant(5_000, { id: 'given-client' });
    assert.equal((await store.keepAlive('given-client', lease.token)).token, lease.token);
    await store.close();
    assert.equal(await client.ping(), 'PONG', 'the caller\'s client is still usable');
  } finally {
    client.disconnect();
  }
});
