/**
 * Benchmark: HTTP/2 fronts. lifeline's reverse proxy speaking HTTP/2 to clients (h2c with prior
 * knowledge, and TLS with ALPN h2) against nginx, HAProxy, http2-proxy and a bare node:http2
 * server (the floor Node's HTTP/2 sets: it serves the bodies itself, nothing is proxied).
 *
 * Topology on a 2-core machine, as bench/proxy: each front is one process doing the work, pinned
 * to CPU 0; h2load and the backend (nginx, 1 worker, HTTP/1.1) share CPU 1.
 *   T1-T4  h2load -c50 -m10, duration-based after a warm-up: 100 B and 64 KiB responses, h2c and
 *          TLS. req/s, p50/p99 (from h2load's per-request log), the front's CPU seconds per
 *          1,000 requests (utime+stime of its process tree from /proc, read when h2load opens
 *          and closes its measured window), errors. CPU ratios vs bare node:http2, nginx.
 *   M      idle HTTP/2 connections (h2c, one GET each, then idle): KiB per connection.
 *   U      upstream multiplexing: a front with an HTTP/2 upstream (lifeline `protocol: http2`,
 *          HAProxy `proto h2`) to an h2c nginx: backend connections opened, in all and per
 *          1,000 requests in steady state.
 * Rounds interleave the fronts (A B C A B C); each front is started fresh per round and must
 * answer over HTTP/2 before it is measured. A front that is missing or does not start is "not
 * available", not a crash. Every process started here is killed at the end, on failure, on Ctrl-C.
 *
 * Run: bash bench/http2/run.sh [--write] [--quick]   (installs, builds, then runs this file)
 *  or: node dist/bench/http2/run.js [--write] [--quick] [--only=lifeline,nginx] [--no-install]
 * --quick: 1 round, 2 s runs after 1 s of warm-up, 1,000 idle connections (development only,
 * about 2 minutes). The full mode (2 rounds, 10 s runs after 2 s of warm-up, 10,000 idle
 * connections) takes about 15 minutes: about 80 s per front and round, plus the upstream runs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { machineLine, writeSection } from '../results.js';
import { LARGE_BODY_BYTES, LARGE_PATH, SMALL_BODY, backendNginx } from '../proxy/configs.js';
import { cpuTicks, freePort, get, killAll, killGroup, launch, removeAtExit, sleep, stop, waitReady } from '../proxy/processes.js';
import { UPSTREAM_IDLE } from './configs.js';
import type { Mode, Tls } from './configs.js';
import type { Front, Running } from './fronts.js';
import { FRONTS, PEER_MODULES, ROOT, has, makeCert, startFront } from './fronts.js';
import { h2load, h2loadArgs } from './h2load.js';
import type { IdleRun } from './idle.js';
import { idleConnections, kibPerConnection } from './idle.js';
import type { Row, Run } from './report.js';
import { failureNotes, fmtInt, idleTable, summarize, targetsLine, throughputTable, unavailableNotes, upstreamTable } from './report.js';
import type { H2Backend, UpstreamRun } from './upstream.js';
import { BACKEND_STREAMS, UPSTREAM_FRONTS, startH2cBackend, stubStatus, upstreamRound } from './upstream.js';

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const WRITE = argv.includes('--write');
const ONLY = argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
/** A mistake in the command line: its message is printed alone, without a stack. */
class UsageError extends Error {}
const unknownFlags = argv.filter((a) => !['--quick', '--write', '--no-install'].includes(a) && !a.startsWith('--only='));
const ROUNDS = QUICK ? 1 : 2;
const SECONDS = QUICK ? 2 : 10;
const WARMUP_SECONDS = QUICK ? 1 : 2;
const CLIENTS = 50;
const STREAMS = 10;
const IDLE_CONNECTIONS = QUICK ? 1_000 : 10_000;
/** As bench/proxy's S4: V8's memory reducer gives back a burst-grown young generation ~8 s after a full GC. */
const SETTLE_MS = QUICK ? 3_000 : 12_000;
const CORE_FRONT = 0;
const CORE_LOAD = 1;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

