import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../src/core/fake-clock.js';
import { Heartbeat } from '../src/core/heartbeat.js';
import type { HeartbeatState } from '../src/core/heartbeat.js';

function setup(extra: Partial<ConstructorParameters<typeof Heartbeat>[0]> = {}) {
  const clock = new FakeClock();
  const pings: number[] = [];
  const states: string[] = [];
  const hb = new Heartbeat({ intervalMs: 1_000, timeoutMs: 300, missedLimit: 3, clock, sendPing: () => pings.push(clock.now()), ...extra });
  hb.on('state', (s: HeartbeatState, p: HeartbeatState) => states.push(`${p}->${s}`));
  return { clock, pings, states, hb };
}

test('pings only after intervalMs of silence; any inbound traffic postpones the ping', () => {
  const { clock, pings, hb } = setup();
  hb.start();
  for (let i = 0; i < 10; i++) {
    clock.advance(900);
    hb.received();
  }
  assert.deepEqual(pings, [], 'traffic every 900 ms with a 1000 ms interval: no ping');
  clock.advance(1_000);
  assert.deepEqual(pings, [10_000]);
  hb.close();
});

test('a silent peer is dead exactly at intervalMs + missedLimit x timeoutMs, via suspect', () => {
  const { clock, pings, states, hb } = setup();
  let deadAt = -1;
  hb.on('dead', () => (deadAt = clock.now()));
  hb.start();
  clock.advance(10_000);
  assert.equal(deadAt, 1_000 + 3 * 300);
  assert.deepEqual(pings, [1_000, 1_300, 1_600], 'each missed ping is followed at once by the next');
  assert.deepEqual(states, ['alive->suspect', 'suspect->dead']);
  assert.equal(hb.state, 'dead');
  assert.equal(clock.pendingTimers, 0, 'a dead heartbeat holds no timer');
});

test('a pong brings a suspect peer back, records the RTT and resets the miss count', () => {
  const { clock, pings, states, hb } = setup();
  hb.start();
  clock.advance(1_300); // first ping at 1000 missed at 1300, second ping sent at 1300
  assert.equal(hb.state, 'suspect');
  assert.equal(hb.missed, 1);
  clock.advance(120);
  hb.pong();
  assert.equal(hb.rttMs, 120);
  assert.equal(hb.state, 'alive');
  clock.advance(300);
  assert.equal(hb.missed, 0);
  assert.deepEqual(states, ['alive->suspect', 'suspect->alive']);
  // next ping 1000 ms after the pong
  clock.advance(1_000 - 300 - 1);
  assert.equal(pings.length, 2);
  clock.advance(1);
  assert.equal(pings.length, 3);
  hb.close();
  assert.equal(clock.pendingTimers, 0);
});

test('jitter only shortens the interval, so the dead bound holds', () => {
  for (const r of [0, 0.5, 0.999]) {
    const { clock, pings, hb } = setup({ jitter: 0.2, random: () => r });
    let deadAt = -1;
    hb.on('dead', () => (deadAt = clock.now()));
    hb.start();
    clock.advance(5_000);
    const first = pings[0] ?? -1;
    assert.ok(first <= 1_000 && first >= 800, `first ping at ${first}`);
    assert.ok(deadAt <= 1_000 + 3 * 300, `dead at ${deadAt}`);
  }
});

test('a throwing sendPing is reported and the ping still counts', () => {
  const errors: unknown[] = [];
  const { clock, hb } = setup({
    sendPing: () => {
      throw new Error('socket gone');
    },
    onError: (e) => errors.push(e),
  });
  hb.start();
  clock.advance(2_000);
  assert.equal(hb.state, 'dead');
  assert.equal(errors.length, 3);
});

test('bad options name the option', () => {
  const ok = { intervalMs: 1_000, timeoutMs: 100, sendPing: () => undefined };
  assert.throws(() => new Heartbeat({ ...ok, intervalMs: 0 }), /Heartbeat\.intervalMs must be an integer from 1/);
  assert.throws(() => new Heartbeat({ ...ok, timeoutMs: Number.NaN }), /Heartbeat\.timeoutMs.*got NaN/);
  assert.throws(() => new Heartbeat({ ...ok, missedLimit: 0 }), /Heartbeat\.missedLimit/);
  assert.throws(() => new Heartbeat({ ...ok, jitter: 2 }), /Heartbeat\.jitter must be a number from 0 to 1/);
  assert.throws(() => new Heartbeat({ intervalMs: 1, timeoutMs: 1 } as never), /Heartbeat\.sendPing is required/);
  assert.throws(() => new Heartbeat({ ...ok, interval: 5 } as never), /Heartbeat\.interval is not a known option/);
});
