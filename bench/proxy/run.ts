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
 *   S6  wrk over HTTPS, 50 keep-alive connections, 100-byte responses: the proxy terminates TLS
 *       (nginx, HAProxy and lifeline only; one self-signed ECDSA P-256 certificate)
 *   S7  the same with `Connection: close`: a new TLS connection per request, resuming the
 *       previous connection's session as browsers do; the resumed fraction is counted from each
 *       proxy's own log of its handshakes
 *   and S1 once more with `workers: 2` (unpinned), for the workers table
 * For S1-S3, S6, S7: req/s, p50, p99 (wrk --latency), the proxy's CPU seconds per 1,000 requests
 * (utime+stime of its process tree from /proc), errors (socket errors and non-2xx). Medians of the
 * rounds. A peer that is missing or does not start is "not available", not a crash. Every process
 * started here runs in its own process group and is killed at the end, on failure and on Ctrl-C.
 *
 * Run: bash bench/proxy/run.sh [--write] [--quick]   (installs, builds, then runs this file)
 *  or: node dist/bench/proxy/run.js [--write] [--quick] [--only=nginx,lifeline] [--only-scenarios=S6,S7] [--semi-space=MiB] [--no-install]
 * --quick: 1 round, 3 s runs, S4 with 2,000 connections (for development; not for RESULTS.md).
 * --only-scenarios: measure only these (S5 needs S1); the tables of the others are left out.
 * --semi-space: the Node proxies' --max-semi-space-size (default 4, npm start's), for an A/B.
 * Modules: settings (flags, constants), backend, proxies (how each starts, plain and TLS),
 * scenarios (the measurements), tables (Markdown), tls-configs, configs, processes.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { machineLine, median, writeSection } from '../results.js';
import type { Backend } from './backend.js';
import { startBackend } from './backend.js';
import { killAll, killGroup, removeAtExit, sleep, stop } from './processes.js';
import type { Proxy } from './proxies.js';
import { PROXIES, has, startProxy, startTlsProxy } from './proxies.js';
import type { Result, Throughput } from './scenarios.js';
import { THROUGHPUT, TLS_THROUGHPUT, emptyResult, idleClients, measure } from './scenarios.js';
import { CLIENTS, IDLE_CONNECTIONS, ONLY, ONLY_SCENARIOS, PEER_MODULES, QUICK, ROOT, ROUNDS, S5_SKIP_MS, SCENARIOS, SECONDS, SEMI_SPACE_MIB, SETTLE_MS, WARMUP_SECONDS, WRITE, argv } from './settings.js';
import { cpuRatioToNginx, fmtInt, idleTable, reuseTable, summarize, throughputTable, unavailableNotes, workersTable } from './tables.js';
import type { BenchCert } from './tls-configs.js';
import { makeBenchCert } from './tls-configs.js';
import { WORKERS_ON_A_LARGER_MACHINE } from './workers-note.js';

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
    `OpenSSL ${versionOf('openssl', ['version'], /OpenSSL (\S+)/)}`,
    ...['http-proxy', 'fastify', '@fastify/http-proxy', 'undici', 'fast-proxy-lite'].map(npm),
  ].join(', ');
}