type ScenarioId = 'T1' | 'T2' | 'T3' | 'T4';
const SCENARIOS: { id: ScenarioId; mode: Mode; path: string; title: string }[] = [
  { id: 'T1', mode: 'h2c', path: '/', title: 'T1: h2c (prior knowledge), 100-byte responses' },
  { id: 'T2', mode: 'h2c', path: LARGE_PATH, title: 'T2: h2c (prior knowledge), 64 KiB responses' },
  { id: 'T3', mode: 'tls', path: '/', title: 'T3: TLS (ALPN h2), 100-byte responses' },
  { id: 'T4', mode: 'tls', path: LARGE_PATH, title: 'T4: TLS (ALPN h2), 64 KiB responses' },
];

const url = (mode: Mode, port: number, path: string): string => `${mode === 'tls' ? 'https' : 'http'}://127.0.0.1:${port}${path}`;

interface Result {
  row: Row;
  runs: Record<ScenarioId, Run[]>;
  idle: IdleRun[];
  /** 1-minute load average when each of its rounds began. */
  loads: number[];
  /** Scenarios that produced no figure, with why. */
  failures: string[];
}

interface Backend {
  port: number;
  statusPort: number;
  child: ChildProcess;
}

/** The HTTP/1.1 backend: bench/proxy's nginx (1 worker, `/` 100 B, `/64k` 64 KiB) on the load core. */
async function startBackend(dir: string): Promise<Backend> {
  const port = await freePort();
  const statusPort = await freePort();
  mkdirSync(join(dir, 'www'), { recursive: true });
  writeFileSync(join(dir, 'www', '64k.bin'), Buffer.alloc(LARGE_BODY_BYTES, 'y'));
  const conf = join(dir, 'backend.conf');
  writeFileSync(conf, backendNginx(dir, port, statusPort));
  const child = launch(CORE_LOAD, 'nginx', ['-p', dir, '-c', conf], join(dir, 'backend.out'));
  await waitReady(port, child, join(dir, 'backend-error.log'), SMALL_BODY);
  const big = await get(port, LARGE_PATH);
  if (big?.body.length !== LARGE_BODY_BYTES) throw new Error('backend: /64k is not 64 KiB');
  return { port, statusPort, child };
}

async function measure(r: Running, mode: Mode, path: string, dir: string, backend: Backend): Promise<Run> {
  let t0 = 0;
  let t1 = 0;
  let s0 = { accepts: 0, requests: 0 };
  let s1 = { accepts: 0, requests: 0 };
  const run = await h2load({
    core: CORE_LOAD,
    url: url(mode, r.port, path),
    clients: CLIENTS,
    streams: STREAMS,
    seconds: SECONDS,
    warmupSeconds: WARMUP_SECONDS,
    logFile: join(dir, `h2load-${r.port}.log`),
    onMeasureStart: async () => {
      t0 = cpuTicks(r.pid);
      s0 = await stubStatus(backend.statusPort);
    },
    onMeasureEnd: async () => {
      t1 = cpuTicks(r.pid);
      s1 = await stubStatus(backend.statusPort);
    },
  });
  // The bare server has no upstream; the second read is itself one accept and one request.
  const upstreamPer1k = (Math.max(0, s1.accepts - s0.accepts - 1) / Math.max(1, s1.requests - s0.requests - 1)) * 1000;
  return { ...run, cpuPer1k: ((t1 - t0) / CLK_TCK / run.requests) * 1000, upstreamPer1k };
}

/**
 * One round of one front: T1-T4 (one process per mode), then M on a process started before them,
 * which sat idle through T1-T4 on the front core, so its "before" reading is settled too.
 */
