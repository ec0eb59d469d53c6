/**
 * Redis store under contention and outage, against a real redis-server.
 *
 * 1. Two processes contend for one lease for 30 s with random freezes longer than the TTL. The
 *    intervals in which each believed it held the lease never overlap, and writes made after a
 *    freeze with a stale token are refused by the resource's fencing check (the test asserts that
 *    such refusals happen, so it is known to bite).
 * 2. Redis killed mid-run: every holder gets `lost` before its lease can have ended on the
 *    server, nothing crashes, calls fail fast with ERR_LEASE_STORE_UNAVAILABLE, and after a
 *    restart new grants work, with tokens still growing.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Fence } from '../src/lease/fence.js';
import { LeaseKeeper } from '../src/lease/lease-keeper.js';
import type { LeaseLostReason } from '../src/lease/lease-keeper.js';
import { RedisLeaseStore } from '../src/lease/redis-lease-store.js';
import { RedisServer, redisServerBinary, testRedis, uniquePrefix } from './helpers/redis.js';
import { skipFor } from './helpers/lease-prerequisites.js';

const target = await testRedis();
const skip = skipFor('lease-redis', typeof target === 'string' ? target : undefined);
const stopSkip = skipFor('lease-redis (stop and restart)', redisServerBinary() === undefined ? 'needs redis-server on PATH to stop and restart' : undefined);
after(async () => {
  if (typeof target !== 'string') await target.server?.stop();
});

interface Report {
  name: string;
  intervals: [number, number][];
  writes: { token: number; accepted: boolean; afterPause: boolean }[];
  acquisitions: number;
  pauses: number;
  lost: number;
}

function runContender(env: Record<string, string>): Promise<Report> {
  const script = fileURLToPath(new URL('./helpers/lease-contender.js', import.meta.url));
  const child = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`contender ${env.NAME} exited ${code}: ${err}`));
      else resolve(JSON.parse(out.trim()) as Report);
    });
  });
}

describe('redis leases', { skip }, () => {
  test('two processes contend for one lease for 30 s: never both hold it; stale writes are fenced off', { timeout: 60_000 }, async () => {
    const fence = new Fence('test resource');
    const log: { writer: string; token: number; accepted: boolean; afterPause: boolean }[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const w = JSON.parse(body) as { writer: string; token: number; afterPause: boolean };
        const accepted = fence.tryAdmit(w.token);
        log.push({ ...w, accepted });
        res.writeHead(accepted ? 200 : 409).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const common = {
      REDIS_URL: (target as { url: string }).url,
      PREFIX: uniquePrefix('contend'),
      RESOURCE_URL: `http://127.0.0.1:${port}/write`,
      DURATION_MS: '30000',
      TTL_MS: '200',
    };
    try {
      const reports = await Promise.all([runContender({ ...common, NAME: 'A' }), runContender({ ...common, NAME: 'B' })]);
      const all = reports.flatMap((r) => r.intervals.map(([s, e]) => ({ who: r.name, s, e })));
      all.sort((x, y) => x.s - y.s);
      let overlaps = 0;
      let minGap = Infinity;
      for (let i = 1; i < all.length; i++) {
        const prev = all[i - 1] as { who: string; s: number; e: number };
        const cur = all[i] as { who: string; s: number; e: number };
        if (prev.who !== cur.who) {
          if (cur.s < prev.e) overlaps += 1;
          minGap = Math.min(minGap, cur.s - prev.e);
        }
      }
      const handoffs = all.filter((x, i) => i > 0 && all[i - 1]?.who !== x.who).length;
      const staleRefused = log.filter((w) => w.afterPause && !w.accepted).length;
      const pauses = reports.reduce((n, r) => n + r.pauses, 0);
      console.log(
        `# contention: ${all.length} holds, ${handoffs} hand-offs, ${log.length} writes, ${pauses} freezes, ` +
          `${staleRefused} stale writes refused, ${fence.refused} refused in all, min gap between holders ${minGap.toFixed(1)} ms`,
      );
      assert.equal(overlaps, 0, 'at no moment did both hold the lease');
      assert.ok(handoffs >= 20, `the lease changed hands ${handoffs} times`);
      assert.ok(pauses >= 5, `${pauses} freezes`);
      assert.ok(staleRefused >= 1, 'a write with a stale token was refused by the fencing check');
      // The fence admitted tokens in non-decreasing order, and every refused write was stale.
      let highest = 0;
      for (const w of log) {
        if (w.accepted) {
          assert.ok(w.token >= highest);
          highest = w.token;
        } else assert.ok(w.token < highest);
      }
    } finally {
      server.close();
    }
  });

  test('Redis killed mid-run: holders get lost in time, nothing crashes, grants work after a restart', { skip: stopSkip, timeout: 30_000 }, async () => {
    const redis = await RedisServer.start();
    const store = await RedisLeaseStore.connect({ url: redis.url, prefix: uniquePrefix('outage'), sweepIntervalMs: 50 });
    try {
      const keepers = await Promise.all([0, 1, 2, 3, 4].map((i) => LeaseKeeper.acquire(store, 500, { id: `job:${i}` })));
      const maxToken = Math.max(...keepers.map((k) => k.token));
      const losses: { reason: LeaseLostReason; at: number; keeper: LeaseKeeper }[] = [];
      for (const k of keepers) k.on('lost', (reason) => losses.push({ reason, at: performance.now(), keeper: k }));
      await sleep(600);
      assert.equal(losses.length, 0);
      const stoppedAt = performance.now();
      await redis.stop();
      await assert.rejects(store.grant(1000), (e: unknown) => (e as { code?: unknown }).code === 'ERR_LEASE_STORE_UNAVAILABLE');
      await sleep(700);
      assert.equal(losses.length, 5, 'every holder was told');
      for (const l of losses) {
        assert.equal(l.reason, 'deadline');
        // lost at the safe deadline: before the last acknowledged keep-alive's TTL ran out on the server
        assert.ok(l.at >= l.keeper.safeDeadline && l.at < l.keeper.safeDeadline + l.keeper.marginMs, `lost ${(l.at - l.keeper.safeDeadline).toFixed(1)} ms after the safe deadline`);
        assert.ok(l.at - stoppedAt < 500, 'within one TTL of the outage');
      }
      await redis.startAgain();
      let granted: Awaited<ReturnType<typeof store.grant>> | undefined;
      const until = performance.now() + 5000;
      while (granted === undefined && performance.now() < until) {
        try {
          granted = await store.grant(1000, { id: 'job:0' });
        } catch (error) {
          assert.equal((error as { code?: unknown }).code, 'ERR_LEASE_STORE_UNAVAILABLE');
          await sleep(100);
        }
      }
      assert.ok(granted, 'a grant works after the restart');
      assert.ok(granted.token > maxToken, `tokens still grow after Redis lost its data (${granted.token} > ${maxToken})`);
    } finally {
      await store.close();
      await redis.stop();
    }
  });
});
