/**
 * Benchmark: lifeline's reverse proxy against nginx, HAProxy and the Node proxies.
 *
 * Topology on a 2-core machine: each proxy runs as one process doing the work, pinned to CPU 0;
 * wrk and the backend (its own nginx, 1 worker) share CPU 1. Every proxy is started fresh for each
 * round and must answer before it is measured.
 *   S1  wrk -t1 -c50, 100-byte responses, keep-alive
 *   S2  the same with `Connection: close` on every request
 *   S3  64 KiB responses
 *   S4  10,000 idle keep-alive client connections (one GET each): proxy RSS per connection,
 *       2 s after and once settled (SETTLE_MS later)
 *   S5  upstream connections opened per 1,000 requests under steady load: the backend's
 *       stub_status `accepts` per `requests`, from 1 s into the measured S1 run to its end
 *   and S1 once more with `workers: 2` (unpinned), for the workers table
 * For S1-S3: req/s, p50, p99 (wrk --latency), the proxy's CPU seconds per 1,000 requests
 * (utime+stime of its process tree from /proc), errors (socket errors and non-2xx). Medians of the
 * rounds. A peer that is missing or does not start is "not available", not a crash. Every process
 * started here runs in its own process group and is killed at the end, on failure and on Ctrl-C.
 *
 * Run: bash bench/proxy/run.sh [--write] [--quick]   (installs, builds, then runs this file)
 *  or: node dist/bench/proxy/run.js [--write] [--quick] [--only=nginx,lifeline] [--no-install]
 * --quick: 1 round, 3 s runs, S4 with 2,000 connections (for development; not for RESULTS.md).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { machineLine, median, writeSection } from '../results.js';
import type { WrkResult } from './processes.js';
import { cpuTicks, fdCount, freePort, get, killAll, killGroup, launch, live, removeAtExit, rssKiB, sleep, stop, waitReady, wrk } from './processes.js';
import { LARGE_BODY_BYTES, LARGE_PATH, SMALL_BODY, backendNginx, proxyHaproxy, proxyLifeline, proxyNginx } from './configs.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PEERS_DIR = join(ROOT, 'bench', 'proxy', 'peers');
const PEER_MODULES = join(ROOT, 'bench', '.peers', 'node_modules');
/**
 * Every Node proxy, lifeline and the peers alike: the GC hook for S4, and a 64 MiB young
 * generation semi-space (Node's default is 16), the setting lifeline documents for a proxy: a
 * quarter as many young-generation pauses, so fewer requests wait behind one (p99).
 */
const NODE_FLAGS = ['--max-semi-space-size=64', '--expose-gc', '--import', pathToFileURL(join(PEERS_DIR, 'gc-on-signal.mjs')).href];

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const WRITE = argv.includes('--write');
const ONLY = argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const ROUNDS = QUICK ? 1 : 2;
const SECONDS = QUICK ? 3 : 5;
const WARMUP_SECONDS = 1;
const CLIENTS = 50;
const IDLE_CONNECTIONS = QUICK ? 2_000 : 10_000;
const IDLE_PER_PROCESS = 5_000;
const CORE_PROXY = 0;
const CORE_LOAD = 1;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;


// ---------------------------------------------------------------------------------------------
// The backend

interface Backend {
  port: number;
  statusPort: number;
  child: ChildProcess;
}

async function startBackend(dir: string): Promise<Backend> {
  const port = await freePort();
  const statusPort = await freePort();
  mkdirSync(join(dir, 'www'), { recursive: true });
  writeFileSync(join(dir, 'www', '64k.bin'), Buffer.alloc(LARGE_BODY_BYTES, 'y'));
  const conf = join(dir, 'backend.conf');
  writeFileSync(conf, backendNginx(dir, port, statusPort));
  const log = join(dir, 'backend.out');
  const child = launch(CORE_LOAD, 'nginx', ['-p', dir, '-c', conf], log);
  await waitReady(port, child, join(dir, 'backend-error.log'), SMALL_BODY);
  const big = await get(port, LARGE_PATH);
  if (big?.body.length !== LARGE_BODY_BYTES) throw new Error('backend: /64k is not 64 KiB');
  return { port, statusPort, child };
}