async function oneRound(f: Front, res: Result, dir: string, tls: Tls, backend: Backend, round: number): Promise<void> {
  const cpus = String(CORE_FRONT);
  const fresh = await startFront(f, dir, backend.port, 'h2c', tls, cpus, false);
  try {
    if (fresh.node) killGroup(fresh.child, 'SIGUSR2');
    const freshAt = Date.now();
    for (const mode of ['h2c', 'tls'] as const) {
      const r = await startFront(f, dir, backend.port, mode, tls, cpus, true);
      try {
        for (const s of SCENARIOS.filter((x) => x.mode === mode)) {
          // One scenario failing (h2load killed, say) costs that figure only, not the front's others.
          try {
            const run = await measure(r, mode, s.path, dir, backend);
            res.runs[s.id].push(run);
            process.stderr.write(`${s.id} ${fmtInt(run.rps)} req/s ${run.cpuPer1k.toFixed(4)} CPU s/1k ${run.upstreamPer1k.toFixed(1)} upstream conns/1k; `);
          } catch (err) {
            const why = (err as Error).message.replace(/\s+/g, ' ');
            res.failures.push(`${s.id} in round ${round}: ${why}`);
            process.stderr.write(`${s.id} failed: ${why}; `);
          }
        }
      } finally {
        await stop(r.child);
      }
    }
    await sleep(Math.max(1_000, SETTLE_MS - (Date.now() - freshAt)));
    const idle = await idleConnections(fresh, CORE_LOAD, IDLE_CONNECTIONS, SETTLE_MS);
    res.idle.push(idle);
    process.stderr.write(`M ${kibPerConnection(idle, 'afterKiB').toFixed(2)} KiB/conn settled (${idle.held} held, ${idle.failed} failed)\n`);
  } finally {
    await stop(fresh.child);
  }
}

function versionOf(cmd: string, args: string[], re: RegExp): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return re.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[1] ?? 'not installed';
}

function versions(): string {
  let peer = 'http2-proxy not installed';
  try {
    peer = `http2-proxy ${(JSON.parse(readFileSync(join(PEER_MODULES, 'http2-proxy', 'package.json'), 'utf8')) as { version: string }).version}`;
  } catch {
    // reported as not installed
  }
  const commit = spawnSync('git', ['-C', ROOT, 'describe', '--always', '--dirty'], { encoding: 'utf8' }).stdout?.trim() || 'unknown';
  return [
    `lifeline ${commit}`,
    `nginx ${versionOf('nginx', ['-v'], /nginx\/(\S+)/)}`,
    `HAProxy ${versionOf('haproxy', ['-v'], /version (\S+)/)}`,
    `h2load ${versionOf('h2load', ['--version'], /nghttp2\/(\S+)/)}`,
    peer,
  ].join(', ');
}

