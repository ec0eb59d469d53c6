/**
 * Benchmark: the server keep-alive policy's cost.
 *   1. Hello-world req/s with the policy vs the same server without it (target >= 0.95x), wrk
 *      (1 thread, 50 keep-alive connections, 4 s after a 2 s warm-up) on core 1, servers on core 0,
 *      9 rounds, median of the per-round ratios, measured two ways:
 *      - side by side: both servers at once on core 0, a wrk each at once
 *        on core 1. On this shared machine the host slows the core by up to 40% for seconds at a
 *        time (single rounds one after the other swing 0.67-1.15); run at once, both servers see
 *        the same slowdown and it cancels in the ratio. An A/A pairing (plain against plain) is
 *        run the same way and printed, so the method's own bias and spread are visible.
 *      - one at a time (the target's literal reading): each server alone, back to back, the order
 *        rotating; with two more servers that show what a request limit costs (the policy with
 *        nginx's 1,000-request limit, and the bare server with Node's own maxRequestsPerSocket =
 *        1000), since every connection then reconnects every 1,000 requests.
 *      The warm-up is long enough for every connection of the limited servers to pass its 1,000th
 *      request twice (2 s alone, 5 s side by side, where each server runs at half speed): the first
 *      waves of `Connection: close` and reconnects deoptimise and re-optimise code in Node and in
 *      the policy, a one-off that a long-running server pays once. Measured (when the policy's
 *      default was 1,000): side by side with a 2 s warm-up the ratio read 0.946, with 5 s 0.964.
 *   2. RSS per idle keep-alive connection with 10,000 idle connections: Node without the policy,
 *      Node with it, and nginx (1 worker) for reference. RSS after a full GC, minus RSS before.
 * Each server runs in its own child process. Bounded: about 9 minutes.
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/server/run.js [--write]
 * Needs wrk and (optionally) nginx on PATH; missing ones are reported, not faked.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { median, writeSection } from '../results.js';
import { parseWrkOutput } from '../wrk-output.js';
import type { WrkOutput } from '../wrk-output.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const IDLE_CONNECTIONS = 10_000;
const ROUNDS = 9;
const SECONDS = 4;
const WARMUP_SECONDS = 2;
/** Side by side each server runs at about half speed, so its warm-up is longer (see the top). */
const SIDE_WARMUP_SECONDS = 5;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const execFileAsync = promisify(execFile);
/** hello-server.js modes: the bare server, the policy (defaults: no request limit), and each with a 1,000-request limit. */
type Mode = 'plain' | 'policy' | 'policy-limit' | 'plain-limit';
const LABEL: Record<Mode, string> = {
  plain: 'Node http.Server',
  policy: '+ lifeline keepAlive() (defaults)',
  'policy-limit': "+ keepAlive({ maxRequestsPerConnection: 1000 }) (nginx's keepalive_requests)",
  'plain-limit': 'Node http.Server, maxRequestsPerSocket = 1000',
};

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Spawn pinned to `core` and wait for a stdout line starting with `ready`. */
async function start(core: number, cmd: string, args: string[], ready: string): Promise<{ child: ChildProcess; lines: string[] }> {
  const child = spawn('taskset', ['-c', String(core), cmd, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buf = '';
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${cmd} exited with ${code}`)));
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
      if (lines.some((l) => l.startsWith(ready))) resolve();
    });
  });
  child.removeAllListeners('exit');
  return { child, lines };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

/** RSS of a process and its descendants (taskset execs in place; nginx has a worker). */
function treeRssKiB(pid: number): number {
  let total = rssKiB(pid);
  try {
    for (const c of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) total += treeRssKiB(Number(c));
  } catch {
    // process gone
  }
  return total;
}

async function nodeServer(mode: Mode, port: number): Promise<ChildProcess> {
  const { child } = await start(0, process.execPath, ['--expose-gc', join(HERE, 'hello-server.js'), mode, String(port)], 'ready');
  return child;
}

async function gcNode(child: ChildProcess): Promise<void> {
  child.kill('SIGUSR2');
  await sleep(300);
}

/** CPU time (user + system) a process has used, in µs (clock ticks are 10 ms). */
function cpuMicros(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** A hello-world server answers every request 200: an error response means the run is broken. */
function checked(r: WrkOutput): WrkOutput {
  if (r.non2xx > 0) throw new Error(`wrk saw ${r.non2xx} non-2xx responses from a hello-world server`);
  return r;
}

/** Run wrk; req/s, and the server's CPU µs per request (robust when the machine is shared). */
function wrk(port: number, seconds: number, serverPid: number): { rps: number; cpuUs: number } {
  const cpu0 = cpuMicros(serverPid);
  const out = execFileSync('taskset', ['-c', '1', 'wrk', '-t1', '-c50', `-d${seconds}s`, `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
  const { rps, requests } = checked(parseWrkOutput(out));
  return { rps, cpuUs: (cpuMicros(serverPid) - cpu0) / requests };
}

const fmt = (xs: number[], digits = 0): string => xs.map((x) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })).join(', ');

