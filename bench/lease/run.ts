/**
 * Benchmark: leases.
 *   memory  1,000,000 leases in MemoryLeaseStore: RSS and heap per lease, grant cost, keep-alive
 *           cost (keepAliveSync of a random lease, median ns over batches), and on the real clock
 *           the expiry lateness of 100,000 leases (deadline to `expired` event).
 *   redis   RedisLeaseStore keep-alive throughput against a local redis-server: one at a time
 *           (round-trip bound) and 64 in flight (ioredis pipelines them on one connection).
 * The memory part runs in a child process with --expose-gc so RSS is its own.
 *
 * Run: npm run build && node dist/bench/lease/run.js [--write]
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryLeaseStore } from '../../src/lease/memory-lease-store.js';
import { RedisLeaseStore } from '../../src/lease/redis-lease-store.js';
import { testRedis } from '../../test/helpers/redis.js';
import { median, writeSection } from '../results.js';

const COUNT = 1_000_000;

interface MemoryResult {
  rssMiB: number;
  heapMiB: number;
  bytesPerLease: number;
  grantNs: number;
  keepAliveNs: number[];
  keepAliveAsyncNs: number;
  mapGetNs: number[];
  late: { p50: number; p99: number; max: number; early: number; count: number };
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g === undefined) throw new Error('run with --expose-gc');
  g();
  g();
}

async function memoryChild(): Promise<MemoryResult> {
  gc();
  const base = process.memoryUsage();
  const store = new MemoryLeaseStore({ resolutionMs: 10, initialCapacity: 1 << 20 });
  const ids: string[] = new Array<string>(COUNT);
  const tokens = new Float64Array(COUNT);
  const t0 = performance.now();
  for (let i = 0; i < COUNT; i++) {
    const lease = store.grantSync(600_000);
    ids[i] = lease.id;
    tokens[i] = lease.token;
  }
  const grantNs = ((performance.now() - t0) * 1e6) / COUNT;
  gc();
  const held = process.memoryUsage();
  // the ids array and tokens are the benchmark's, not the store's: subtract them
  const own = COUNT * 8 + COUNT * 8;
  const rss = held.rss - base.rss - own;
  const heap = held.heapUsed - base.heapUsed - COUNT * 8;

  // Random order prepared up front, so the loop times the keep-alive, not the shuffle.
  const order = new Uint32Array(COUNT);
  let x = 12345;
  for (let i = 0; i < COUNT; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    order[i] = x % COUNT;
  }
  const keepAliveNs: number[] = [];
  for (let round = 0; round < 10; round++) {
    const s = performance.now();
    for (let i = 0; i < COUNT; i++) {
      const k = order[i] as number;
      store.keepAliveSync(ids[k] as string, tokens[k]);
    }
    keepAliveNs.push(((performance.now() - s) * 1e6) / COUNT);
    await sleep(20); // let the wheel tick
  }
  const asyncCount = 200_000;
  const sa = performance.now();
  for (let i = 0; i < asyncCount; i++) {
    const k = order[i] as number;
    await store.keepAlive(ids[k] as string, tokens[k]);
  }
  const keepAliveAsyncNs = ((performance.now() - sa) * 1e6) / asyncCount;
  await store.close();

  // Floor: a bare Map.get of a random key among 1,000,000 (what any id-keyed store pays).
  const map = new Map<string, { token: number }>();
  for (let i = 0; i < COUNT; i++) map.set(ids[i] as string, { token: i });
  const mapGetNs: number[] = [];
  for (let round = 0; round < 5; round++) {
    let acc = 0;
    const s = performance.now();
    for (let i = 0; i < COUNT; i++) acc += (map.get(ids[order[i] as number] as string) as { token: number }).token;
    mapGetNs.push(((performance.now() - s) * 1e6) / COUNT);
    if (acc < 0) console.log(acc);
  }
  map.clear();

  // Expiry lateness on the real clock: 100,000 leases, TTL 1-2 s.
  const n = 100_000;
  const lateStore = new MemoryLeaseStore({ resolutionMs: 10 });
  const deadline = new Map<string, number>();
  const lateness: number[] = [];
  lateStore.on('expired', (lease) => lateness.push(performance.now() - (deadline.get(lease.id) as number)));
  for (let i = 0; i < n; i++) {
    const ttl = 1000 + (i % 1000);
    const lease = lateStore.grantSync(ttl);
    deadline.set(lease.id, performance.now() + ttl);
  }
  while (lateness.length < n) await sleep(50);
  await lateStore.close();
  lateness.sort((a, b) => a - b);
  const pick = (q: number): number => lateness[Math.min(n - 1, Math.floor(q * n))] as number;
  return {
    rssMiB: rss / 2 ** 20,
    heapMiB: heap / 2 ** 20,
    bytesPerLease: rss / COUNT,
    grantNs,
    keepAliveNs,
    keepAliveAsyncNs,
    mapGetNs,
    late: { p50: pick(0.5), p99: pick(0.99), max: lateness[n - 1] as number, early: lateness.filter((l) => l < -10).length, count: n },
  };
}

async function redisThroughput(url: string): Promise<{ serialOps: number; pipelinedOps: number; serialP50Us: number }> {
  const store = await RedisLeaseStore.connect({ url, prefix: `lifeline-bench:{lease-${process.pid}}:`, sweepIntervalMs: 1000 });
  const leases = await Promise.all(Array.from({ length: 1000 }, () => store.grant(600_000)));
  const run = async (inFlight: number, ms: number): Promise<{ ops: number; latencies: number[] }> => {
    let done = 0;
    const latencies: number[] = [];
    const end = performance.now() + ms;
    await Promise.all(
      Array.from({ length: inFlight }, async (_, w) => {
        let i = w;
        while (performance.now() < end) {
          const lease = leases[i % leases.length] as { id: string; token: number };
          const s = performance.now();
          await store.keepAlive(lease.id, lease.token);
          if (inFlight === 1) latencies.push((performance.now() - s) * 1000);
          done += 1;
          i += inFlight;
        }
      }),
    );
    return { ops: done / (ms / 1000), latencies };
  };
  await run(8, 500); // warm up (scripts loaded, connection hot)
  const serial = await run(1, 3000);
  const pipelined = await run(64, 3000);
  for (const l of leases) await store.revoke(l.id, l.token);
  await store.close();
  return { serialOps: serial.ops, pipelinedOps: pipelined.ops, serialP50Us: median(serial.latencies) };
}

async function parent(): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const child = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=4096', self, '--child'], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`memory child failed: ${child.stderr}`);
  const mem = JSON.parse(child.stdout.trim().split('\n').at(-1) as string) as MemoryResult;
  const target = await testRedis();
  let redis: Awaited<ReturnType<typeof redisThroughput>> | string;
  if (typeof target === 'string') redis = target;
  else {
    try {
      redis = await redisThroughput(target.url);
    } finally {
      await target.server?.stop();
    }
  }
  const f = (n: number, d = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const body = [
    '| memory store, 1,000,000 leases | value |',
    '|---|---|',
    `| RSS held by the store | ${f(mem.rssMiB, 1)} MiB (${f(mem.bytesPerLease)} bytes a lease) |`,
    `| JS heap held by the store | ${f(mem.heapMiB, 1)} MiB |`,
    `| grant (grantSync, generated id) | ${f(mem.grantNs)} ns |`,
    `| keep-alive (keepAliveSync, random lease; median of 10 x 1M) | ${f(median(mem.keepAliveNs))} ns (rounds: ${mem.keepAliveNs.map((n) => f(n)).join(', ')}) |`,
    `| floor: a bare Map.get of a random key among 1,000,000 (median of 5 x 1M) | ${f(median(mem.mapGetNs))} ns |`,
    `| keep-alive through the async LeaseStore API (await keepAlive) | ${f(mem.keepAliveAsyncNs)} ns |`,
    `| expiry lateness, 100,000 leases, 10 ms wheel, real clock: p50 / p99 / max | ${f(mem.late.p50, 1)} / ${f(mem.late.p99, 1)} / ${f(mem.late.max, 1)} ms (${mem.late.early} more than 10 ms early) |`,
    '',
    typeof redis === 'string'
      ? `Redis: not measured (${redis}).`
      : [
          '| Redis store, local redis-server, one connection | value |',
          '|---|---|',
          `| keep-alive, one at a time | ${f(redis.serialOps)} /s (median ${f(redis.serialP50Us)} µs a round trip) |`,
          `| keep-alive, 64 in flight (pipelined) | ${f(redis.pipelinedOps)} /s |`,
        ].join('\n'),
    '',
    `Load average when run: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} (a shared machine: absolute ns are inflated when it is busy; compare the keep-alive with the Map.get floor measured in the same run).`,
    '',
    'Lateness is measured from `performance.now()` at grant + TTL to the `expired` event; the wheel files a lease at its tick time, so a lease may end up to one tick (10 ms) before that by the real clock. The Redis figures include the Lua script (token check, PEXPIRE, ZADD of the deadline).',
  ].join('\n');
  console.log(body);
  if (process.argv.includes('--write')) writeSection('lease', 'Leases: memory store (1,000,000) and Redis keep-alive', 'npm run build && node dist/bench/lease/run.js --write', body);
}

if (process.argv.includes('--child')) {
  const result = await memoryChild();
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  await parent();
}
