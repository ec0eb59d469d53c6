/**
 * Memory store at scale: 1,000,000 leases granted and kept alive on a fake clock; every one
 * expires exactly once, no earlier than its deadline and no later than one wheel tick after it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../src/core/fake-clock.js';
import { MemoryLeaseStore } from '../src/lease/memory-lease-store.js';

const N = 1_000_000;
const TICK = 10;

test('1,000,000 leases: each expires within one wheel tick of its deadline', () => {
  const clock = new FakeClock(0);
  const store = new MemoryLeaseStore({ resolutionMs: TICK, clock, initialCapacity: 1 << 20 });
  const deadline = new Float64Array(N);
  const tokens = new Float64Array(N);
  const ttl = (i: number): number => 1_000 + ((i * 7919) % 4_000); // 1 s .. 5 s, spread
  const expiredAt = new Float64Array(N).fill(-1);
  let expiredCount = 0;
  let twice = 0;
  store.on('expired', (lease) => {
    const i = Number(lease.id.slice(1));
    if (expiredAt[i] !== -1) twice += 1;
    expiredAt[i] = clock.now();
    expiredCount += 1;
    assert.equal(lease.token, tokens[i]);
  });

  for (let i = 0; i < N; i++) {
    const lease = store.grantSync(ttl(i), { id: `l${i}` });
    tokens[i] = lease.token;
    deadline[i] = ttl(i);
  }
  assert.equal(store.size, N);

  // Keep every lease alive at 500 ms, half of them again at 900 ms (at tick boundaries, so the
  // wheel's tick time equals the clock's).
  clock.advance(500);
  for (let i = 0; i < N; i++) {
    store.keepAliveSync(`l${i}`, tokens[i]);
    deadline[i] = 500 + ttl(i);
  }
  clock.advance(400);
  for (let i = 0; i < N; i += 2) {
    store.keepAliveSync(`l${i}`, tokens[i]);
    deadline[i] = 900 + ttl(i);
  }
  assert.equal(expiredCount, 0, 'nothing expired while kept alive');

  for (let t = 900; t <= 900 + 5_000 + 2 * TICK; t += TICK) clock.advance(TICK);
  assert.equal(expiredCount, N);
  assert.equal(twice, 0);
  assert.equal(store.size, 0);
  let early = 0;
  let late = 0;
  let worst = 0;
  for (let i = 0; i < N; i++) {
    const lateness = (expiredAt[i] as number) - (deadline[i] as number);
    if (lateness < 0) early += 1;
    if (lateness > TICK) late += 1;
    worst = Math.max(worst, lateness);
  }
  assert.equal(early, 0, 'no lease expired before its deadline');
  assert.equal(late, 0, `no lease expired more than one tick late (worst ${worst} ms)`);
  void store.close();
  assert.equal(clock.pendingTimers, 0);
});
