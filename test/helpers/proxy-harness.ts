/**
 * Harness for the proxy's operational tests: start a proxy in process from YAML text, or as a
 * `lifeline proxy` child process from a YAML file; make requests through it with Node's http
 * client; read its admin `/stats`; read a process's memory from /proc.
 *
 * Every resource a helper opens is returned to the caller, who closes it in `t.after`.
 */
import http from 'node:http';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseConfig } from '../../src/proxy/config/index.js';
import { Proxy } from '../../src/proxy/proxy.js';

/** The repository root (this file runs from dist/test/helpers). */
export const ROOT = resolve(import.meta.dirname, '..', '..', '..');
export const LIFELINE = join(ROOT, 'bin', 'lifeline.js');

/** A scratch directory, removed by `remove()`. */
export function scratchDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `lifeline-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Start a proxy in this process from YAML text (parsed as if it were `file`). */
export async function startProxy(yaml: string, file = join(tmpdir(), 'proxy-test.yaml')): Promise<Proxy> {
  return Proxy.start(parseConfig(yaml, file, {}));
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The client reused a kept-alive connection to the proxy. */
  reusedSocket: boolean;
}

export interface RequestSpec {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  agent?: http.Agent;
  timeoutMs?: number;
}

/** One request to 127.0.0.1:`port`; resolves with the whole reply, rejects on a socket error. */
export function request(port: number, spec: RequestSpec = {}): Promise<Reply> {
  return new Promise((resolvePromise, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: spec.method ?? 'GET',
        path: spec.path ?? '/',
        headers: spec.headers ?? {},
        agent: spec.agent ?? false,
        timeout: spec.timeoutMs ?? 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), reusedSocket: req.reusedSocket }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request timed out after ${spec.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.end(spec.body);
  });
}

/** A reply, or the error's code/message when the request failed at the socket level. */
export type Outcome = { ok: true; reply: Reply } | { ok: false; error: string };

export async function attempt(port: number, spec: RequestSpec = {}): Promise<Outcome> {
  try {
    return { ok: true, reply: await request(port, spec) };
  } catch (error) {
    const e = error as Error & { code?: string };
    return { ok: false, error: e.code ?? e.message };
  }
}

// ---- /stats ------------------------------------------------------------------------------------

export interface EndpointStatsView {
  cxOpened: number;
  cxConnectFail: number;
  cxClosed: Record<string, number>;
  cxDestroyRemoteWithActiveRq: number;
  rqTotal: number;
  rqReused: number;
  ejections: number;
}

export interface PoolView {
  endpoint: string;
  available: boolean;
  healthy: boolean;
  ejected: boolean;
  idle: number;
  active: number;
  learnedBackendIdleMs: number | null;
}

export interface StatsView {
  listeners: { name: string; connections: number; idle: number; draining: boolean }[];
  pools: Record<string, PoolView[]>;
  upstream: Record<string, { rqRetry: number; rqRetrySuccess: number; rqNoHealthy: number; endpoints: Record<string, EndpointStatsView> }>;
}

/** GET /stats from the admin listener. */
export async function adminStats(adminPort: number): Promise<StatsView> {
  const reply = await request(adminPort, { path: '/stats' });
  if (reply.status !== 200) throw new Error(`/stats answered ${reply.status}`);
  return JSON.parse(reply.body) as StatsView;
}

/** Sums over a cluster's endpoints, for printing. */
export function clusterTotals(stats: StatsView, cluster: string): { retries: number; retrySuccess: number; opened: number; requests: number; reused: number; destroyedWithActive: number; closed: Record<string, number> } {
  const c = stats.upstream[cluster];
  const closed: Record<string, number> = {};
  let opened = 0;
  let requests = 0;
  let reused = 0;
  let destroyedWithActive = 0;
  for (const e of Object.values(c?.endpoints ?? {})) {
    opened += e.cxOpened;
    requests += e.rqTotal;
    reused += e.rqReused;
    destroyedWithActive += e.cxDestroyRemoteWithActiveRq;
    for (const [reason, n] of Object.entries(e.cxClosed)) closed[reason] = (closed[reason] ?? 0) + n;
  }
  return { retries: c?.rqRetry ?? 0, retrySuccess: c?.rqRetrySuccess ?? 0, opened, requests, reused, destroyedWithActive, closed };
}

// ---- child process -----------------------------------------------------------------------------

export interface ProxyChild {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Port of the first listener. */
  readonly port: number;
  readonly adminPort: number | undefined;
  /** Everything written to stderr (and stdout) so far. */
  stderr(): string;
  stdout(): string;
  /** Resolves with the exit code (or the signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  /** Resolves when `text` appears on stderr after `from` characters, or rejects after `timeoutMs`. */
  waitFor(text: string | RegExp, timeoutMs: number, from?: number): Promise<void>;
  /** SIGKILL if still running, and wait for the exit. */
  kill(): Promise<void>;
}

export interface RunResult {
  code: number | string;
  stdout: string;
  stderr: string;
}

/** Run `lifeline` with `args` to completion (killed after `timeoutMs`). */
export function runLifeline(args: readonly string[], timeoutMs = 15_000): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [LIFELINE, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? signal ?? 'unknown', stdout, stderr });
    });
  });
}

/**
 * Spawn `lifeline proxy --config <file>` and wait until it says where it listens.
 * Rejects (after killing it) if it exits first or says nothing within `timeoutMs`.
 */
export async function spawnProxy(configFile: string, timeoutMs = 15_000): Promise<ProxyChild> {
  const child = spawn(process.execPath, [LIFELINE, 'proxy', '--config', configFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  const waiters = new Set<() => void>();
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
    for (const w of waiters) w();
  });
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  const exited = new Promise<number | string>((resolveExit) => child.on('close', (code, signal) => resolveExit(code ?? signal ?? 'unknown')));
  let running = true;
  void exited.then(() => {
    running = false;
    for (const w of waiters) w();
  });
  const waitFor = (text: string | RegExp, ms: number, from = 0): Promise<void> =>
    new Promise((resolveWait, reject) => {
      const check = (): void => {
        const seen = stderr.slice(from);
        if (typeof text === 'string' ? seen.includes(text) : text.test(seen)) done();
        else if (!running) fail(new Error(`lifeline proxy exited before printing ${String(text)}; stderr:\n${stderr}`));
      };
      const timer = setTimeout(() => fail(new Error(`no ${String(text)} from lifeline proxy within ${ms} ms; stderr:\n${stderr}`)), ms);
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
        resolveWait();
      };
      const fail = (error: Error): void => {
        clearTimeout(timer);
        waiters.delete(check);
        reject(error);
      };
      waiters.add(check);
      check();
    });
  const kill = async (): Promise<void> => {
    if (running) child.kill('SIGKILL');
    await exited;
  };
  try {
    await waitFor(/listening on .*\n/, timeoutMs);
  } catch (error) {
    await kill();
    throw error;
  }
  const line = /listening on http:\/\/[^:]+:(\d+)[^\n]*/.exec(stderr);
  const admin = /admin on http:\/\/[^:]*:(\d+)/.exec(stderr);
  if (line?.[1] === undefined || child.pid === undefined) {
    await kill();
    throw new Error(`cannot read the listener port from:\n${stderr}`);
  }
  return {
    child,
    pid: child.pid,
    port: Number(line[1]),
    adminPort: admin?.[1] === undefined ? undefined : Number(admin[1]),
    stderr: () => stderr,
    stdout: () => stdout,
    exited,
    waitFor,
    kill,
  };
}

/** Write `yaml` to `<dir>/<name>` and return its path. */
export function writeConfig(dir: string, name: string, yaml: string): string {
  const file = join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

/** VmRSS and VmHWM of a process, in bytes (Linux /proc). */
export function memoryOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    if (m?.[1] === undefined) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(m[1]) * 1024;
  };
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `check` every `everyMs` until it returns true or `timeoutMs` passes; resolves with the elapsed ms or undefined. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 10): Promise<number | undefined> {
  const start = performance.now();
  for (let i = 0; i < Math.ceil(timeoutMs / everyMs) + 1; i++) {
    if (await check()) return performance.now() - start;
    if (performance.now() - start > timeoutMs) return undefined;
    await sleep(everyMs);
  }
  return undefined;
}
