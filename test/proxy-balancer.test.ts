import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../src/core/fake-clock.js';
import { InvalidOptionError } from '../src/core/errors.js';
import { BALANCER_KINDS, createBalancer, createEndpoint, LatencyEwma } from '../src/proxy/balancer/index.js';
import type { Balancer, UpstreamEndpoint } from '../src/proxy/balancer/index.js';
import { seeded } from './helpers/seeded-random.js';

function endpoints(...weights: number[]): UpstreamEndpoint[] {
  return weights.map((weight, i) => createEndpoint(`10.0.0.${i + 1}:80`, { weight }));
}

function countPicks(balancer: Balancer, eps: readonly UpstreamEndpoint[], n: number): Map<string, number> {
  const counts = new Map<string, number>(eps.map((e) => [e.key, 0]));
  for (let i = 0; i < n; i++) {
    const e = balancer.pick(eps);
    assert.ok(e !== undefined);
    counts.set(e.key, (counts.get(e.key) ?? 0) + 1);
  }
  return counts;
}

function assertShares(counts: Map<string, number>, eps: readonly UpstreamEndpoint[], tolerance: number, label: string): void {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const weightSum = eps.reduce((a, e) => a + e.weight, 0);
  for (const e of eps) {
    const share = (counts.get(e.key) ?? 0) / total;
    const want = e.weight / weightSum;
    assert.ok(Math.abs(share - want) <= tolerance, `${label}: ${e.key} (weight ${e.weight}) got share ${share.toFixed(4)}, want ${want.toFixed(4)} ± ${tolerance}`);
  }
}

/**
 * Closed-loop load on a fake clock: `concurrency` clients each send a request, wait the
 * endpoint's latency, record it, and send the next, until `total` picks.
 */
function simulate(balancer: Balancer, eps: UpstreamEndpoint[], opts: { concurrency: number; total: number; latencyMs: (e: UpstreamEndpoint) => number; clock: FakeClock; ewma: LatencyEwma }): Map<string, number> {
  const counts = new Map<string, number>(eps.map((e) => [e.key, 0]));
  let sent = 0;
  const send = (): void => {
    if (sent >= opts.total) return;
    sent += 1;
    const e = balancer.pick(eps);
    assert.ok(e !== undefined);
    counts.set(e.key, (counts.get(e.key) ?? 0) + 1);
    e.activeRequests += 1;
    const ms = opts.latencyMs(e);
    opts.clock.setTimer(() => {
      e.activeRequests -= 1;
      opts.ewma.record(e, ms);
      send();
    }, ms);
  };
  for (let i = 0; i < opts.concurrency; i++) send();
  while (sent < opts.total || eps.some((e) => e.activeRequests > 0)) opts.clock.advance(1);
  return counts;
}

test('round robin is nginx smooth weighted round robin: weights 5,1,1 give a a b a c a a', () => {
  const eps = endpoints(5, 1, 1);
  const rr = createBalancer('round-robin');
  const names = Array.from({ length: 14 }, () => {
    const e = rr.pick(eps);
    return e === undefined ? '-' : 'abc'[eps.indexOf(e)];
  }).join('');
  assert.equal(names, 'aabacaaaabacaa');
});

test('round robin: 10,000 picks split exactly by weight (within 1 pick)', () => {
  const eps = endpoints(1, 2, 3, 4);
  const counts = countPicks(createBalancer('round-robin'), eps, 10_000);
  assert.deepEqual([...counts.values()], [1_000, 2_000, 3_000, 4_000]);
  const equal = endpoints(1, 1, 1);
  const c2 = countPicks(createBalancer('round-robin'), equal, 9_999);
  assert.deepEqual([...c2.values()], [3_333, 3_333, 3_333]);
});

test('every kind: unavailable endpoints are never picked; none available gives undefined', () => {
  for (const kind of BALANCER_KINDS) {
    const eps = endpoints(1, 5, 1);
    const middle = eps[1] as UpstreamEndpoint;
    middle.available = false;
    const b = createBalancer(kind, { random: seeded(1), latency: new LatencyEwma({ clock: new FakeClock() }) });
    const counts = countPicks(b, eps, 10_000);
    assert.equal(counts.get(middle.key), 0, `${kind}: an unavailable endpoint was picked`);
    assertShares(new Map([...counts].filter(([k]) => k !== middle.key)), [eps[0] as UpstreamEndpoint, eps[2] as UpstreamEndpoint], 0.02, kind);
    for (const e of eps) e.available = false;
    assert.equal(b.pick(eps), undefined, `${kind}: nothing available`);
    assert.equal(b.pick([]), undefined, `${kind}: empty list`);
    // weight <= 0 set by the engine at run time is treated like unavailable
    const zero = endpoints(1, 1);
    (zero[0] as UpstreamEndpoint).weight = 0;
    for (let i = 0; i < 100; i++) assert.equal(b.pick(zero), zero[1], `${kind}: weight 0 picked`);
  }
});

