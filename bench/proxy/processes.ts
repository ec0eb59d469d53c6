/**
 * Processes and measurements for bench/proxy: every process it starts runs in its own process
 * group (so an nginx master's worker dies with it) and is killed on exit, on failure and on Ctrl-C;
 * CPU, RSS and fds are read from /proc over a process tree; wrk is run (over HTTP or HTTPS) and its
 * output parsed.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { parseWrkOutput } from '../wrk-output.js';
import type { WrkOutput } from '../wrk-output.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const live = new Set<ChildProcess>();
let tempDir: string | null = null;

/** A directory removed with everything else at exit. */
export function removeAtExit(dir: string): void {
  tempDir = dir;
}

export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

export function killAll(): void {
  for (const child of live) killGroup(child, 'SIGKILL');
  live.clear();
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  tempDir = null;
}

process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    process.stderr.write(`\nbench/proxy: ${sig}, stopping every process it started\n`);
    killAll();
    process.exit(130);
  });
}

/** Start `cmd` on the CPUs `cpus` (a taskset list such as 0 or 0,1), its output to `log`. */
export function launch(cpus: number | string, cmd: string, args: string[], log: string, env?: Record<string, string>): ChildProcess {
  const fd = openSync(log, 'a');
  const child = spawn('taskset', ['-c', String(cpus), cmd, ...args], { detached: true, stdio: ['ignore', fd, fd], ...(env === undefined ? {} : { env: { ...process.env, ...env } }) });
  closeSync(fd);
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    killGroup(child, 'SIGKILL'); // a leftover worker of an exited master
    return;
  }
  const exited = new Promise((r) => child.once('exit', r));
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 2_000);
  await exited;
  clearTimeout(timer);
  killGroup(child, 'SIGKILL');
  live.delete(child);
}

export function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' / ').slice(0, 300);
  } catch {
    return '';
  }
}

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** GET `path`; over TLS with `tls` (the bench's self-signed certificate is not verified). */
export function get(port: number, path: string, tls = false): Promise<{ status: number; body: string } | null> {
  return new Promise((resolve) => {
    const options = { host: '127.0.0.1', port, path, agent: false, timeout: 2_000 };
    const onResponse = (res: http.IncomingMessage): void => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve(null));
    };
    const req = tls ? https.get({ ...options, rejectUnauthorized: false }, onResponse) : http.get(options, onResponse);
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

/** Wait until the server on `port` answers `/` with `body`. */
export async function waitReady(port: number, child: ChildProcess, log: string, body: string, timeoutMs = 15_000, tls = false): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited (${child.exitCode ?? child.signalCode}): ${tail(log)}`);
    const r = await get(port, '/', tls);
    if (r && r.status === 200 && r.body === body) return;
    await sleep(100);
  }
  throw new Error(`did not answer within ${timeoutMs / 1000} s: ${tail(log)}`);
}

// ---------------------------------------------------------------------------------------------
// /proc readings over a process tree (nginx: master + worker).

export function tree(pid: number): number[] {
  const out = [pid];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      for (const c of kids.split(/\s+/).filter(Boolean)) out.push(...tree(Number(c)));
    }
  } catch {
    // gone
  }
  return out;
}

export function cpuTicks(pid: number): number {
  let ticks = 0;
  for (const p of tree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    } catch {
      // gone
    }
  }
  return ticks;
}

export function rssKiB(pid: number): number {
  let kib = 0;
  for (const p of tree(pid)) {
    try {
      kib += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kib;
}

export function fdCount(pid: number): number {
  let n = 0;
  for (const p of tree(pid)) {
    try {
      n += readdirSync(`/proc/${p}/fd`).length;
    } catch {
      // gone
    }
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// wrk

export type WrkResult = WrkOutput;

function wrkArgs(port: number, path: string, seconds: number, close: boolean, clients: number, tls: boolean): string[] {
  return ['-t1', `-c${clients}`, `-d${seconds}s`, '--latency', ...(close ? ['-H', 'Connection: close'] : []), `${tls ? 'https' : 'http'}://127.0.0.1:${port}${path}`];
}

/**
 * Run wrk pinned to `core`: -t1, `clients` connections, --latency; over TLS with `tls`. With TLS
 * and `close`, each request is a new connection, and wrk offers the session of the connection it
 * replaces (it reuses one SSL object per connection slot): S7 counts on the server side how many
 * handshakes resumed rather than trusting this.
 */
export async function wrk(core: number, clients: number, port: number, path: string, seconds: number, close: boolean, tls = false): Promise<WrkResult> {
  const child = spawn('taskset', ['-c', String(core), 'wrk', ...wrkArgs(port, path, seconds, close, clients, tls)], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  live.delete(child);
  if (code !== 0) throw new Error(`wrk exited with ${code}: ${out.trim().slice(0, 300)}`);
  return parseWrkOutput(out);
}
