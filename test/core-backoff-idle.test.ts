import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '../src/core/backoff.js';
import { FakeClock } from '../src/core/fake-clock.js';
import { IdleTimer } from '../src/core/idle-timer.js';
import type { Clock } from '../src/core/clock.js';

test('backoff ceilings grow by factor up to maxMs; delays are full jitter in [0, ceiling]', () => {
  const top = new Backoff({ initialMs: 100, maxMs: 1_000, factor: 2, random: () => 0.999999 });
  assert.deepEqual(Array.from({ length: 7 }, () => top.next()), [100, 200, 400, 800, 1_000, 1_000, 1_000]);
  top.reset();
  assert.equal(top.next(), 100);
  const bottom = new Backoff({ initialMs: 100, maxMs: 1_000, random: () => 0 });
  assert.deepEqual(Array.from({ length: 3 }, () => bottom.next()), [0, 0, 0]);
  const real = new Backoff({ initialMs: 50, maxMs: 400 });
  for (let i = 0; i < 1_000; i++) {
    const ceiling = real.ceilingMs;
    const delay = real.next();
    assert.ok(Number.isInteger(delay) && delay >= 0 && delay <= ceiling);
  }
});

test('backoff rejects bad options by name', () => {
  assert.throws(() => new Backoff({ initialMs: 0 }), /Backoff\.initialMs must be an integer from 1/);
  assert.throws(() => new Backoff({ initialMs: 500, maxMs: 100 }), /Backoff\.maxMs must be an integer from 500 .*at least initialMs/);
  assert.throws(() => new Backoff({ factor: 0.5 }), /Backoff\.factor must be a number from 1 to 100/);
  assert.throws(() => new Backoff({ jitter: true } as never), /Backoff\.jitter is not a known option/);
});

test('IdleTimer: a thousand touches cost no timer re-arms, and expiry follows the last touch', () => {
  const fake = new FakeClock();
  let armed = 0;
  const clock: Clock = { now: () => fake.now(), setTimer: (cb, ms) => (armed++, fake.setTimer(cb, ms)) };
  let expiredAt = -1;
  const idle = new IdleTimer({ timeoutMs: 1_000, clock, onExpire: () => (expiredAt = fake.now()) }).start();
  for (let i = 0; i < 1_000; i++) {
    fake.advance(5);
    idle.touch();
  }
  assert.ok(armed <= 6, `armed ${armed} timers for 1000 touches over 5 s`);
  assert.equal(expiredAt, -1);
  fake.advance(1_000);
  assert.equal(expiredAt, 6_000);
  assert.equal(idle.running, false);
  idle.start();
  idle.stop();
  assert.equal(fake.pendingTimers, 0);
  assert.throws(() => new IdleTimer({ timeoutMs: -1, onExpire: () => undefined }), /IdleTimer\.timeoutMs/);
});