test('every kind: an endpoint that comes back is picked again; a fresh array keeps the rotation going', () => {
  for (const kind of BALANCER_KINDS) {
    const eps = endpoints(1, 1);
    const [a, b] = eps as [UpstreamEndpoint, UpstreamEndpoint];
    const bal = createBalancer(kind, { random: seeded(2), latency: new LatencyEwma({ clock: new FakeClock() }) });
    a.available = false;
    for (let i = 0; i < 50; i++) assert.equal(bal.pick(eps), b);
    a.available = true;
    const counts = countPicks(bal, [...eps], 1_000);
    assert.ok((counts.get(a.key) ?? 0) > 400, `${kind}: returned endpoint got ${counts.get(a.key)} of 1000`);
  }
});

test('every kind: `avoid` is skipped unless it is the only choice', () => {
  for (const kind of BALANCER_KINDS) {
    const eps = endpoints(1, 1, 1);
    const [a, b, c] = eps as [UpstreamEndpoint, UpstreamEndpoint, UpstreamEndpoint];
    const bal = createBalancer(kind, { random: seeded(3), latency: new LatencyEwma({ clock: new FakeClock() }) });
    for (let i = 0; i < 300; i++) assert.notEqual(bal.pick(eps, a), a, kind);
    b.available = false;
    c.available = false;
    assert.equal(bal.pick(eps, a), a, `${kind}: the avoided endpoint is the only one left`);
    a.available = false;
    assert.equal(bal.pick(eps, a), undefined, kind);
    assert.equal(bal.pick([b], a), undefined, `${kind}: avoid outside the list is never returned`);
  }
});

test('least connections prefers the idle endpoint, by active / weight', () => {
  const eps = endpoints(1, 1, 1);
  const [a, b, c] = eps as [UpstreamEndpoint, UpstreamEndpoint, UpstreamEndpoint];
  const lc = createBalancer('least-connections');
  a.activeRequests = 5;
  b.activeRequests = 0;
  c.activeRequests = 3;
  for (let i = 0; i < 10; i++) assert.equal(lc.pick(eps), b);
  // weight 4 with 7 active (1.75 per weight) beats weight 1 with 2 active
  const heavy = createEndpoint('h:80', { weight: 4 });
  heavy.activeRequests = 7;
  const light = createEndpoint('l:80', { weight: 1 });
  light.activeRequests = 2;
  assert.equal(lc.pick([light, heavy]), heavy);
  // ties rotate: all idle -> a, b, c in turn
  a.activeRequests = 0;
  c.activeRequests = 0;
  const seen = new Set([lc.pick(eps), lc.pick(eps), lc.pick(eps)]);
  assert.equal(seen.size, 3, 'three idle endpoints with equal weight are each picked once in three picks');
});

test('least connections honours weights at concurrency 1 (ties) and under load (within 2 %)', () => {
  const eps1 = endpoints(1, 2, 3, 4);
  const sequential = countPicks(createBalancer('least-connections'), eps1, 10_000);
  assert.deepEqual([...sequential.values()], [1_000, 2_000, 3_000, 4_000], 'all idle: weighted rotation, exact');

  const clock = new FakeClock();
  const ewma = new LatencyEwma({ clock });
  const eps = endpoints(1, 2, 3, 4);
  const counts = simulate(createBalancer('least-connections'), eps, { concurrency: 40, total: 10_000, latencyMs: () => 10, clock, ewma });
  assertShares(counts, eps, 0.02, 'least-connections under load');
});

test('p2c-ewma: equal latencies give traffic proportional to weight (within 2 %), deterministic with a seeded random', () => {
  const run = (): Map<string, number> => {
    const clock = new FakeClock();
    const ewma = new LatencyEwma({ clock });
    const eps = endpoints(1, 2, 3, 4);
    for (const e of eps) ewma.record(e, 10);
    return countPicks(createBalancer('p2c-ewma', { random: seeded(42), latency: ewma }), eps, 10_000);
  };
  const first = run();
  assertShares(first, endpoints(1, 2, 3, 4), 0.02, 'p2c equal latency');
  assert.deepEqual([...run()], [...first], 'same seed, same picks');
});