function install(): string | null {
  if (argv.includes('--no-install')) return null;
  const r = spawnSync('bash', [join(ROOT, 'bench', 'proxy', 'install.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  return r.status === 0 ? null : `install.sh exited with ${r.status ?? r.signal}; running with what is installed`;
}

const PLAIN: Throughput[] = THROUGHPUT.filter((s) => SCENARIOS.has(s.id));
const TLS: Throughput[] = TLS_THROUGHPUT.filter((s) => SCENARIOS.has(s.id));

/**
 * One round of one proxy: S1-S3 (and S5 inside S1) on one process, then S4 on a fresh one. S4's
 * process starts first and sits idle through S1-S3 (on the proxy core, where it costs nothing),
 * so its "before" reading is settled too; one full GC at its start starts V8's memory reducer.
 */
async function oneRound(p: Proxy, res: Result, dir: string, backend: Backend): Promise<void> {
  const scenarios = PLAIN.filter((s) => (p.s1Only !== true || s.id === 'S1') && (p.s2Only !== true || s.id === 'S2'));
  const s4 = p.s1Only !== true && p.s2Only !== true && SCENARIOS.has('S4');
  if (scenarios.length === 0 && !s4) return;
  const fresh = s4 ? await startProxy(p, dir, backend) : null;
  try {
    if (fresh?.node === true) killGroup(fresh.child, 'SIGUSR2');
    const freshAt = Date.now();
    if (scenarios.length > 0) {
      const r = await startProxy(p, dir, backend);
      try {
        for (const s of scenarios) {
          const { run, upstreamPer1k } = await measure(r, s, s.id === 'S1' && SCENARIOS.has('S5') ? backend : null);
          res.runs[s.id].push(run);
          if (upstreamPer1k !== null) res.s5.push(upstreamPer1k);
          process.stderr.write(`${s.id} ${fmtInt(run.rps)} req/s; `);
        }
      } finally {
        await stop(r.child);
      }
    }
    if (fresh === null) return;
    await sleep(Math.max(1_000, SETTLE_MS - (Date.now() - freshAt)));
    const idle = await idleClients(fresh);
    res.s4.push(idle);
    const perConn = (kib: number): string => ((kib - idle.beforeKiB) / Math.max(1, idle.held)).toFixed(2);
    process.stderr.write(`S4 ${perConn(idle.afterKiB)} KiB/conn settled, ${perConn(idle.earlyKiB)} at 2 s (${idle.held} held); `);
  } finally {
    if (fresh !== null) await stop(fresh.child);
  }
}

/** S6 and S7 of one proxy, each on a fresh process; S7's logs which handshakes resumed. */
async function tlsRound(p: Proxy, res: Result, dir: string, backend: Backend, cert: BenchCert): Promise<void> {
  if (p.tls === undefined) return;
  for (const s of TLS) {
    const r = await startTlsProxy(p, dir, backend, cert, s.id === 'S7');
    try {
      const { run, resumption } = await measure(r, s, null);
      res.runs[s.id].push(run);
      if (resumption !== null) res.s7.push(resumption);
      process.stderr.write(`${s.id} ${fmtInt(run.rps)} req/s${resumption ? `, ${resumption.resumed}/${resumption.total} resumed` : ''}; `);
    } finally {
      await stop(r.child);
    }
  }
}

function tlsText(results: Map<Proxy, Result>): string[] {
  if (TLS.length === 0) return [];
  const tlsResults = new Map([...results].filter(([p]) => p.tls !== undefined));
  const out = [
    `### S6 and S7: TLS termination\n\nThe proxy terminates TLS in front of the same plain HTTP/1.1 backend: nginx (\`ssl_session_cache shared\`, session tickets on), HAProxy (\`bind ... ssl\`, its default session cache and tickets) and lifeline (an \`https\` listener: Node's session tickets under its rotating keys), all with TLS 1.2 and 1.3 and one self-signed ECDSA P-256 certificate made by openssl for the run. wrk speaks TLS itself (\`https://\`), so TLS costs CPU 1 as well as the proxy's core. The Node peers are left out: each would need its own \`https\` server written for this benchmark, and what S6/S7 compare is lifeline against the two native terminators. S7 sends \`Connection: close\`, so every request is a new TCP connection and a new TLS handshake; wrk offers the session of the connection it replaces, so the handshakes resume as a browser's do. The resumed fraction is counted where TLS ends, from a line each proxy writes per request: nginx's access log of \`$ssl_session_reused\`, HAProxy's log of \`ssl_fc_is_resumed\` (to stdout), lifeline's handshakes through a preload that wraps \`tls.Server\`'s \`secureConnection\` (bench/proxy/peers/tls-resumption-log.mjs); one write per request each, in S7 only.`,
  ];
  for (const s of TLS) out.push(`#### ${s.title}\n\n${throughputTable(s.id, tlsResults)}`);
  if (SCENARIOS.has('S6')) {
    const ratio = cpuRatioToNginx('S6', results);
    out.push(`Target: lifeline's CPU per request in S6 at most 1.5x nginx's. This run: ${Number.isFinite(ratio) ? `${ratio.toFixed(2)}x, ${ratio <= 1.5 ? '**met**' : '**not met**'}` : 'n/a (lifeline or nginx not measured)'}.`);
  }
  return out;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const load0 = loadavg()[0] ?? 0;
  const installNote = install();
  if (!has('wrk') || !has('taskset') || !has('nginx')) throw new Error('bench/proxy needs wrk, taskset and nginx (the backend): run bash bench/proxy/install.sh');
  if (TLS.length > 0 && !has('openssl')) throw new Error('S6/S7 need openssl (for the certificate)');
  const proxies = PROXIES.filter((p) => !ONLY || ONLY.includes(p.id));
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-bench-proxy-'));
  removeAtExit(dir);
  chmodSync(dir, 0o755); // nginx workers run as an unprivileged user and read www/ from here
  const cert = TLS.length > 0 ? makeBenchCert(dir) : null;
  const results = new Map<Proxy, Result>(proxies.map((p) => [p, emptyResult(p.unavailable())]));
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
          if (cert !== null) await tlsRound(p, res, dir, backend, cert);
          process.stderr.write('\n');
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

  const flags = `${WRITE ? ' --write' : ''}${QUICK ? ' --quick' : ''}${SEMI_SPACE_MIB === 4 ? '' : ` --semi-space=${SEMI_SPACE_MIB}`}${ONLY ? ` --only=${ONLY.join(',')}` : ''}${ONLY_SCENARIOS ? ` --only-scenarios=${ONLY_SCENARIOS.join(',')}` : ''}`;
  // run.sh sets this, so the section names the one command that installs, builds and runs.
  const command = process.env['BENCH_PROXY_RUN_SH'] === '1' ? `bash bench/proxy/run.sh${flags}` : `node dist/bench/proxy/run.js${flags}`;
  const seconds = Math.round((Date.now() - t0) / 1000);
  // The main tables compare one-process proxies; the two-worker run has its own table.
  const main = new Map([...results].filter(([p]) => p.s1Only !== true));
  const workers = SCENARIOS.has('S1') ? workersTable(results) : '';
  const body = [
    `Each proxy runs as one process doing the work, pinned to CPU 0 (\`taskset -c 0\`); **wrk and the backend (nginx, 1 worker) share CPU 1**, so the native proxies may be limited by the load generator's core rather than their own. wrk \`-t1 -c${CLIENTS} -d${SECONDS}s --latency\` after a ${WARMUP_SECONDS} s warm-up; ${ROUNDS} round${ROUNDS > 1 ? 's' : ''}, each proxy started fresh per round; medians. CPU is the proxy's utime+stime (whole process tree) from /proc over the measured run. Every Node proxy runs with \`--max-semi-space-size=${SEMI_SPACE_MIB}\`${SEMI_SPACE_MIB === 4 ? " (what `npm start` uses; docs/config.md says why)" : ' (an A/B of the semi-space choice, not npm start\'s 4)'}. The S2 table has two floors: a bare \`node:net\` server (bench/proxy/peers/floor-server.mjs) that accepts, reads the head, writes the same 100-byte response and closes: what Node itself spends per connection; and a bare \`node:net\` proxy (bench/proxy/peers/floor-proxy.mjs) that also sends one fixed request over a pooled upstream connection and passes the response back: what Node spends, and the tail it has, doing S2's job with nothing else. Every proxy: 75 s client keep-alive, no cap on requests per client connection, upstream keep-alive (except node-http-proxy default), no access log.`,
    `Run on ${new Date().toISOString()} with Node ${process.version}. The machine is shared with other work (load average ${load0.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end): figures are noisy, read the ratios in one run rather than absolutes. Versions: ${versions()}.${QUICK ? ' **--quick run: 1 round, 3 s runs, S4 with 2,000 connections; for development only.**' : ''}${ONLY_SCENARIOS ? ` Only ${ONLY_SCENARIOS.join(', ')} measured.` : ''}${installNote ? ` ${installNote}.` : ''}`,
    ...PLAIN.map((s) => `### ${s.title}\n\n${throughputTable(s.id, main)}`),
    SCENARIOS.has('S4')
      ? `### S4: ${fmtInt(IDLE_CONNECTIONS)} idle keep-alive client connections (one GET each), proxy RSS\n\nVmRSS of the proxy's process tree (nginx: master + worker): before the clients connect (the process started ${SETTLE_MS / 1000} s or more earlier and served only the ready check), 2 s after all clients have had their response, and ${SETTLE_MS / 1000} s after that; for the Node proxies every reading follows a full GC (\`--expose-gc\`, triggered by SIGUSR2 through bench/proxy/peers/gc-on-signal.mjs). The settled reading is the per-connection figure: the burst of connections grows V8's young generation to its maximum (16 MiB of semi-space, about 1.6 KiB "per connection" at 10,000, alike for every Node proxy and not proportional to connections), and V8's memory reducer returns it once the process has been idle about 8 s after a full GC. The 2 s column shows the reading before that. The clients are Node processes on CPU 1. The fds column shows whether a proxy also holds upstream connections for them.\n\n${idleTable(main)}`
      : '',
    SCENARIOS.has('S5') && SCENARIOS.has('S1')
      ? `### S5: upstream connections opened per 1,000 requests under steady load (during the measured S1 run)\n\nFrom the backend's stub_status: new \`accepts\` per 1,000 backend \`requests\`, read ${S5_SKIP_MS / 1000} s into the measured S1 run and at its end. The skipped first second is still warm-up: the warm-up wrk run ends by cutting its clients off mid-request, which makes some proxies drop the upstream connections those requests held, and HAProxy's \`http-reuse safe\` gives each new client session its own first server connection.\n\n${reuseTable(main)}`
      : '',
    ...tlsText(main),
    workers
      ? `### S1 with \`workers: 1\` and \`workers: 2\`\n\nThe same S1 load. One worker is the pinned single process of the tables above; two workers run unpinned on CPUs 0-1, so **they share CPU 1 with wrk and the backend**: on this 2-core machine a second worker competes with the load generator instead of adding a free core, and this figure is not what two workers give on a machine with cores to spare.\n\n${workers}\n\n${WORKERS_ON_A_LARGER_MACHINE}`
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
    scenarios: [...SCENARIOS],
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
              S6: summarize(r.runs.S6),
              S7: summarize(r.runs.S7),
              S7Resumption: r.s7,
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
