import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../src/core/fake-clock.js';
import { ClosedError, InvalidOptionError } from '../src/core/errors.js';
import { ActiveHealthChecker, OutlierDetector } from '../src/proxy/health/index.js';
import type { ActiveHealthCheckerOptions, HealthCheckResult } from '../src/proxy/health/index.js';

/** Let settled probe promises run their callbacks (microtasks only, no real time passes). */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

/** Advance the fake clock 1 ms at a time, letting probe results land between steps. */
async function run(clock: FakeClock, ms: number): Promise<void> {
  for (let i = 0; i < ms; i++) {
    clock.advance(1);
    await flush();
  }
}

type Behaviour = number | 'hang' | 'throw' | 'reject' | { afterMs: number; status: number };

function setup(extra: Partial<ActiveHealthCheckerOptions> = {}) {
  const clock = new FakeClock();
  const behaviour = new Map<string, Behaviour>();
  const probes: Array<{ key: string; at: number; signal: AbortSignal }> = [];
  const events: string[] = [];
  const checks: HealthCheckResult[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const checker = new ActiveHealthChecker({
    intervalMs: 1_000,
    timeoutMs: 200,
    rise: 2,
    fall: 3,
    clock,
    random: () => 0,
    probe: (key, signal) => {
      probes.push({ key, at: clock.now(), signal });
      const b = behaviour.get(key) ?? 200;
      if (b === 'throw') throw new Error('probe threw');
      if (b === 'reject') return Promise.reject(new Error('ECONNREFUSED'));
      if (b === 'hang') return new Promise<number>(() => {});
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const afterMs = typeof b === 'number' ? 0 : b.afterMs;
      const status = typeof b === 'number' ? b : b.status;
      if (afterMs === 0) {
        inFlight -= 1;
        return Promise.resolve(status);
      }
      return new Promise<number>((resolve) => clock.setTimer(() => { inFlight -= 1; resolve(status); }, afterMs));
    },
    ...extra,
  });
  checker.on('up', (key) => events.push(`up ${key} @${clock.now()}`));
  checker.on('down', (key) => events.push(`down ${key} @${clock.now()}`));
  checker.on('check', (r) => checks.push(r));
  return { clock, checker, behaviour, probes, events, checks, maxInFlight: () => maxInFlight };
}

test('endpoints start healthy; a failing one goes down after exactly `fall` checks, at interval x (fall - 1) after the first', async () => {
  const { clock, checker, behaviour, probes, events } = setup();
  behaviour.set('b:80', 503);
  checker.add('a:80');
  checker.add('b:80');
  assert.equal(checker.isHealthy('a:80'), true);
  assert.equal(checker.isHealthy('b:80'), true, 'healthy at start, before any check');
  await flush();
  await run(clock, 1_999);
  assert.equal(checker.isHealthy('b:80'), true, 'two failures are not enough with fall 3');
  await run(clock, 1);
  assert.equal(checker.isHealthy('b:80'), false);
  assert.deepEqual(events, ['down b:80 @2000'], 'down at the third check: first at 0 (jitter 0), then 1000, 2000');
  assert.ok(clock.now() <= 3 * checker.intervalMs, 'within interval x fall');
  assert.deepEqual(probes.filter((p) => p.key === 'b:80').map((p) => p.at), [0, 1_000, 2_000]);
  assert.equal(checker.isHealthy('a:80'), true);
  checker.close();
});

test('a down endpoint comes back after exactly `rise` successes', async () => {
  const { clock, checker, behaviour, events } = setup();
  behaviour.set('b:80', 500);
  checker.add('b:80');
  await flush();
  await run(clock, 2_000);
  assert.equal(checker.isHealthy('b:80'), false);
  behaviour.set('b:80', 200);
  await run(clock, 1_000); // one success at 3000
  assert.equal(checker.isHealthy('b:80'), false, 'one success is not enough with rise 2');
  await run(clock, 1_000); // second success at 4000
  assert.equal(checker.isHealthy('b:80'), true);
  assert.deepEqual(events, ['down b:80 @2000', 'up b:80 @4000']);
  checker.close();
});

test('a success in between resets the failure count (failures must be in a row)', async () => {
  const { clock, checker, behaviour } = setup();
  const sequence: Behaviour[] = [500, 500, 200, 500, 500, 200];
  let i = 0;
  checker.add('a:80');
  behaviour.set('a:80', sequence[0] as Behaviour);
  checker.on('check', () => behaviour.set('a:80', sequence[++i] ?? 200));
  await flush();
  await run(clock, 6_000);
  assert.equal(checker.isHealthy('a:80'), true);
  checker.close();
});

test('a probe that exceeds timeoutMs is a failure, its signal is aborted, and the schedule keeps its rate', async () => {
  const { clock, checker, behaviour, probes, checks, events } = setup();
  behaviour.set('a:80', { afterMs: 500, status: 200 }); // slower than timeoutMs 200
  checker.add('a:80');
  await flush();
  await run(clock, 2_200);
  assert.equal(checker.isHealthy('a:80'), false);
  assert.deepEqual(events, ['down a:80 @2200'], 'three timeouts: at 200, 1200, 2200');
  assert.deepEqual(probes.map((p) => p.at), [0, 1_000, 2_000]);
  assert.ok(probes.every((p) => p.signal.aborted), 'every timed-out probe was aborted');
  assert.deepEqual(checks.map((c) => c.failure), ['timeout', 'timeout', 'timeout']);
  assert.ok(checks.every((c) => c.durationMs === 200));
  checker.close();
});

test('a probe that throws, rejects or returns an unexpected status is a failure; expectStatus decides', async () => {
  for (const b of ['throw', 'reject', 404] as const) {
    const { clock, checker, behaviour, checks } = setup();
    behaviour.set('a:80', b);
    checker.add('a:80');
    await flush();
    await run(clock, 2_000);
    assert.equal(checker.isHealthy('a:80'), false, String(b));
    assert.equal(checks[0]?.failure, b === 404 ? 'status' : 'error');
    checker.close();
  }
  const { clock, checker, behaviour } = setup({ expectStatus: (s) => s === 404 });
  behaviour.set('a:80', 404);
  checker.add('a:80');
  await flush();
  await run(clock, 5_000);
  assert.equal(checker.isHealthy('a:80'), true, '404 expected, so healthy');
  checker.close();
});

test('probes of one endpoint never overlap; a hung probe counts a failure per missed interval', async () => {
  const slow = setup({ timeoutMs: 1_000, intervalMs: 1_000 });
  slow.behaviour.set('a:80', { afterMs: 999, status: 200 });
  slow.checker.add('a:80');
  await flush();
  await run(slow.clock, 10_000);
  assert.equal(slow.maxInFlight(), 1, 'one probe at a time');
  assert.equal(slow.checker.isHealthy('a:80'), true);
  slow.checker.close();

  const hung = setup();
  hung.behaviour.set('a:80', 'hang');
  hung.checker.add('a:80');
  await flush();
  await run(hung.clock, 2_000);
  assert.equal(hung.probes.length, 1, 'no second probe while the first never settled');
  assert.deepEqual(hung.checks.map((c) => c.failure), ['timeout', 'hung', 'hung']);
  assert.equal(hung.checker.isHealthy('a:80'), false, 'down after fall intervals even though the probe hangs');
  hung.checker.close();
});

test('the first check is jittered within one interval', async () => {
  const { clock, checker, probes } = setup({ random: () => 0.75 });
  checker.add('a:80');
  await flush();
  await run(clock, 3_000);
  assert.deepEqual(probes.map((p) => p.at), [750, 1_750, 2_750]);
  checker.close();
});

test('remove() stops probing that endpoint; close() leaves no timer and aborts running probes', async () => {
  const { clock, checker, behaviour, probes } = setup();
  behaviour.set('b:80', { afterMs: 100, status: 200 });
  checker.add('a:80');
  checker.add('b:80');
  await flush();
  await run(clock, 1_500);
  checker.remove('a:80');
  assert.equal(checker.isHealthy('a:80'), false, 'unknown after removal');
  const before = probes.filter((p) => p.key === 'a:80').length;
  await run(clock, 5_000);
  assert.equal(probes.filter((p) => p.key === 'a:80').length, before, 'no probe after remove()');
  assert.ok(probes.filter((p) => p.key === 'b:80').length > before);
  // close while b's probe (started at 7000, 100 ms long) is running
  assert.equal(clock.now(), 6_500);
  await run(clock, 550);
  assert.equal(probes.at(-1)?.at, 7_000);
  checker.close();
  assert.ok(probes.at(-1)?.signal.aborted, 'the running probe was aborted');
  assert.equal(clock.pendingTimers, 1, 'only the fake backend\'s own timer is left');
  clock.advance(100);
  await flush();
  assert.equal(clock.pendingTimers, 0, 'no timer left after close()');
  assert.throws(() => checker.add('c:80'), ClosedError);
  checker.close();
});

test('checker options are checked by name', () => {
  const probe = (): Promise<number> => Promise.resolve(200);
  assert.throws(() => new ActiveHealthChecker({ intervalMs: 0, timeoutMs: 1, probe }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'ActiveHealthChecker.intervalMs');
  assert.throws(() => new ActiveHealthChecker({ intervalMs: 1, timeoutMs: 1, probe, fall: 0 }), /ActiveHealthChecker.fall/);
  assert.throws(() => new ActiveHealthChecker({ intervalMs: 1, timeoutMs: 1 } as ActiveHealthCheckerOptions), /ActiveHealthChecker.probe is required/);
  assert.throws(() => new ActiveHealthChecker({ intervalMs: 1, timeoutMs: 1, probe, interval: 5 } as ActiveHealthCheckerOptions), /ActiveHealthChecker.interval is not a known option/);
});

function outliers(extra: ConstructorParameters<typeof OutlierDetector>[0] = {}, keys = ['a:80', 'b:80', 'c:80', 'd:80', 'e:80']) {
  const clock = new FakeClock();
  const detector = new OutlierDetector({ consecutive5xx: 3, consecutiveConnectFailures: 2, baseEjectionMs: 1_000, maxEjectionMs: 5_000, maxEjectionPercent: 50, clock, ...extra });
  const events: string[] = [];
  detector.on('eject', (key, count, ms, cause) => events.push(`eject ${key} #${count} ${ms}ms ${cause} @${clock.now()}`));
  detector.on('return', (key, count, ms) => events.push(`return ${key} #${count} ${ms}ms @${clock.now()}`));
  detector.on('overflow', (key, cause) => events.push(`overflow ${key} ${cause}`));
  for (const k of keys) detector.add(k);
  return { clock, detector, events };
}

test('outlier: consecutive 5xx eject for baseEjectionMs, then the endpoint returns by itself', () => {
  const { clock, detector, events } = outliers();
  detector.record('a:80', '5xx');
  detector.record('a:80', '5xx');
  assert.equal(detector.isEjected('a:80'), false);
  detector.record('a:80', '5xx');
  assert.equal(detector.isEjected('a:80'), true);
  detector.record('a:80', 'success'); // in-flight results while ejected are ignored
  clock.advance(999);
  assert.equal(detector.isEjected('a:80'), true);
  clock.advance(1);
  assert.equal(detector.isEjected('a:80'), false);
  assert.deepEqual(events, ['eject a:80 #1 1000ms 5xx @0', 'return a:80 #1 1000ms @1000']);
  assert.equal(clock.pendingTimers, 0);
  detector.close();
});

test('outlier: a success breaks the streak; a 5xx breaks the connect streak but not the reverse', () => {
  const { detector } = outliers();
  for (const o of ['5xx', '5xx', 'success', '5xx', '5xx'] as const) detector.record('a:80', o);
  assert.equal(detector.isEjected('a:80'), false, 'success in between');
  for (const o of ['connect-failure', '5xx', 'reset'] as const) detector.record('b:80', o);
  assert.equal(detector.isEjected('b:80'), false, '5xx in between connect failures: reachable');
  for (const o of ['5xx', '5xx', 'connect-failure', '5xx'] as const) detector.record('c:80', o);
  assert.equal(detector.isEjected('c:80'), true, 'a connect failure does not reset the 5xx streak');
  detector.record('d:80', 'reset');
  detector.record('d:80', 'connect-failure');
  assert.equal(detector.isEjected('d:80'), true, 'resets and connect failures share a streak');
  detector.close();
});

test('outlier: each ejection lasts base x count, capped at maxEjectionMs', () => {
  const { clock, detector, events } = outliers();
  const eject = (): void => {
    detector.record('a:80', 'connect-failure');
    detector.record('a:80', 'connect-failure');
  };
  const durations: number[] = [];
  detector.on('eject', (_k, _c, ms) => durations.push(ms));
  for (let i = 0; i < 7; i++) {
    eject();
    clock.advance(durations.at(-1) ?? 0);
    assert.equal(detector.isEjected('a:80'), false);
  }
  assert.deepEqual(durations, [1_000, 2_000, 3_000, 4_000, 5_000, 5_000, 5_000]);
  assert.ok(events.at(-1)?.startsWith('return a:80 #7 5000ms'));
  detector.close();
});

test('outlier: the ejection count decays by one per ejectionDecayMs in rotation', () => {
  const { clock, detector } = outliers({ ejectionDecayMs: 10_000 });
  const durations: number[] = [];
  detector.on('eject', (_k, _c, ms) => durations.push(ms));
  const eject = (): void => {
    for (let i = 0; i < 3; i++) detector.record('a:80', '5xx');
  };
  eject(); // #1, 1 s
  clock.advance(1_000);
  eject(); // #2 at once: 2 s
  clock.advance(2_000);
  assert.equal(detector.ejectionCount('a:80'), 2);
  clock.advance(10_000);
  assert.equal(detector.ejectionCount('a:80'), 1, 'one forgiven after 10 s in rotation');
  clock.advance(25_000);
  assert.equal(detector.ejectionCount('a:80'), 0);
  eject();
  assert.deepEqual(durations, [1_000, 2_000, 1_000], 'after a long healthy period the ejection is short again');
  detector.close();
});

test('outlier: never more than maxEjectionPercent ejected; at least one may be; the last one stays', () => {
  const five = outliers({ maxEjectionPercent: 40 });
  for (const k of ['a:80', 'b:80', 'c:80']) for (let i = 0; i < 3; i++) five.detector.record(k, '5xx');
  assert.equal(five.detector.maxEjected, 2);
  assert.equal(five.detector.ejectedCount, 2, '40 % of 5 endpoints is 2');
  assert.equal(five.detector.isEjected('c:80'), false);
  assert.ok(five.events.includes('overflow c:80 5xx'));
  five.clock.advance(1_000); // a and b return
  five.detector.record('c:80', '5xx');
  assert.equal(five.detector.isEjected('c:80'), true, 'the streak stayed: the next failure ejects once there is room');
  five.detector.close();

  const two = outliers({ maxEjectionPercent: 10 }, ['a:80', 'b:80']);
  for (const k of ['a:80', 'b:80']) for (let i = 0; i < 3; i++) two.detector.record(k, '5xx');
  assert.equal(two.detector.ejectedCount, 1, '10 % of 2 rounds to at least one, as Envoy');
  assert.equal(two.detector.isEjected('b:80'), false, 'the last endpoint stays in rotation');
  two.detector.close();

  const one = outliers({ maxEjectionPercent: 99 }, ['a:80']);
  for (let i = 0; i < 3; i++) one.detector.record('a:80', '5xx');
  assert.equal(one.detector.isEjected('a:80'), false, 'a single endpoint is never ejected below 100 %');
  const all = outliers({ maxEjectionPercent: 100 }, ['a:80', 'b:80']);
  for (const k of ['a:80', 'b:80']) for (let i = 0; i < 3; i++) all.detector.record(k, '5xx');
  assert.equal(all.detector.ejectedCount, 2, '100 % may eject every endpoint');
  all.detector.close();
  const off = outliers({ maxEjectionPercent: 0 });
  for (let i = 0; i < 10; i++) off.detector.record('a:80', '5xx');
  assert.equal(off.detector.ejectedCount, 0);
});

test('outlier: remove() cancels an ejection without a return event; close() leaves no timer', () => {
  const { clock, detector, events } = outliers();
  for (let i = 0; i < 3; i++) detector.record('a:80', '5xx');
  for (let i = 0; i < 3; i++) detector.record('b:80', '5xx');
  detector.remove('a:80');
  assert.equal(detector.ejectedCount, 1);
  assert.equal(detector.isEjected('a:80'), false);
  detector.close();
  assert.equal(clock.pendingTimers, 0);
  clock.advance(10_000);
  assert.equal(events.filter((e) => e.startsWith('return')).length, 0);
  assert.throws(() => detector.add('z:80'), ClosedError);
});

test('outlier options are checked by name', () => {
  assert.throws(() => new OutlierDetector({ maxEjectionPercent: 101 }), /OutlierDetector.maxEjectionPercent must be an integer from 0 to 100/);
  assert.throws(() => new OutlierDetector({ baseEjectionMs: 10_000, maxEjectionMs: 5_000 }), /maxEjectionMs must be at least baseEjectionMs/);
  assert.throws(() => new OutlierDetector({ consecutive5xx: -1 }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'OutlierDetector.consecutive5xx');
  assert.throws(() => new OutlierDetector({ baseEjectionTime: 1 } as never), /not a known option/);
  const d = new OutlierDetector();
  assert.deepEqual([d.consecutive5xx, d.consecutiveConnectFailures, d.baseEjectionMs, d.maxEjectionMs, d.maxEjectionPercent, d.ejectionDecayMs], [5, 5, 30_000, 300_000, 10, 30_000]);
});