test('p2c-ewma prefers the faster endpoint under load but does not starve the slower one', () => {
  const clock = new FakeClock();
  const ewma = new LatencyEwma({ clock, halfLifeMs: 1_000 });
  const eps = endpoints(1, 1);
  const [fast, slow] = eps as [UpstreamEndpoint, UpstreamEndpoint];
  const counts = simulate(createBalancer('p2c-ewma', { random: seeded(7), latency: ewma }), eps, {
    concurrency: 20,
    total: 10_000,
    latencyMs: (e) => (e === fast ? 10 : 40),
    clock,
    ewma,
  });
  const fastShare = (counts.get(fast.key) ?? 0) / 10_000;
  const slowShare = (counts.get(slow.key) ?? 0) / 10_000;
  assert.ok(fastShare > 0.7, `fast share ${fastShare}`);
  // Latency-optimal routing gives the 4x slower endpoint little (6 % with this seed), but never nothing.
  assert.ok(slowShare > 0.02, `slow share ${slowShare}: the slower endpoint is starved`);
});

test('p2c-ewma at concurrency 1: a slow endpoint is retried after its EWMA decays, and is picked again once it is fast', () => {
  const clock = new FakeClock();
  const ewma = new LatencyEwma({ clock, halfLifeMs: 1_000 });
  const eps = endpoints(1, 1);
  const [fast, slow] = eps as [UpstreamEndpoint, UpstreamEndpoint];
  let slowMs = 50;
  const counts = simulate(createBalancer('p2c-ewma', { random: seeded(9), latency: ewma }), eps, {
    concurrency: 1,
    total: 2_000,
    latencyMs: (e) => (e === fast ? 10 : slowMs),
    clock,
    ewma,
  });
  const slowPicks = counts.get(slow.key) ?? 0;
  assert.ok(slowPicks >= 3 && slowPicks < 200, `slow endpoint probed ${slowPicks} times in 2000 sequential requests`);
  slowMs = 5; // the slow one recovers and is now the faster
  const after = simulate(createBalancer('p2c-ewma', { random: seeded(10), latency: ewma }), eps, {
    concurrency: 1,
    total: 2_000,
    latencyMs: (e) => (e === fast ? 10 : slowMs),
    clock,
    ewma,
  });
  assert.ok((after.get(slow.key) ?? 0) > 1_500, `recovered endpoint got ${after.get(slow.key)} of 2000`);
});

test('p2c-ewma: an endpoint with no latency sample gets one request at a time until it answers', () => {
  const clock = new FakeClock();
  const ewma = new LatencyEwma({ clock });
  const eps = endpoints(1, 1);
  const [old, fresh] = eps as [UpstreamEndpoint, UpstreamEndpoint];
  ewma.record(old, 20);
  const p2c = createBalancer('p2c-ewma', { random: seeded(5), latency: ewma });
  for (let i = 0; i < 50; i++) {
    const e = p2c.pick(eps);
    assert.ok(e !== undefined);
    e.activeRequests += 1;
  }
  assert.equal(fresh.activeRequests, 1, 'the new endpoint got exactly one of 50 concurrent requests');
});

test('LatencyEwma: peaks jump up at once, lower samples pull down by half-life, idle values decay toward 0', () => {
  const clock = new FakeClock(1_000);
  const ewma = new LatencyEwma({ clock, halfLifeMs: 100 });
  const e = createEndpoint('x:1');
  assert.equal(ewma.read(e), 0);
  ewma.record(e, 10);
  assert.equal(ewma.read(e), 10);
  ewma.record(e, 80);
  assert.equal(ewma.read(e), 80, 'a higher sample replaces the value');
  clock.advance(100);
  assert.ok(Math.abs(ewma.read(e) - 40) < 1e-9, 'one half-life without samples halves it');
  ewma.record(e, 20);
  assert.ok(Math.abs(e.latencyEwmaMs - 50) < 1e-9, 'a lower sample after one half-life weighs 1/2');
  ewma.record(e, 30 - 1); // just below, same instant: weight 0 for the sample
  assert.ok(Math.abs(e.latencyEwmaMs - 50) < 1e-9);
  ewma.record(e, -1);
  ewma.record(e, Number.NaN);
  assert.ok(Math.abs(e.latencyEwmaMs - 50) < 1e-9, 'bad samples are ignored');
});

test('options are checked and the bad one is named', () => {
  assert.throws(() => createEndpoint('a:1', { weight: 0 }), (err: unknown) => err instanceof InvalidOptionError && err.option === 'createEndpoint.weight');
  assert.throws(() => createEndpoint('a:1', { weight: 1.5 }), InvalidOptionError);
  assert.throws(() => createEndpoint(''), InvalidOptionError);
  assert.throws(() => createBalancer('random' as 'round-robin'), /must be one of "round-robin"/);
  assert.throws(() => createBalancer('round-robin', { rnd: Math.random } as never), /createBalancer.rnd is not a known option/);
  assert.throws(() => new LatencyEwma({ halfLifeMs: 0 }), /LatencyEwma.halfLifeMs must be an integer from 1/);
});