function install(): string | null {
  if (argv.includes('--no-install')) return null;
  const r = spawnSync('bash', [join(ROOT, 'bench', 'http2', 'install.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  return r.status === 0 ? null : `install.sh exited with ${r.status ?? r.signal}; running with what is installed`;
}

const load1 = (): string => (loadavg()[0] ?? 0).toFixed(2);
const loads = (): string => loadavg().map((x) => x.toFixed(2)).join(', ');

async function runUpstream(dir: string, tls: Tls): Promise<Map<Row, UpstreamRun[]>> {
  const fronts = UPSTREAM_FRONTS.filter((f) => !ONLY || ONLY.includes(f.id));
  const rows = new Map<Row, UpstreamRun[]>(fronts.map((f) => [{ id: f.id, label: f.label, error: f.unavailable() }, []]));
  let backend: H2Backend | null = null;
  try {
    backend = await startH2cBackend(join(dir, 'h2c-backend'), CORE_LOAD);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [i, f] of fronts.entries()) {
        const row = [...rows.keys()][i] as Row;
        if (row.error) continue;
        process.stderr.write(`U round ${round}/${ROUNDS} ${f.id} (load ${load1()}): `);
        try {
          const u = await upstreamRound(f, dir, tls, backend, { coreFront: CORE_FRONT, coreLoad: CORE_LOAD, clients: CLIENTS, streams: STREAMS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, clkTck: CLK_TCK });
          rows.get(row)?.push(u);
          process.stderr.write(`${u.openedInAll} opened in all, ${u.steadyPer1k.toFixed(2)} per 1,000 in steady state, ${fmtInt(u.run.rps)} req/s\n`);
        } catch (err) {
          row.error = `failed in round ${round}: ${(err as Error).message}`;
          process.stderr.write(`${row.error}\n`);
        }
      }
    }
  } catch (err) {
    for (const row of rows.keys()) row.error ??= `the h2c backend did not start: ${(err as Error).message}`;
  } finally {
    if (backend) await stop(backend.child);
  }
  return rows;
}

async function main(): Promise<void> {
  if (unknownFlags.length) throw new UsageError(`unknown argument ${unknownFlags.join(', ')}; known: --quick, --write, --no-install, --only=ID[,ID...]`);
  const t0 = Date.now();
  const loadStart = loads();
  const installNote = install();
  for (const cmd of ['h2load', 'taskset', 'nginx', 'openssl']) {
    if (!has(cmd)) throw new Error(`bench/http2 needs ${cmd}: run bash bench/http2/install.sh`);
  }
  const known = new Set([...FRONTS, ...UPSTREAM_FRONTS].map((f) => f.id));
  const unknown = (ONLY ?? []).filter((id) => !known.has(id));
  if (unknown.length) throw new UsageError(`--only: unknown front ${unknown.join(', ')}; known: ${[...known].join(', ')}`);
  const fronts = FRONTS.filter((f) => !ONLY || ONLY.includes(f.id));
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-bench-http2-'));
  removeAtExit(dir);
  chmodSync(dir, 0o755); // nginx workers run as an unprivileged user and read www/ and the key from here
  const tls = makeCert(dir);
  chmodSync(tls.keyFile, 0o644);
  const results = new Map<Front, Result>(fronts.map((f) => [f, { row: { id: f.id, label: f.label, error: f.unavailable() }, runs: { T1: [], T2: [], T3: [], T4: [] }, idle: [], loads: [], failures: [] }]));
  let backend: Backend | null = null;
  let upstream = new Map<Row, UpstreamRun[]>();
  try {
    backend = await startBackend(dir);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const f of fronts) {
        const res = results.get(f) as Result;
        if (res.row.error) continue;
        res.loads.push(loadavg()[0] ?? 0);
        process.stderr.write(`round ${round}/${ROUNDS} ${f.id} (load ${load1()}): `);
        try {
          await oneRound(f, res, dir, tls, backend, round);
        } catch (err) {
          res.row.error = `failed in round ${round}: ${(err as Error).message}`;
          process.stderr.write(`${res.row.error}\n`);
        }
      }
    }
    await stop(backend.child);
    backend = null;
    upstream = await runUpstream(dir, tls);
  } finally {
    if (backend) await stop(backend.child);
    killAll();
  }

  const flags = `${WRITE ? ' --write' : ''}${QUICK ? ' --quick' : ''}${ONLY ? ` --only=${ONLY.join(',')}` : ''}`;
  const command = process.env['BENCH_HTTP2_RUN_SH'] === '1' ? `bash bench/http2/run.sh${flags}` : `node dist/bench/http2/run.js${flags}`;
  const h2cmd = (mode: Mode, path: string): string =>
    `taskset -c ${CORE_LOAD} h2load ${h2loadArgs({ clients: CLIENTS, streams: STREAMS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, url: url(mode, 0, path) }).join(' ').replace(':0/', ':PORT/')} --log-file=FILE`;
  const rowsOf = (id: ScenarioId): Map<Row, Run[]> => new Map([...results.values()].map((r) => [r.row, r.runs[id]]));
  const roundLoads = [...results.values()].filter((r) => r.loads.length).map((r) => `${r.row.id} ${r.loads.map((x) => x.toFixed(2)).join(', ')}`).join('; ');
  const bound = Math.ceil((CLIENTS * STREAMS) / BACKEND_STREAMS);
  const body = [
    `Each front runs as one process doing the work, pinned to CPU 0 (\`taskset -c ${CORE_FRONT}\`); **h2load and the backend (nginx, 1 worker, HTTP/1.1 with keep-alive) share CPU 1**, so the native fronts may be limited by the load generator's core rather than their own. ${ROUNDS} round${ROUNDS > 1 ? 's' : ''}, the fronts interleaved (each started fresh per round); medians. CPU is the front's utime+stime (whole process tree) from /proc, read when h2load's measured window opens and closes; p50/p99 from h2load's per-request log (\`--log-file\`; h2load itself prints only min/max/mean/sd). Every front: 128 concurrent streams per connection, 75 s idle, no cap on requests per connection, no access log, up to ${UPSTREAM_IDLE} idle HTTP/1.1 backend connections kept (h2load keeps ${CLIENTS * STREAMS} requests in flight, each needing a backend connection; at nginx's and lifeline's usual 64 most of them would be closed and reopened, so the tables would measure connection setup); the Node fronts run with \`--max-semi-space-size=4\` as \`npm start\` and bench/proxy do. "New backend connections / 1,000 req" is the backend's stub_status \`accepts\` over its \`requests\` in the measured window: near 0 means the figures are the front's data path. TLS: a P-256 self-signed certificate, TLS 1.3, ALPN h2.`,
    `Load average (1, 5, 15 min) at the start: ${loadStart}; at the end: ${loads()}. 1-minute load at the start of each front's rounds: ${roundLoads || 'none'}. The machine is shared: read the ratios within one run rather than absolutes. Node ${process.version}. Versions: ${versions()}.${QUICK ? ' **--quick run: 1 round, 2 s runs after 1 s of warm-up, 1,000 idle connections; for development only.**' : ''}${installNote ? ` ${installNote}.` : ''}`,
    ...SCENARIOS.map((s) => `### ${s.title}\n\n\`${h2cmd(s.mode, s.path)}\`\n\n${throughputTable(rowsOf(s.id))}\n\n${targetsLine(rowsOf(s.id))}`),
    `### M: ${fmtInt(IDLE_CONNECTIONS)} idle HTTP/2 client connections (h2c, one GET / each), front RSS\n\nVmRSS of the front's process tree (nginx: master + worker) before the clients connect (the process started ${SETTLE_MS / 1000} s or more earlier and sat idle through T1-T4), 2 s after every client has had its response, and ${SETTLE_MS / 1000} s after that; a Node front is collected before each reading (\`--expose-gc\`, SIGUSR2 through bench/proxy/peers/gc-on-signal.mjs). The settled reading is the per-connection figure, as in bench/proxy's S4 (a burst of connections grows V8's young generation, given back once idle). Clients: \`node bench/http2/peers/idle-h2-clients.mjs PORT COUNT\` (raw sockets: preface, SETTINGS, one request, SETTINGS and PING ACKs, nothing else), up to 5,000 per process, on CPU ${CORE_LOAD}. The fds column shows whether a front also holds upstream connections for them.\n\n${idleTable(new Map([...results.values()].map((r) => [r.row, r.idle])), SETTLE_MS / 1000)}`,
    `### U: upstream HTTP/2 multiplexing\n\nThe front's upstream is an h2c nginx (1 worker, \`listen ... http2\`, ${BACKEND_STREAMS} concurrent streams, serving the 100 bytes itself) on CPU ${CORE_LOAD}; the load is T1's (\`${h2cmd('h2c', '/')}\`, ${CLIENTS * STREAMS} requests in flight). From the backend's stub_status \`accepts\`: connections opened from the front's start (its readiness check included) to the end of the run, and per 1,000 backend requests from the end of h2load's warm-up to the end of its measured window. A front that multiplexes needs ceil(${CLIENTS * STREAMS} / ${BACKEND_STREAMS}) = ${bound} connections and opens none in steady state.\n\n${upstreamTable(upstream, bound)}`,
    unavailableNotes([...[...results.values()].map((r) => r.row), ...upstream.keys()]),
    failureNotes([...results.values()].map((r) => [r.row.label, r.failures])),
    `Took ${Math.round((Date.now() - t0) / 1000)} s.`,
  ]
    .filter(Boolean)
    .join('\n\n');

  console.log(`\n## HTTP/2 (bench/http2)\n\nCommand: \`${command}\`  \nMachine: ${machineLine()}\n\n${body}\n`);
  const json = {
    bench: 'http2',
    date: new Date().toISOString(),
    quick: QUICK,
    rounds: ROUNDS,
    seconds: SECONDS,
    idleConnections: IDLE_CONNECTIONS,
    fronts: Object.fromEntries(
      [...results.values()].map((r) => [
        r.row.id,
        r.row.error
          ? { error: r.row.error }
          : { ...Object.fromEntries(SCENARIOS.map((s) => [s.id, summarize(r.runs[s.id])])), idle: r.idle, loads: r.loads, failures: r.failures },
      ]),
    ),
    upstream: Object.fromEntries([...upstream].map(([row, runs]) => [row.id, row.error ? { error: row.error } : runs.map((u) => ({ openedInAll: u.openedInAll, steadyPer1k: u.steadyPer1k, rps: u.run.rps }))])),
  };
  console.log(JSON.stringify(json));
  if (WRITE) writeSection('http2', 'HTTP/2 (bench/http2)', command, body);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/http2: ${err instanceof UsageError ? err.message : ((err as Error).stack ?? String(err))}\n`);
  killAll();
  process.exitCode = 1;
});
