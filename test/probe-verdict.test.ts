/**
 * The verdict rule and the option checks of lifeline/probe, as pure functions: the figures are
 * given, so every branch (race, safe, inconclusive, hint lies, silent close) is reached exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidOptionError } from '../src/core/errors.js';
import { resolveProbeOptions, verdicts } from '../src/probe/index.js';
import type { IdleResult, RequestLimitResult } from '../src/probe/index.js';

function idle(idleTimeoutMs: number | undefined, timeoutSec?: number): IdleResult {
  return {
    idleTimeoutMs, keptAtLeastMs: idleTimeoutMs === undefined ? 600_000 : undefined, closedBy: idleTimeoutMs === undefined ? undefined : 'peer_close',
    samples: [], strayCloses: 0, hint: timeoutSec === undefined ? undefined : { timeoutSec }, noKeepAlive: false,
  };
}
const behind = (name: 'aws-alb' | 'gcp-lb') => resolveProbeOptions({ behind: name }).behind;

test('behind: front idle >= server idle - 1 s races; below does not; kept past the front is safe', () => {
  const race = verdicts(idle(6_000), undefined, behind('aws-alb'), 600_000).find((v) => v.topic === 'behind');
  assert.equal(race?.races, true);
  assert.match(race?.fix ?? '', /nginx keepalive_timeout 65s/);
  assert.match(race?.fix ?? '', /keepAlive\(server, \{ idleTimeoutMs: 65000 \}\)/);
  assert.match(race?.fix ?? '', /lower its idle timeout below 5 s/);
  assert.equal(verdicts(idle(60_500), undefined, behind('aws-alb'), 600_000).find((v) => v.topic === 'behind')?.races, true, 'within the 1 s margin');
  assert.equal(verdicts(idle(61_001), undefined, behind('aws-alb'), 600_000).find((v) => v.topic === 'behind')?.races, false);
  assert.equal(verdicts(idle(undefined), undefined, behind('aws-alb'), 600_000).find((v) => v.topic === 'behind')?.races, false);
  const unsure = verdicts(idle(undefined), undefined, behind('gcp-lb'), 600_000).find((v) => v.topic === 'behind');
  assert.equal(unsure?.races, false);
  assert.match(unsure?.text ?? '', /^inconclusive: .* run with --max-wait above 601 s/);
});

test('hints: closing before timeout= races, after does not; fewer requests than max= and silent closes race', () => {
  assert.equal(verdicts(idle(2_000, 5), undefined, undefined, 10_000).find((v) => v.topic === 'hint_timeout')?.races, true);
  assert.equal(verdicts(idle(4_980, 5), undefined, undefined, 10_000).find((v) => v.topic === 'hint_timeout')?.races, false, 'within 30 ms');
  assert.equal(verdicts(idle(6_000, 5), undefined, undefined, 10_000).find((v) => v.topic === 'hint_timeout')?.races, false);
  const liar: RequestLimitResult = { requestsServed: 3, endedBy: 'announced', hintMax: 100, hintCountsDown: true };
  assert.equal(verdicts(undefined, liar, undefined, 10_000).find((v) => v.topic === 'hint_max')?.races, true);
  const silent: RequestLimitResult = { requestsServed: 3, endedBy: 'closed', hintMax: undefined, hintCountsDown: false };
  assert.equal(verdicts(undefined, silent, undefined, 10_000).find((v) => v.topic === 'request_limit')?.races, true);
  const pool = verdicts(idle(6_000), undefined, undefined, 10_000).find((v) => v.topic === 'client_pool');
  assert.match(pool?.text ?? '', /under 5000 ms/);
});

test('options: presets, numbers, and bad values named', () => {
  assert.equal(resolveProbeOptions({ behind: 'azure-lb' }).behind?.idleTimeoutMs, 240_000);
  assert.equal(resolveProbeOptions({ behind: 'aws-nlb' }).behind?.idleTimeoutMs, 350_000);
  assert.equal(resolveProbeOptions({ behind: 45_000 }).behind?.name, 'custom');
  assert.equal(resolveProbeOptions({}).maxWaitMs, 600_000);
  assert.throws(() => resolveProbeOptions({ behind: 'f5' as 'nginx' }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'probe.behind');
  assert.throws(() => resolveProbeOptions({ only: ['idle', 'nope' as 'idle'] }), /probe\.only: unknown measurement "nope"/);
  assert.throws(() => resolveProbeOptions({ maxWaitMs: 5 }), /probe\.maxWaitMs must be an integer from 100/);
  assert.throws(() => resolveProbeOptions({ idleTimeout: 5 } as never), InvalidOptionError);
});
