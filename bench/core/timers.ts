/**
 * Benchmark: 1,000,000 idle deadlines held and touched, three ways.
 *   wheel    lifeline's TimerWheel (touch = one write)
 *   timeout  one setTimeout per deadline (touch = clearTimeout + setTimeout)
 *   refresh  one setTimeout per deadline (touch = timeout.refresh())
 * Each variant runs in its own child process (RSS is per process) with --expose-gc.
 * Also measured for the wheel: expiry lateness on the real clock (100,000 deadlines).
 *
 * Run: npm run build && node dist/bench/core/timers.js [--write]
 */
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { TimerWheel } from '../../src/core/timer-wheel.js';
import { median, writeSection } from '../results.js';

const COUNT = 1_000_000;
const BATCH = 1_000_000;
const BATCHES = 15;

interface Result {
  variant: string;
  rssMiB: number;
  heapMiB: number;
  touchNsMedian: number;
  touchNsAll: number[];
  lateMsMax?: number;
  lateMsP99?: number;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g === undefined) throw new Error('run with --expose-gc');
  g();
  g();
}

function memory(): { rss: number; heap: number } {
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

/** Random indexes prepared up front so the timed loop measures only the touch. */
function indexes(): Uint32Array {
  const idx = new Uint32Array(BATCH);
  let x = 12345;
  for (let i = 0; i < BATCH; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    idx[i] = x % COUNT;
  }
  return idx;
}

/**
 * Times touches of random deadlines. Each variant gets the handles to touch as one sequential
 * array prepared up front (as a server has the handle on the connection it is reading), so what
 * is timed is the touch of a random deadline, not the benchmark's own lookup.
 */
function timeBatches<H>(handles: ArrayLike<H>, touchOne: (handle: H) => void): number[] {
  const perTouch: number[] = [];
  for (let b = 0; b < BATCHES; b++) {
    const t0 = performance.now();
    for (let i = 0; i < BATCH; i++) touchOne(handles[i] as H);
    perTouch.push(((performance.now() - t0) * 1e6) / BATCH);
  }
  return perTouch;
}

async function runWheel(): Promise<Result> {
  const before = memory();
  const wheel = new TimerWheel({ resolutionMs: 10 });
  const noop = (): void => undefined;
  const deadlines = new Int32Array(COUNT);
  for (let i = 0; i < COUNT; i++) deadlines[i] = wheel.add(600_000, noop);
  const after = memory();
  const idx = indexes();
  const handles = new Int32Array(BATCH);
  for (let i = 0; i < BATCH; i++) handles[i] = deadlines[idx[i] as number] as number;
  const touchNsAll = timeBatches(handles, (id) => wheel.touch(id));
  wheel.close();
  // Expiry lateness on the real clock: 100,000 deadlines due between 500 and 1500 ms.
  const late: number[] = [];
  const wheel2 = new TimerWheel({ resolutionMs: 10 });
  const start = performance.now();
  await new Promise<void>((resolve) => {
    let left = 100_000;
    const keep = setTimeout(() => undefined, 10_000);
    for (let i = 0; i < 100_000; i++) {
      const due = 500 + (i % 1000);
      wheel2.add(due, () => {
        late.push(performance.now() - start - due);
        if (--left === 0) {
          clearTimeout(keep);
          resolve();
        }
      });
    }
  });
  wheel2.close();
  late.sort((a, b) => a - b);
  return {
    variant: 'wheel',
    rssMiB: (after.rss - before.rss) / 2 ** 20,
    heapMiB: (after.heap - before.heap) / 2 ** 20,
    touchNsMedian: median(touchNsAll),
    touchNsAll,
    lateMsMax: late[late.length - 1] ?? Number.NaN,
    lateMsP99: late[Math.floor(late.length * 0.99)] ?? Number.NaN,
  };
}

function runTimeouts(variant: 'timeout' | 'refresh'): Result {
  const before = memory();
  const noop = (): void => undefined;
  const timers: NodeJS.Timeout[] = new Array<NodeJS.Timeout>(COUNT);
  for (let i = 0; i < COUNT; i++) timers[i] = setTimeout(noop, 600_000).unref();
  const after = memory();
  const idx = indexes();
  let touchNsAll: number[];
  if (variant === 'refresh') {
    const handles = Array.from(idx, (i) => timers[i] as NodeJS.Timeout);
    touchNsAll = timeBatches(handles, (t) => t.refresh());
  } else {
    // The handle must be replaced on every touch, so the slot index is the handle here.
    touchNsAll = timeBatches(idx, (i) => {
      clearTimeout(timers[i]);
      timers[i] = setTimeout(noop, 600_000).unref();
    });
  }
  for (const t of timers) clearTimeout(t);
  return { variant, rssMiB: (after.rss - before.rss) / 2 ** 20, heapMiB: (after.heap - before.heap) / 2 ** 20, touchNsMedian: median(touchNsAll), touchNsAll };
}

async function child(variant: string): Promise<void> {
  const result = variant === 'wheel' ? await runWheel() : runTimeouts(variant as 'timeout' | 'refresh');
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function parent(): void {
  const self = fileURLToPath(import.meta.url);
  const results: Result[] = [];
  for (const variant of ['wheel', 'timeout', 'refresh']) {
    const run = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=4096', self, '--child', variant], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`${variant} failed: ${run.stderr}`);
    results.push(JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as Result);
  }
  const wheel = results[0] as Result;
  const rows = results.map(
    (r) =>
      `| ${r.variant === 'wheel' ? 'TimerWheel (10 ms ticks)' : r.variant === 'timeout' ? 'setTimeout per deadline (touch = clear + set)' : 'setTimeout per deadline (touch = refresh())'} | ${r.rssMiB.toFixed(0)} | ${r.heapMiB.toFixed(0)} | ${r.touchNsMedian.toFixed(1)} | ${(r.touchNsMedian / wheel.touchNsMedian).toFixed(1)}x |`,
  );
  const body = [
    `1,000,000 deadlines of 600 s held at once; ${BATCHES} batches of ${BATCH.toLocaleString('en')} touches on random deadlines; median ns per touch.`,
    '',
    '| variant | RSS added (MiB) | heap added (MiB) | touch median (ns) | touch cost vs wheel |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    `Wheel expiry on the real clock (100,000 deadlines due 0.5-1.5 s, 10 ms ticks): lateness p99 ${wheel.lateMsP99?.toFixed(1)} ms, max ${wheel.lateMsMax?.toFixed(1)} ms (one tick is 10 ms; the rest is event-loop time spent running the callbacks of the same tick).`,
    '',
    `Targets: under 150 MB RSS for 1,000,000 deadlines (${wheel.rssMiB.toFixed(0)} MiB), touch at most 30 ns median (${wheel.touchNsMedian.toFixed(1)} ns).`,
  ].join('\n');
  process.stdout.write(`${body}\n`);
  if (process.argv.includes('--write')) writeSection('core-timers', 'Core: 1,000,000 idle deadlines', 'npm run build && node dist/bench/core/timers.js --write', body);
}

if (process.argv[2] === '--child') await child(process.argv[3] ?? 'wheel');
else parent();