/** The backend's stub_status counters; each read is itself one accepted connection and request. */
async function stubStatus(b: Backend): Promise<{ accepts: number; requests: number }> {
  const r = await get(b.statusPort, '/');
  const m = /accepts handled requests\s+(\d+)\s+\d+\s+(\d+)/.exec(r?.body ?? '');
  if (!m) throw new Error(`backend stub_status unreadable: ${r?.body ?? 'no answer'}`);
  return { accepts: Number(m[1]), requests: Number(m[2]) };
}

// ---------------------------------------------------------------------------------------------
// The proxies

interface Proxy {
  id: string;
  label: string;
  /** null when it can run here; else why not. */
  unavailable(): string | null;
  /** A Node process: preloaded with gc-on-signal.mjs, collected before each S4 reading. */
  node: boolean;
  /** [command, args] to run pinned, given its files. */
  command(dir: string, port: number, backendPort: number): [string, string[]];
  /** CPUs it may use (taskset list); the one-process proxies get CORE_PROXY. */
  cpus?: string;
  /** Measured in S1 only, for the workers table (item 3), not in the main tables. */
  s1Only?: boolean;
}

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function nodePeer(id: string, label: string, script: string, packages: string[], mode = ''): Proxy {
  return {
    id,
    label,
    unavailable: () => {
      const missing = packages.filter((p) => !existsSync(join(PEER_MODULES, p, 'package.json')));
      return missing.length ? `${missing.join(', ')} not installed in bench/.peers` : null;
    },
    node: true,
    command: (_dir, port, backendPort) => [process.execPath, [...NODE_FLAGS, join(PEERS_DIR, script), String(port), String(backendPort), ...(mode ? [mode] : [])]],
  };
}

