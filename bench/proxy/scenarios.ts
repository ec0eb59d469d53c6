/**
 * The measurements: a wrk run against a running proxy with its CPU from /proc (S1-S3, S6, S7),
 * S5's upstream connections inside S1, S7's resumed fraction from the proxy's own log, and S4's
 * idle connections with the proxy's RSS.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { openSync, readSync, closeSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from './backend.js';
import { stubStatus } from './backend.js';
import { LARGE_PATH } from './configs.js';
import type { WrkResult } from './processes.js';
import { cpuTicks, fdCount, killGroup, live, rssKiB, sleep, stop, wrk } from './processes.js';
import type { ResumptionLog, Running } from './proxies.js';
import { CLIENTS, CLK_TCK, CORE_LOAD, IDLE_CONNECTIONS, IDLE_PER_PROCESS, PEERS_DIR, S5_SKIP_MS, SECONDS, SETTLE_MS, WARMUP_SECONDS } from './settings.js';

export type ThroughputId = 'S1' | 'S2' | 'S3' | 'S6' | 'S7';
export interface Throughput {
  id: ThroughputId;
  title: string;
  path: string;
  close: boolean;
  tls: boolean;
}
export const THROUGHPUT: Throughput[] = [
  { id: 'S1', title: `S1: ${CLIENTS} keep-alive clients, 100-byte responses`, path: '/', close: false, tls: false },
  { id: 'S2', title: `S2: ${CLIENTS} clients sending \`Connection: close\`, 100-byte responses`, path: '/', close: true, tls: false },
  { id: 'S3', title: `S3: ${CLIENTS} keep-alive clients, 64 KiB responses`, path: LARGE_PATH, close: false, tls: false },
];
export const TLS_THROUGHPUT: Throughput[] = [
  { id: 'S6', title: `S6: ${CLIENTS} HTTPS keep-alive clients, 100-byte responses`, path: '/', close: false, tls: true },
  { id: 'S7', title: `S7: ${CLIENTS} HTTPS clients, a new TLS connection per request resuming its session, 100-byte responses`, path: '/', close: true, tls: true },
];

export interface Run extends WrkResult {
  cpuPer1k: number;
}

export interface IdleRun {
  beforeKiB: number;
  /** RSS 2 s after the last client got its response. */
  earlyKiB: number;
  /** RSS after SETTLE_MS more of idleness (V8 shrinks a young generation grown by the burst). */
  afterKiB: number;
  held: number;
  failed: number;
  fds: number;
}

/** S7: handshakes the proxy logged during the measured run, and how many resumed. */
export interface Resumption {
  resumed: number;
  total: number;
  /** The protocols the handshakes used (TLSv1.3, ...). */
  protocols: string[];
}

export interface Result {
  error: string | null;
  runs: Record<ThroughputId, Run[]>;
  s5: number[];
  s4: IdleRun[];
  s7: Resumption[];
}