/**
 * One at a time: each server alone on core 0, back to back (the order rotates every round); median
 * of per-round ratios to the bare server. Two more servers show what a request limit costs: the
 * policy with nginx's 1,000-request limit, and the bare server with Node's own 1,000-request limit.
 */
async function sequential(): Promise<string> {
  const modes: Mode[] = ['plain', 'policy', 'policy-limit', 'plain-limit'];
  const rps = new Map<Mode, number[]>(modes.map((m) => [m, []]));
  const cpu = new Map<Mode, number[]>(modes.map((m) => [m, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = modes.map((_, i) => modes[(i + round) % modes.length] as Mode);
    for (const mode of order) {
      const port = await freePort();
      const child = await nodeServer(mode, port);
      try {
        wrk(port, WARMUP_SECONDS, child.pid as number);
        const r = wrk(port, SECONDS, child.pid as number);
        rps.get(mode)?.push(r.rps);
        cpu.get(mode)?.push(r.cpuUs);
      } finally {
        await stop(child); // a failed wrk run must not leave the server running
      }
    }
  }
  const plainRps = rps.get('plain') as number[];
  const plainCpu = cpu.get('plain') as number[];
  const rows = modes.map((mode) => {
    const r = rps.get(mode) as number[];
    const c = cpu.get(mode) as number[];
    const ratios = r.map((x, i) => x / (plainRps[i] as number));
    const cpuRatios = c.map((x, i) => (plainCpu[i] as number) / x);
    const ratio = mode === 'plain' ? '1' : `${median(ratios).toFixed(3)} (${fmt(ratios, 2)})`;
    const cpuRatio = mode === 'plain' ? '1' : median(cpuRatios).toFixed(3);
    return `| ${LABEL[mode]} | ${fmt([median(r)])} (${fmt(r)}) | ${ratio} | ${fmt([median(c)], 1)} (${fmt(c, 1)}) | ${cpuRatio} |`;
  });
  return [
    `| one at a time: each server alone on core 0, wrk -t1 -c50 -d${SECONDS}s after a ${WARMUP_SECONDS} s warm-up on core 1, ${ROUNDS} rounds | req/s, median (rounds) | req/s / bare server's, median of per-round ratios (rounds) | server CPU µs per request, median (rounds) | bare server's CPU / this one's, median |`,
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** One wrk run in the background (so two run at once); req/s and the server's CPU µs per request. */
async function wrkAsync(port: number, seconds: number, serverPid: number): Promise<{ rps: number; cpuUs: number; cpuShare: number }> {
  const cpu0 = cpuMicros(serverPid);
  const t0 = process.hrtime.bigint();
  const { stdout } = await execFileAsync('taskset', ['-c', '1', 'wrk', '-t1', '-c50', `-d${seconds}s`, `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
  const used = cpuMicros(serverPid) - cpu0;
  const { rps, requests } = checked(parseWrkOutput(stdout));
  return { rps, cpuUs: used / requests, cpuShare: used / wallUs };
}

/**
 * Side by side: both servers on core 0 at the same time, each loaded by its own wrk on core 1 at
 * the same time. Whatever else the shared host does to the core in those seconds, it does to both,
 * so the ratio is the servers' own. Both are saturated (the CPU shares are printed: about 0.5 each),
 * so the kernel's fair scheduler gives each half the core and req/s follows CPU per request.
 * `b` against `a`; an A/A pairing (plain against plain) shows the method's own spread.
 */
async function sideBySide(a: Mode, b: Mode): Promise<{ ratios: number[]; rpsA: number[]; rpsB: number[]; shares: number[] }> {
  const out = { ratios: [] as number[], rpsA: [] as number[], rpsB: [] as number[], shares: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    const portA = await freePort();
    let portB = await freePort();
    while (portB === portA) portB = await freePort();
    const childA = await nodeServer(a, portA);
    const childB = await nodeServer(b, portB).catch(async (e: unknown) => {
      await stop(childA);
      throw e;
    });
    const [pidA, pidB] = [childA.pid as number, childB.pid as number];
    try {
      await Promise.all([wrkAsync(portA, SIDE_WARMUP_SECONDS, pidA), wrkAsync(portB, SIDE_WARMUP_SECONDS, pidB)]);
      const [ra, rb] = await Promise.all([wrkAsync(portA, SECONDS, pidA), wrkAsync(portB, SECONDS, pidB)]);
      out.rpsA.push(ra.rps);
      out.rpsB.push(rb.rps);
      out.ratios.push(rb.rps / ra.rps);
      out.shares.push(ra.cpuShare, rb.cpuShare);
    } finally {
      await Promise.all([stop(childA), stop(childB)]); // a failed wrk run must not leave servers running
    }
  }
  return out;
}

async function throughput(): Promise<string> {
  if (!has('wrk')) return 'wrk is not installed: throughput not measured.';
  const ab = await sideBySide('plain', 'policy');
  const aa = await sideBySide('plain', 'plain');
  const side = [
    `| side by side: both servers on core 0 at once, a wrk -t1 -c50 -d${SECONDS}s each on core 1 at once (after a ${SIDE_WARMUP_SECONDS} s warm-up), ${ROUNDS} rounds | server A req/s, median | server B req/s, median | B / A, median of per-round ratios (rounds) | each server's share of core 0 (min-max) |`,
    '|---|---|---|---|---|',
    `| **A = ${LABEL.plain}, B = ${LABEL.policy}** | ${fmt([median(ab.rpsA)])} | ${fmt([median(ab.rpsB)])} | **${median(ab.ratios).toFixed(3)}** (${fmt(ab.ratios, 3)}) | ${fmt([Math.min(...ab.shares), Math.max(...ab.shares)], 2).replace(', ', '-')} |`,
    `| A/A check: A = B = ${LABEL.plain} | ${fmt([median(aa.rpsA)])} | ${fmt([median(aa.rpsB)])} | ${median(aa.ratios).toFixed(3)} (${fmt(aa.ratios, 3)}) | ${fmt([Math.min(...aa.shares), Math.max(...aa.shares)], 2).replace(', ', '-')} |`,
  ].join('\n');
  return `${side}\n\n${await sequential()}`;
}

async function idleClients(port: number): Promise<{ child: ChildProcess; held: number }> {
  const { child, lines } = await start(1, process.execPath, [join(HERE, 'idle-clients.js'), String(port), String(IDLE_CONNECTIONS)], 'idle');
  return { child, held: Number(lines.find((l) => l.startsWith('idle'))?.split(' ')[1] ?? 0) };
}

async function nginxServer(port: number, dir: string): Promise<ChildProcess> {
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log; worker_rlimit_nofile 15000;
events { worker_connections 12000; }
http { access_log off; keepalive_timeout 75s; keepalive_requests 100000;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server { listen 127.0.0.1:${port}; location / { return 200 "hello world"; } } }
`,
  );
  const child = spawn('taskset', ['-c', '0', 'nginx', '-p', dir, '-c', conf], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    await sleep(100);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return child;
  }
  throw new Error('nginx did not start');
}

async function memory(): Promise<string> {
  const rows: string[] = [];
  const kinds: ('plain' | 'policy' | 'nginx')[] = has('nginx') ? ['plain', 'policy', 'nginx'] : ['plain', 'policy'];
  for (const kind of kinds) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'lifeline-bench-nginx-'));
    const server = kind === 'nginx' ? await nginxServer(port, dir) : await nodeServer(kind, port);
    const pid = server.pid as number;
    if (kind !== 'nginx') await gcNode(server);
    const before = treeRssKiB(pid);
    const clients = await idleClients(port);
    await sleep(1_000);
    if (kind !== 'nginx') await gcNode(server);
    const after = treeRssKiB(pid);
    await stop(clients.child);
    await stop(server);
    rmSync(dir, { recursive: true, force: true });
    const label = kind === 'plain' ? 'Node http.Server' : kind === 'policy' ? 'Node http.Server + lifeline keepAlive()' : 'nginx 1 worker (reference)';
    rows.push(`| ${label} | ${(before / 1024).toFixed(1)} | ${(after / 1024).toFixed(1)} | ${clients.held.toLocaleString('en-US')} | ${((after - before) / clients.held).toFixed(2)} |`);
  }
  if (!has('nginx')) rows.push('| nginx | not installed | | | |');
  return ['| server | RSS idle (MiB) | RSS with idle connections (MiB) | idle keep-alive connections | KiB per idle connection |', '|---|---|---|---|---|', ...rows].join('\n');
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const a = await throughput();
  const b = await memory();
  const body = `${a}\n\n${b}\n\nNode RSS is read after a full GC (--expose-gc); nginx's is master + worker. Took ${Math.round((Date.now() - t0) / 1000)} s.`;
  console.log(body);
  if (process.argv.includes('--write')) writeSection('server', 'Server keep-alive policy (bench/server)', 'node dist/bench/server/run.js --write', body);
}

void main();
