/**
 * LeaseKeeper's timing rules on a fake clock: renewals at TTL x renewFraction; `lost` at the safe
 * deadline (last acknowledged send + TTL - margin), so before the server can have expired the
 * lease; at once when the store says the lease is gone; no timer left after release or loss.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../src/core/fake-clock.js';
import { LeaseKeeper } from '../src/lease/lease-keeper.js';
import { MemoryLeaseStore } from '../src/lease/memory-lease-store.js';
import { LeaseNotFoundError } from '../src/lease/lease-errors.js';
import type { Lease } from '../src/lease/lease-store.js';

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

/** A store whose keep-alives can be made to hang (an outage) or fail. */
class ScriptedStore {
  mode: 'ok' | 'hang' | 'gone' = 'ok';
  keepAlives: number[] = [];
  revoked = 0;
  constructor(readonly clock: FakeClock) {}
  grant(ttlMs: number): Promise<Lease> {
    return Promise.resolve({ id: 'x', token: 1, ttlMs, remainingMs: ttlMs, generatedId: true });
  }
  keepAlive(): Promise<Lease> {
    this.keepAlives.push(this.clock.now());
    if (this.mode === 'hang') return new Promise(() => {});
    if (this.mode === 'gone') return Promise.reject(new LeaseNotFoundError('x'));
    return Promise.resolve({ id: 'x', token: 1, ttlMs: 3000, remainingMs: 3000, generatedId: true });
  }
  revoke(): Promise<Lease> {
    this.revoked += 1;
    return Promise.resolve({ id: 'x', token: 1, ttlMs: 3000, remainingMs: 0, generatedId: true });
  }
  get(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  on(): this {
    return this;
  }
  off(): this {
    return this;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

async function advance(clock: FakeClock, ms: number, step = 10): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    await flush();
  }
}

test('renews every TTL/3; when acknowledgements stop, lost comes at the safe deadline, before the TTL', async () => {
  const clock = new FakeClock(1000);
  const store = new ScriptedStore(clock);
  const keeper = await LeaseKeeper.acquire(store, 3000, { clock });
  assert.equal(keeper.renewMs, 1000);
  assert.equal(keeper.marginMs, 300);
  await advance(clock, 3000);
  assert.deepEqual(store.keepAlives, [2000, 3000, 4000]);
  assert.equal(keeper.safeDeadline, 4000 + 3000 - 300);
  store.mode = 'hang';
  let lostAt = -1;
  keeper.on('lost', (reason) => {
    assert.equal(reason, 'deadline');
    lostAt = clock.now();
  });
  await advance(clock, 4000);
  // last acknowledged keep-alive was sent at 4000: the server holds the lease until at least 7000
  assert.equal(lostAt, 6700);
  assert.ok(lostAt < 4000 + 3000);
  assert.equal(keeper.held, false);
  assert.equal(clock.pendingTimers, 0, 'no timer left after loss');
});

test('lost at once when the store says the lease is gone; release leaves no timer', async () => {
  const clock = new FakeClock(0);
  const store = new ScriptedStore(clock);
  const keeper = await LeaseKeeper.acquire(store, 3000, { clock });
  store.mode = 'gone';
  const reasons: string[] = [];
  keeper.on('lost', (r) => reasons.push(r));
  await advance(clock, 1000);
  assert.deepEqual(reasons, ['not-found']);
  assert.equal(clock.pendingTimers, 0);

  const again = await LeaseKeeper.acquire(store, 3000, { clock });
  store.mode = 'ok';
  await advance(clock, 1500);
  await again.release();
  assert.equal(store.revoked, 1);
  assert.equal(clock.pendingTimers, 0, 'no timer left after release');
});

test('with the memory store on the same fake clock: kept for 10 TTLs, then released', async () => {
  const clock = new FakeClock(0);
  const store = new MemoryLeaseStore({ clock, resolutionMs: 10 });
  const keeper = await LeaseKeeper.acquire(store, 1000, { id: 'job', clock });
  await advance(clock, 10_000);
  assert.equal(keeper.held, true);
  assert.ok(store.getSync('job'));
  await keeper.release();
  assert.equal(store.getSync('job'), undefined);
  await store.close();
  assert.equal(clock.pendingTimers, 0);
});

test('options are checked by name', async () => {
  const store = new MemoryLeaseStore();
  await assert.rejects(LeaseKeeper.acquire(store, 1000, { marginMs: 600 }), /LeaseKeeper.marginMs must be an integer from 0 to 500/);
  await assert.rejects(LeaseKeeper.acquire(store, 1000, { renewFraction: 0.9 }), /LeaseKeeper.renewFraction must be a number from 0.05 to 0.5/);
  assert.equal(store.size, 0, 'the lease granted for bad options was given back');
  await store.close();
});