export function emptyResult(error: string | null): Result {
  return { error, runs: { S1: [], S2: [], S3: [], S6: [], S7: [] }, s5: [], s4: [], s7: [] };
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** The resumption log's lines from byte `from` on: `yes ...` lines resumed, `no ...` did not; then the protocol. */
function countResumption(log: ResumptionLog, from: number): Resumption {
  const size = fileSize(log.file);
  const buf = Buffer.alloc(Math.max(0, size - from));
  const fd = openSync(log.file, 'r');
  try {
    readSync(fd, buf, 0, buf.length, from);
  } finally {
    closeSync(fd);
  }
  let resumed = 0;
  let total = 0;
  const protocols = new Set<string>();
  for (const line of buf.toString('latin1').split('\n')) {
    const [flag, protocol] = line.trim().split(/\s+/);
    if (flag !== log.yes && flag !== log.no) continue; // HAProxy's stdout has its other messages too
    total++;
    if (flag === log.yes) resumed++;
    if (protocol) protocols.add(protocol);
  }
  return { resumed, total, protocols: [...protocols] };
}

/** One scenario on a running proxy: a warm-up wrk run, then the measured one. */
export async function measure(r: Running, s: Throughput, backend: Backend | null): Promise<{ run: Run; upstreamPer1k: number | null; resumption: Resumption | null }> {
  await wrk(CORE_LOAD, CLIENTS, r.port, s.path, WARMUP_SECONDS, s.close, s.tls);
  const logFrom = r.resumption === null ? 0 : fileSize(r.resumption.file);
  const t0 = cpuTicks(r.pid);
  const running = wrk(CORE_LOAD, CLIENTS, r.port, s.path, SECONDS, s.close, s.tls);
  // S5 reads the backend's counters from 1 s into the run to its end: the warm-up's clients were
  // cut off mid-request, which costs some proxies the upstream connections those requests held,
  // and the measured run's first second re-opens them. What follows is steady load.
  let s0: { accepts: number; requests: number } | null = null;
  if (backend) {
    await sleep(S5_SKIP_MS);
    s0 = await stubStatus(backend);
  }
  const w = await running;
  const t1 = cpuTicks(r.pid);
  let upstreamPer1k: number | null = null;
  if (backend && s0) {
    const s1 = await stubStatus(backend);
    // The second read is itself one accepted connection and one request.
    upstreamPer1k = (Math.max(0, s1.accepts - s0.accepts - 1) / Math.max(1, s1.requests - s0.requests - 1)) * 1000;
  }
  let resumption: Resumption | null = null;
  if (r.resumption !== null) {
    await sleep(300); // the last requests' log lines
    resumption = countResumption(r.resumption, logFrom);
  }
  return { run: { ...w, cpuPer1k: ((t1 - t0) / CLK_TCK / w.requests) * 1000 }, upstreamPer1k, resumption };
}

/** RSS of the proxy's tree, after a full GC when it is a Node process. */
async function settledRss(r: Running): Promise<number> {
  if (r.node) {
    killGroup(r.child, 'SIGUSR2');
    await sleep(500);
  }
  return rssKiB(r.pid);
}

/** S4: IDLE_CONNECTIONS clients connect, make one request each and stay; the proxy's RSS. */
export async function idleClients(r: Running): Promise<IdleRun> {
  const before = await settledRss(r);
  const procs = Math.ceil(IDLE_CONNECTIONS / IDLE_PER_PROCESS);
  const children: ChildProcess[] = [];
  const results: Promise<[number, number]>[] = [];
  for (let i = 0; i < procs; i++) {
    const count = Math.floor(IDLE_CONNECTIONS / procs) + (i < IDLE_CONNECTIONS % procs ? 1 : 0);
    const child = spawn('taskset', ['-c', String(CORE_LOAD), process.execPath, join(PEERS_DIR, 'idle-clients.mjs'), String(r.port), String(count)], {
      detached: true,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    live.add(child);
    children.push(child);
    results.push(
      new Promise((resolve) => {
        let buf = '';
        const timer = setTimeout(() => resolve([0, count]), 120_000);
        child.stdout?.setEncoding('utf8').on('data', (d: string) => {
          buf += d;
          const m = /idle (\d+) (\d+)/.exec(buf);
          if (m) {
            clearTimeout(timer);
            resolve([Number(m[1]), Number(m[2])]);
          }
        });
        child.once('exit', () => {
          clearTimeout(timer);
          resolve([0, count]);
        });
      }),
    );
  }
  const counts = await Promise.all(results);
  await sleep(2_000);
  const early = await settledRss(r);
  await sleep(SETTLE_MS);
  const after = await settledRss(r);
  const fds = fdCount(r.pid);
  for (const c of children) await stop(c);
  return { beforeKiB: before, earlyKiB: early, afterKiB: after, held: counts.reduce((a, c) => a + c[0], 0), failed: counts.reduce((a, c) => a + c[1], 0), fds };
}
