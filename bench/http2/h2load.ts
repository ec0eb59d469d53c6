/**
 * h2load for bench/http2: one duration-based run (`-D` after `--warm-up-time`), its summary parsed,
 * p50/p99 computed from its per-request log (h2load prints only min/max/mean/sd), and callbacks at
 * the moments the measured window opens and closes, so CPU and counters are read over exactly the
 * requests h2load counts.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { killGroup, live } from '../proxy/processes.js';

/** How long past its planned end an h2load run may take before it is killed, by default. */
const H2LOAD_GRACE_MS = 30_000;

export interface H2loadRun {
  /** Requests completed in the measured window (after the warm-up). */
  requests: number;
  rps: number;
  /** failed + errored + timeout, as h2load counts them. */
  failed: number;
  /** Responses other than 2xx. */
  non2xx: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

export interface H2loadOptions {
  core: number;
  url: string;
  clients: number;
  streams: number;
  seconds: number;
  warmupSeconds: number;
  /** Where h2load writes its per-request log; removed after parsing. */
  logFile: string;
  /** Called when h2load says the warm-up is over (the measured window opens). */
  onMeasureStart?: () => void | Promise<void>;
  /** Called when h2load says the measured window is over, before it stops its clients. */
  onMeasureEnd?: () => void | Promise<void>;
  /** How long past warm-up + duration h2load may run before it is killed (default 30 s). */
  graceMs?: number;
}

export function h2loadArgs(o: Pick<H2loadOptions, 'clients' | 'streams' | 'seconds' | 'warmupSeconds' | 'url'>): string[] {
  return ['-t1', `-c${o.clients}`, `-m${o.streams}`, `-D${o.seconds}`, `--warm-up-time=${o.warmupSeconds}`, o.url];
}

/** The p-th percentile (0-100) of sorted values, nearest rank. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/**
 * Request times in ms from h2load's `--log-file` (start µs, status, duration µs, tab-separated).
 * Lines with status 0 are requests cut off when the warm-up ended; they are not latencies.
 */
export function logLatencies(text: string): Float64Array {
  const lines = text.split('\n');
  const out = new Float64Array(lines.length);
  let n = 0;
  for (const line of lines) {
    const cols = line.split('\t');
    if (cols.length < 3 || cols[1] === '0') continue;
    const us = Number(cols[2]);
    if (Number.isFinite(us)) out[n++] = us / 1000;
  }
  return out.subarray(0, n).sort();
}

function num(re: RegExp, text: string, what: string): number {
  const m = re.exec(text);
  if (!m?.[1]) throw new Error(`h2load output has no ${what}: ${text.trim().slice(-400)}`);
  return Number(m[1]);
}

export function parseSummary(out: string): Omit<H2loadRun, 'p50Ms' | 'p99Ms'> {
  const requests = num(/requests: \d+ total, \d+ started, (\d+) done/, out, 'requests line');
  const failed = num(/(\d+) failed/, out, 'failed count') + num(/(\d+) errored/, out, 'errored count') + num(/(\d+) timeout/, out, 'timeout count');
  const m = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  if (!m) throw new Error(`h2load output has no status codes: ${out.trim().slice(-400)}`);
  const non2xx = Number(m[2]) + Number(m[3]) + Number(m[4]);
  const rps = num(/finished in [\d.]+m?s, ([\d.]+) req\/s/, out, 'req/s');
  const mean = /time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)/.exec(out);
  const unit = mean?.[2] === 'us' ? 0.001 : mean?.[2] === 's' ? 1000 : 1;
  return { requests, failed, non2xx, rps, meanMs: mean ? Number(mean[1]) * unit : Number.NaN };
}

/** Run h2load pinned to `core`; rejects when it exits non-zero or completes no request. */
export async function h2load(o: H2loadOptions): Promise<H2loadRun> {
  const args = [...h2loadArgs(o).slice(0, -1), `--log-file=${o.logFile}`, o.url];
  const child = spawn('taskset', ['-c', String(o.core), 'h2load', ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let out = '';
  let pending: Promise<void> = Promise.resolve();
  let started = false;
  let ended = false;
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    // h2load prints these once per thread; -t1 has one thread.
    if (!started && out.includes('Warm-up phase is over')) {
      started = true;
      if (o.onMeasureStart) pending = pending.then(o.onMeasureStart);
    }
    if (!ended && out.includes('Main benchmark duration is over')) {
      ended = true;
      if (o.onMeasureEnd) pending = pending.then(o.onMeasureEnd);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  // h2load waits for the streams in flight when its window closes; a front that stops answering
  // would hold it forever, so it gets a grace period past its planned end, then is killed.
  const limitMs = (o.warmupSeconds + o.seconds) * 1000 + (o.graceMs ?? H2LOAD_GRACE_MS);
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    killGroup(child, 'SIGKILL');
  }, limitMs);
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  clearTimeout(timer);
  live.delete(child);
  if (killed) throw new Error(`h2load did not finish within ${limitMs / 1000} s (killed): ${out.trim().slice(-300)}`);
  await pending;
  if (code !== 0) throw new Error(`h2load exited with ${code}: ${out.trim().slice(-300)}`);
  if (!started || !ended) throw new Error(`h2load never reported its measured window: ${out.trim().slice(-300)}`);
  const summary = parseSummary(out);
  if (summary.requests === 0) throw new Error(`h2load completed no request: ${out.trim().slice(-300)}`);
  let latencies: Float64Array;
  try {
    latencies = logLatencies(readFileSync(o.logFile, 'latin1'));
  } finally {
    rmSync(o.logFile, { force: true });
  }
  return { ...summary, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}