const PROXIES: Proxy[] = [
  {
    id: 'nginx',
    label: 'nginx (1 worker, upstream keepalive)',
    node: false,
    unavailable: () => (has('nginx') ? null : 'nginx not installed'),
    command: (dir, port, backendPort) => {
      const conf = join(dir, `proxy-nginx-${port}.conf`);
      writeFileSync(conf, proxyNginx(dir, port, backendPort));
      return ['nginx', ['-p', dir, '-c', conf]];
    },
  },
  {
    id: 'haproxy',
    label: 'HAProxy (nbthread 1, http-reuse safe)',
    node: false,
    unavailable: () => (has('haproxy') ? null : 'haproxy not installed'),
    command: (dir, port, backendPort) => {
      const conf = join(dir, `haproxy-${port}.cfg`);
      writeFileSync(conf, proxyHaproxy(port, backendPort));
      return ['haproxy', ['-db', '-f', conf]];
    },
  },
  {
    id: 'lifeline',
    label: 'lifeline (workers: 1)',
    node: true,
    unavailable: () => (existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js')) ? null : 'not built (npm run build)'),
    command: (dir, port, backendPort) => {
      const conf = join(dir, `lifeline-${port}.yaml`);
      writeFileSync(conf, proxyLifeline(port, backendPort));
      return [process.execPath, [...NODE_FLAGS, join(ROOT, 'bin', 'lifeline.js'), 'proxy', '--config', conf]];
    },
  },
  {
    // Item 3 of the issue: `workers: 2` on this 2-core machine. Unpinned (CPUs 0-1), so its two
    // workers share CPU 1 with wrk and the backend: an honest "what a second worker buys here".
    id: 'lifeline-2w',
    label: 'lifeline (workers: 2, CPUs 0-1, sharing CPU 1 with wrk and the backend)',
    node: true,
    cpus: `${CORE_PROXY},${CORE_LOAD}`,
    s1Only: true,
    unavailable: () => (existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js')) ? null : 'not built (npm run build)'),
    command: (dir, port, backendPort) => {
      const conf = join(dir, `lifeline-2w-${port}.yaml`);
      writeFileSync(conf, proxyLifeline(port, backendPort, 2));
      return [process.execPath, [...NODE_FLAGS, join(ROOT, 'bin', 'lifeline.js'), 'proxy', '--config', conf]];
    },
  },
  nodePeer('fast-proxy-lite', 'fast-proxy-lite (http.Agent keep-alive)', 'fast-proxy-lite.mjs', ['fast-proxy-lite']),
  nodePeer('http-proxy-ka', 'node-http-proxy, keep-alive agent', 'http-proxy.mjs', ['http-proxy'], 'keepalive'),
  nodePeer('fastify-http-proxy', '@fastify/http-proxy (undici 7)', 'fastify-http-proxy.mjs', ['fastify', '@fastify/http-proxy', 'undici']),
  nodePeer('http-proxy', 'node-http-proxy, default (no upstream keep-alive)', 'http-proxy.mjs', ['http-proxy'], 'default'),
];

interface Running {
  node: boolean;
  child: ChildProcess;
  pid: number;
  port: number;
}

async function startProxy(p: Proxy, dir: string, backend: Backend): Promise<Running> {
  const port = await freePort();
  const [cmd, args] = p.command(dir, port, backend.port);
  const log = join(dir, `${p.id}-${port}.log`);
  const child = launch(p.cpus ?? String(CORE_PROXY), cmd, args, log);
  try {
    await waitReady(port, child, log, SMALL_BODY);
  } catch (err) {
    await stop(child);
    throw err;
  }
  return { node: p.node, child, pid: child.pid as number, port };
}

// ---------------------------------------------------------------------------------------------
// Scenarios

type ThroughputId = 'S1' | 'S2' | 'S3';
const THROUGHPUT: { id: ThroughputId; title: string; path: string; close: boolean }[] = [
  { id: 'S1', title: `S1: ${CLIENTS} keep-alive clients, 100-byte responses`, path: '/', close: false },
  { id: 'S2', title: `S2: ${CLIENTS} clients sending \`Connection: close\`, 100-byte responses`, path: '/', close: true },
  { id: 'S3', title: `S3: ${CLIENTS} keep-alive clients, 64 KiB responses`, path: LARGE_PATH, close: false },
];

interface Run extends WrkResult {
  cpuPer1k: number;
}

interface IdleRun {
  beforeKiB: number;
  /** RSS 2 s after the last client got its response. */
  earlyKiB: number;
  /** RSS after SETTLE_MS more of idleness (V8 shrinks a young generation grown by the burst). */
  afterKiB: number;
  held: number;
  failed: number;
  fds: number;
}

interface Result {
  error: string | null;
  runs: Record<ThroughputId, Run[]>;
  s5: number[];
  s4: IdleRun[];
}

/** S5's window starts this long into the measured S1 run. */
const S5_SKIP_MS = 1_000;

async function measure(r: Running, path: string, close: boolean, backend: Backend | null): Promise<{ run: Run; upstreamPer1k: number | null }> {
  await wrk(CORE_LOAD, CLIENTS, r.port, path, WARMUP_SECONDS, close);
  const t0 = cpuTicks(r.pid);
  const running = wrk(CORE_LOAD, CLIENTS, r.port, path, SECONDS, close);
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
  return { run: { ...w, cpuPer1k: ((t1 - t0) / CLK_TCK / w.requests) * 1000 }, upstreamPer1k };
}

/**
 * How long S4 lets a proxy sit idle before a reading. A burst of 10,000 connections grows V8's
 * young generation to its maximum (16 MiB of semi-space, ~1.6 KiB per connection at 10,000, the
 * same for every Node proxy and not per connection); V8's memory reducer gives it back about 8 s
 * after a full GC once the process is idle. Both readings are reported.
 */
const SETTLE_MS = QUICK ? 3_000 : 12_000;

/** RSS of the proxy's tree, after a full GC when it is a Node process. */
async function settledRss(r: Running): Promise<number> {
  if (r.node) {
    killGroup(r.child, 'SIGUSR2');
    await sleep(500);
  }
  return rssKiB(r.pid);
}

async function idleClients(r: Running): Promise<IdleRun> {
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

// ---------------------------------------------------------------------------------------------
// Report

const fmtInt = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const fmtMs = (x: number): string => (Number.isFinite(x) ? (x < 10 ? x.toFixed(2) : x.toFixed(1)) : 'n/a');
const fmtRatio = (x: number): string => (Number.isFinite(x) && x > 0 ? `${x < 10 ? x.toFixed(2) : x.toFixed(1)}x` : 'n/a');
const fmtCpu = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : 'n/a');

interface Summary {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuPer1k: number;
  errors: number;
  rounds: number[];
}

function summarize(runs: Run[]): Summary {
  return {
    rps: median(runs.map((r) => r.rps)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    cpuPer1k: median(runs.map((r) => r.cpuPer1k)),
    errors: runs.reduce((a, r) => a + r.socketErrors + r.non2xx, 0),
    rounds: runs.map((r) => r.rps),
  };
}

const NA = '**not available** (see below)';

function unavailableNotes(results: Map<Proxy, Result>): string {
  const lines = [...results].filter(([, r]) => r.error).map(([p, r]) => `- ${p.label}: not available: ${r.error ?? ''}`);
  return lines.length ? `Not available in this run:\n\n${lines.join('\n')}` : '';
}

function throughputTable(id: ThroughputId, results: Map<Proxy, Result>): string {
  const nginx = [...results].find(([p]) => p.id === 'nginx')?.[1];
  const base = nginx && !nginx.error ? summarize(nginx.runs[id]) : null;
  const rows = [...results].map(([p, r]) => {
    if (r.error || r.runs[id].length === 0) return `| ${p.label} | ${NA} | | | | | | | | |`;
    const s = summarize(r.runs[id]);
    const errs = r.runs[id].map((x) => `${x.socketErrors}+${x.non2xx}`).join(', ');
    return `| ${p.label} | ${fmtInt(s.rps)} | ${base ? fmtRatio(s.rps / base.rps) : 'n/a'} | ${fmtMs(s.p50Ms)} | ${fmtMs(s.p99Ms)} | ${base ? fmtRatio(s.p99Ms / base.p99Ms) : 'n/a'} | ${fmtCpu(s.cpuPer1k)} | ${base ? fmtRatio(s.cpuPer1k / base.cpuPer1k) : 'n/a'} | ${s.errors === 0 ? '0' : `${s.errors} (${errs})`} | ${s.rounds.map(fmtInt).join(', ')} |`;
  });
  return [
    '| proxy | req/s | req/s vs nginx | p50 ms | p99 ms | p99 vs nginx | CPU s / 1,000 req | CPU vs nginx | errors (socket+non-2xx, all rounds) | req/s per round |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

function idleTable(results: Map<Proxy, Result>): string {
  const perConn = (r: Result): number => median(r.s4.map((x) => (x.afterKiB - x.beforeKiB) / Math.max(1, x.held)));
  const nginx = [...results].find(([p]) => p.id === 'nginx')?.[1];
  const base = nginx && !nginx.error && nginx.s4.length ? perConn(nginx) : Number.NaN;
  const rows = [...results].map(([p, r]) => {
    if (r.error || r.s4.length === 0) return `| ${p.label} | ${NA} | | | | | | | | |`;
    const k = perConn(r);
    const early = median(r.s4.map((x) => (x.earlyKiB - x.beforeKiB) / Math.max(1, x.held)));
    const last = r.s4[r.s4.length - 1] as IdleRun;
    return `| ${p.label} | ${(median(r.s4.map((x) => x.beforeKiB)) / 1024).toFixed(1)} | ${(median(r.s4.map((x) => x.earlyKiB)) / 1024).toFixed(1)} | ${(median(r.s4.map((x) => x.afterKiB)) / 1024).toFixed(1)} | ${r.s4.map((x) => fmtInt(x.held)).join(', ')} | ${r.s4.reduce((a, x) => a + x.failed, 0)} | ${early.toFixed(2)} | **${k.toFixed(2)}** | ${fmtRatio(k / base)} | ${fmtInt(last.fds)} |`;
  });
  return [
    `| proxy | RSS before (MiB) | RSS 2 s after (MiB) | RSS ${SETTLE_MS / 1000} s later (MiB) | connections held per round | failed | KiB per idle connection at 2 s | **KiB per idle connection, settled** | settled vs nginx | proxy fds (last round) |`,
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** Item 3: S1 with one worker (pinned) and two (unpinned, sharing CPU 1 with wrk and the backend). */
function workersTable(results: Map<Proxy, Result>): string {
  const rows = [...results]
    .filter(([p]) => p.id === 'lifeline' || p.id === 'lifeline-2w')
    .map(([p, r]) => {
      if (r.error || r.runs.S1.length === 0) return `| ${p.label} | ${NA} | | | | | |`;
      const s = summarize(r.runs.S1);
      return `| ${p.label} | ${fmtInt(s.rps)} | ${fmtMs(s.p50Ms)} | ${fmtMs(s.p99Ms)} | ${fmtCpu(s.cpuPer1k)} | ${s.errors} | ${s.rounds.map(fmtInt).join(', ')} |`;
    });
  if (rows.length < 2) return '';
  return [
    '| lifeline | req/s | p50 ms | p99 ms | CPU s / 1,000 req (all processes) | errors | req/s per round |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

function reuseTable(results: Map<Proxy, Result>): string {
  const rows = [...results].map(([p, r]) => {
    if (r.error || r.s5.length === 0) return `| ${p.label} | ${NA} | |`;
    return `| ${p.label} | ${median(r.s5).toFixed(2)} | ${r.s5.map((x) => x.toFixed(2)).join(', ')} |`;
  });
  return ['| proxy | new upstream connections per 1,000 requests (median) | per round |', '|---|---|---|', ...rows].join('\n');
}

// ---------------------------------------------------------------------------------------------

function versionOf(cmd: string, args: string[], re: RegExp): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return re.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[1] ?? 'not installed';
}

function versions(): string {
  const npm = (name: string): string => {
    try {
      return `${name} ${(JSON.parse(readFileSync(join(PEER_MODULES, name, 'package.json'), 'utf8')) as { version: string }).version}`;
    } catch {
      return `${name} not installed`;
    }
  };
  const commit = spawnSync('git', ['-C', ROOT, 'describe', '--always', '--dirty'], { encoding: 'utf8' }).stdout?.trim() || 'unknown';
  return [
    `lifeline ${commit}`,
    `nginx ${versionOf('nginx', ['-v'], /nginx\/(\S+)/)}`,
    `HAProxy ${versionOf('haproxy', ['-v'], /version (\S+)/)}`,
    `wrk ${versionOf('wrk', ['-v'], /wrk (\S+)/)}`,
    ...['http-proxy', 'fastify', '@fastify/http-proxy', 'undici', 'fast-proxy-lite'].map(npm),
  ].join(', ');
}

function install(): string | null {
  if (argv.includes('--no-install')) return null;
  const r = spawnSync('bash', [join(ROOT, 'bench', 'proxy', 'install.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  return r.status === 0 ? null : `install.sh exited with ${r.status ?? r.signal}; running with what is installed`;
}

/**
 * One round of one proxy: S1-S3 (and S5 inside S1) on one process, then S4 on a fresh one. S4's
 * process starts first and sits idle through S1-S3 (on the proxy core, where it costs nothing),
 * so its "before" reading is settled too; one full GC at its start starts V8's memory reducer.
 */
async function oneRound(p: Proxy, res: Result, dir: string, backend: Backend): Promise<void> {
  const fresh = p.s1Only === true ? null : await startProxy(p, dir, backend);
  try {
    if (fresh?.node === true) killGroup(fresh.child, 'SIGUSR2');
    const freshAt = Date.now();
    const r = await startProxy(p, dir, backend);
    try {
      for (const s of THROUGHPUT) {
        if (p.s1Only === true && s.id !== 'S1') continue;
        const { run, upstreamPer1k } = await measure(r, s.path, s.close, s.id === 'S1' ? backend : null);
        res.runs[s.id].push(run);
        if (upstreamPer1k !== null) res.s5.push(upstreamPer1k);
        process.stderr.write(`${s.id} ${fmtInt(run.rps)} req/s; `);
      }
    } finally {
      await stop(r.child);
    }
    if (fresh === null) {
      process.stderr.write('\n');
      return;
    }
    await sleep(Math.max(1_000, SETTLE_MS - (Date.now() - freshAt)));
    const idle = await idleClients(fresh);
    res.s4.push(idle);
    const perConn = (kib: number): string => ((kib - idle.beforeKiB) / Math.max(1, idle.held)).toFixed(2);
    process.stderr.write(`S4 ${perConn(idle.afterKiB)} KiB/conn settled, ${perConn(idle.earlyKiB)} at 2 s (${idle.held} held)\n`);
  } finally {
    if (fresh !== null) await stop(fresh.child);
  }
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const load0 = loadavg()[0] ?? 0;
  const installNote = install();
  if (!has('wrk') || !has('taskset') || !has('nginx')) throw new Error('bench/proxy needs wrk, taskset and nginx (the backend): run bash bench/proxy/install.sh');
  const proxies = PROXIES.filter((p) => !ONLY || ONLY.includes(p.id));
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-bench-proxy-'));
  removeAtExit(dir);
  chmodSync(dir, 0o755); // nginx workers run as an unprivileged user and read www/ from here
  const results = new Map<Proxy, Result>(proxies.map((p) => [p, { error: p.unavailable(), runs: { S1: [], S2: [], S3: [] }, s5: [], s4: [] }]));
  let backend: Backend | null = null;
  try {
    backend = await startBackend(dir);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const p of proxies) {
        const res = results.get(p) as Result;
        if (res.error) continue;
        process.stderr.write(`round ${round}/${ROUNDS} ${p.id}: `);
        try {
          await oneRound(p, res, dir, backend);
        } catch (err) {
          res.error = `failed in round ${round}: ${(err as Error).message}`;
          process.stderr.write(`${res.error}\n`);
        }
      }
    }
  } finally {
    if (backend) await stop(backend.child);
    killAll();
  }

  const flags = `${WRITE ? ' --write' : ''}${QUICK ? ' --quick' : ''}${ONLY ? ` --only=${ONLY.join(',')}` : ''}`;
  // run.sh sets this, so the section names the one command that installs, builds and runs.
  const command = process.env['BENCH_PROXY_RUN_SH'] === '1' ? `bash bench/proxy/run.sh${flags}` : `node dist/bench/proxy/run.js${flags}`;
  const seconds = Math.round((Date.now() - t0) / 1000);
  // The main tables compare one-process proxies; the two-worker run has its own table.
  const main = new Map([...results].filter(([p]) => p.s1Only !== true));
  const workers = workersTable(results);
  const body = [
    `Each proxy runs as one process doing the work, pinned to CPU 0 (\`taskset -c 0\`); **wrk and the backend (nginx, 1 worker) share CPU 1**, so the native proxies may be limited by the load generator's core rather than their own. wrk \`-t1 -c${CLIENTS} -d${SECONDS}s --latency\` after a ${WARMUP_SECONDS} s warm-up; ${ROUNDS} round${ROUNDS > 1 ? 's' : ''}, each proxy started fresh per round; medians. CPU is the proxy's utime+stime (whole process tree) from /proc over the measured run. Every Node proxy runs with \`--max-semi-space-size=64\` (lifeline's documented setting; Node's default young generation is 16 MiB). Every proxy: 75 s client keep-alive, no cap on requests per client connection, upstream keep-alive (except node-http-proxy default), no access log.`,
    `The machine is shared with other work (load average ${load0.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end): figures are noisy, read the ratios in one run rather than absolutes. Versions: ${versions()}.${QUICK ? ' **--quick run: 1 round, 3 s runs, S4 with 2,000 connections; for development only.**' : ''}${installNote ? ` ${installNote}.` : ''}`,
    ...THROUGHPUT.map((s) => `### ${s.title}\n\n${throughputTable(s.id, main)}`),
    `### S4: ${fmtInt(IDLE_CONNECTIONS)} idle keep-alive client connections (one GET each), proxy RSS\n\nVmRSS of the proxy's process tree (nginx: master + worker): before the clients connect (the process started ${SETTLE_MS / 1000} s or more earlier and served only the ready check), 2 s after all clients have had their response, and ${SETTLE_MS / 1000} s after that; for the Node proxies every reading follows a full GC (\`--expose-gc\`, triggered by SIGUSR2 through bench/proxy/peers/gc-on-signal.mjs). The settled reading is the per-connection figure: the burst of connections grows V8's young generation to its maximum (16 MiB of semi-space, about 1.6 KiB "per connection" at 10,000, alike for every Node proxy and not proportional to connections), and V8's memory reducer returns it once the process has been idle about 8 s after a full GC. The 2 s column shows the reading before that. The clients are Node processes on CPU 1. The fds column shows whether a proxy also holds upstream connections for them.\n\n${idleTable(main)}`,
    `### S5: upstream connections opened per 1,000 requests under steady load (during the measured S1 run)\n\nFrom the backend's stub_status: new \`accepts\` per 1,000 backend \`requests\`, read ${S5_SKIP_MS / 1000} s into the measured S1 run and at its end. The skipped first second is still warm-up: the warm-up wrk run ends by cutting its clients off mid-request, which makes some proxies drop the upstream connections those requests held, and HAProxy's \`http-reuse safe\` gives each new client session its own first server connection.\n\n${reuseTable(main)}`,
    workers
      ? `### S1 with \`workers: 1\` and \`workers: 2\`\n\nThe same S1 load. One worker is the pinned single process of the tables above; two workers run unpinned on CPUs 0-1, so **they share CPU 1 with wrk and the backend**: on this 2-core machine a second worker competes with the load generator instead of adding a free core, and this figure is not what two workers give on a machine with cores to spare.\n\n${workers}`
      : '',
    unavailableNotes(results),
    `Took ${seconds} s.`,
  ]
    .filter(Boolean)
    .join('\n\n');

  console.log(`\n## Reverse proxy (bench/proxy)\n\nCommand: \`${command}\`  \nMachine: ${machineLine()}\n\n${body}\n`);
  const json = {
    bench: 'proxy',
    date: new Date().toISOString(),
    quick: QUICK,
    rounds: ROUNDS,
    seconds: SECONDS,
    idleConnections: IDLE_CONNECTIONS,
    proxies: Object.fromEntries(
      [...results].map(([p, r]) => [
        p.id,
        r.error
          ? { error: r.error }
          : {
              S1: summarize(r.runs.S1),
              S2: summarize(r.runs.S2),
              S3: summarize(r.runs.S3),
              S4KiBPerConnection: median(r.s4.map((x) => (x.afterKiB - x.beforeKiB) / Math.max(1, x.held))),
              S4: r.s4,
              S5UpstreamPer1k: median(r.s5),
            },
      ]),
    ),
  };
  console.log(JSON.stringify(json));
  if (WRITE) writeSection('proxy', 'Reverse proxy (bench/proxy)', command, body);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/proxy: ${(err as Error).stack ?? String(err)}\n`);
  killAll();
  process.exitCode = 1;
});
