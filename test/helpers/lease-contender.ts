/**
 * One contender for a Redis lease, run as a child process by lease-redis.test.ts. It loops for
 * DURATION_MS: acquire the lease 'contended' (retrying while the other process holds it), write
 * to the protected resource with the fencing token, sometimes freeze (a busy loop, as a long GC
 * pause would) for longer than the TTL and then write without checking (the stale writer), and
 * release. It prints one JSON line at the end: its holding intervals (wall ms) and its writes.
 *
 * Env: REDIS_URL, PREFIX, NAME, RESOURCE_URL, DURATION_MS, TTL_MS.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisLeaseStore } from '../../src/lease/redis-lease-store.js';
import { LeaseKeeper } from '../../src/lease/lease-keeper.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const name = env('NAME');
const ttlMs = Number(env('TTL_MS'));
const durationMs = Number(env('DURATION_MS'));
const resource = env('RESOURCE_URL');
const wall = (monotonic: number): number => performance.timeOrigin + monotonic;
const rand = (lo: number, hi: number): number => lo + Math.random() * (hi - lo);

interface Write {
  token: number;
  accepted: boolean;
  afterPause: boolean;
}

const intervals: [number, number][] = [];
const writes: Write[] = [];
let acquisitions = 0;
let pauses = 0;
let lost = 0;

async function write(token: number, afterPause: boolean): Promise<void> {
  const res = await fetch(resource, { method: 'POST', body: JSON.stringify({ writer: name, token, afterPause }) });
  writes.push({ token, accepted: res.status === 200, afterPause });
  await res.arrayBuffer();
}

const store = await RedisLeaseStore.connect({ url: env('REDIS_URL'), prefix: env('PREFIX'), sweep: false });
const end = performance.now() + durationMs;
while (performance.now() < end) {
  let keeper: LeaseKeeper;
  try {
    keeper = await LeaseKeeper.acquire(store, ttlMs, { id: 'contended', holder: name });
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ERR_LEASE_HELD') throw error;
    await sleep(rand(2, 30));
    continue;
  }
  acquisitions += 1;
  keeper.on('lost', () => (lost += 1));
  const start = performance.now();
  let paused = false;
  const steps = Math.floor(rand(1, 8));
  for (let s = 0; s < steps && keeper.held; s++) {
    if (s > 0 && Math.random() < 0.15) {
      // Freeze the event loop past the TTL: no keep-alive can go out. Then write as a paused
      // process would, with the token it had, without looking.
      pauses += 1;
      const until = performance.now() + ttlMs + rand(100, 400);
      while (performance.now() < until) {
        /* frozen */
      }
      paused = true;
      await write(keeper.token, true);
      break;
    }
    await write(keeper.token, false);
    await sleep(rand(5, 60));
  }
  const releasedAt = performance.now();
  intervals.push([wall(start), wall(Math.min(releasedAt, keeper.safeDeadline))]);
  if (paused) keeper.abandon();
  else await keeper.release();
  await sleep(rand(0, 20));
}
await store.close();
process.stdout.write(`${JSON.stringify({ name, intervals, writes, acquisitions, pauses, lost })}\n`);
