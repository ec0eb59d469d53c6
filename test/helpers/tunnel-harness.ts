// Shared pieces of the tunnel tests: the CLI in a child process that logs JSON lines, a loopback
// HTTP origin whose bodies are deterministic (so a test knows each transfer's SHA-256 without
// storing it), a TCP echo server, and fd counting through /proc.
//
// Invariants: every wait is bounded; `stop()` resumes a stopped child before killing it and
// always resolves; servers close their open sockets on close.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../../', import.meta.url));
export const cliRunner = path.join(root, 'dist', 'test', 'helpers', 'tunnel-cli.js');

export interface LogEvent {
  t: number;
  event: string;
  [key: string]: unknown;
}

/** `lifeline tunnel <args> --log json` in a child process. */
export class TunnelProc {
  readonly proc: ChildProcess;
  readonly events: LogEvent[] = [];
  stderr = '';
  #exited = false;
  #notify: (() => void)[] = [];

  constructor(args: string[], prefix: string[] = []) {
    const [command, ...rest] = prefix.length > 0 ? (prefix as [string, ...string[]]) : [process.execPath];
    const argv = [...rest, ...(prefix.length > 0 ? [process.execPath] : []), cliRunner, ...args, '--log', 'json'];
    this.proc = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as LogEvent);
      } catch {
        this.stderr += `[stdout] ${line}\n`;
      }
      for (const wake of this.#notify.splice(0)) wake();
    });
    this.proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.proc.on('exit', () => {
      this.#exited = true;
      for (const wake of this.#notify.splice(0)) wake();
    });
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  /** The first event (past or future, after index `from`) matching, or a rejection after `timeoutMs`. */
  async waitFor(what: string, match: (e: LogEvent) => boolean, timeoutMs: number, from = 0): Promise<LogEvent> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find(match);
      if (found !== undefined) return found;
      const left = deadline - performance.now();
      if (this.#exited || left <= 0) {
        const why = this.#exited ? `the child exited (${String(this.proc.exitCode)})` : `timed out after ${timeoutMs} ms`;
        throw new Error(`waiting for ${what}: ${why}; events ${JSON.stringify(this.events.slice(-20))}; stderr ${this.stderr}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#notify.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resume (if stopped) and end it: SIGTERM, then SIGKILL after 3 s. Always resolves. */
  async stop(): Promise<void> {
    if (this.#exited || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = once(this.proc, 'exit');
    this.proc.kill('SIGCONT');
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 3000);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 6000))]);
    clearTimeout(timer);
  }
}

/** Open file descriptors of a process (Linux /proc). */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Poll `fn` until it returns true or `timeoutMs` passes; returns the last value. */
export async function eventually(fn: () => boolean, timeoutMs: number, stepMs = 25): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (fn()) return true;
    if (performance.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

const BLOCK = randomBytes(1 << 20);

/** The body served for `/bytes/<n>/<seed>`: the 1 MiB block rotated by seed, repeated. */
export function bodyChunks(n: number, seed: number): Buffer[] {
  const offset = (seed * 7919) % BLOCK.length;
  const rotated = Buffer.concat([BLOCK.subarray(offset), BLOCK.subarray(0, offset)]);
  const chunks: Buffer[] = [];
  for (let left = n; left > 0; left -= rotated.length) chunks.push(left >= rotated.length ? rotated : rotated.subarray(0, left));
  return chunks;
}

export function expectedSha256(n: number, seed: number): string {
  const h = createHash('sha256');
  for (const c of bodyChunks(n, seed)) h.update(c);
  return h.digest('hex');
}

export interface Origin {
  port: number;
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/** HTTP origin on 127.0.0.1: GET /bytes/<n>/<seed> streams a deterministic body; anything else "ok". */
export async function startOrigin(host = '127.0.0.1'): Promise<Origin> {
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const m = /^\/bytes\/(\d+)\/(\d+)$/.exec(req.url ?? '');
    if (m === null) {
      res.writeHead(200, { 'content-length': '2' }).end('ok');
      return;
    }
    const n = Number(m[1]);
    res.writeHead(200, { 'content-length': String(n), 'content-type': 'application/octet-stream' });
    const chunks = bodyChunks(n, Number(m[2]));
    let i = 0;
    const pump = (): void => {
      while (i < chunks.length) {
        const ok = res.write(chunks[i++]);
        if (!ok) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });
  server.on('connection', (s: net.Socket) => {
    accepted += 1;
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.listen(0, host);
  await once(server, 'listening');
  const a = server.address() as net.AddressInfo;
  return {
    port: a.port,
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/** TCP echo server on 127.0.0.1. */
export async function startEcho(host = '127.0.0.1'): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    accepted += 1;
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.pipe(s);
  });
  server.listen(0, host);
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/** SOCKS5 CONNECT by hand; resolves with the reply code and the socket (open when code 0). */
export async function socksConnect(proxyPort: number, host: string, port: number, proxyHost = '127.0.0.1'): Promise<{ reply: number; socket: net.Socket }> {
  const socket = net.connect(proxyPort, proxyHost);
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  const name = Buffer.from(host, 'latin1');
  const isV4 = net.isIPv4(host);
  const addr = isV4 ? Buffer.from([1, ...host.split('.').map(Number)]) : Buffer.concat([Buffer.from([3, name.length]), name]);
  const portBuf = Buffer.alloc(2);
  portBuf.writeUInt16BE(port);
  socket.write(Buffer.concat([Buffer.from([5, 1, 0]), Buffer.from([5, 1, 0]), addr, portBuf]));
  let got = Buffer.alloc(0);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('SOCKS reply timed out')), 10_000);
    const onData = (chunk: Buffer): void => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= 12) {
        clearTimeout(timer);
        socket.off('data', onData);
        const rest = got.subarray(12);
        if (rest.length > 0) socket.unshift(rest);
        resolve();
      }
    };
    socket.on('data', onData);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const reply = got.length >= 4 ? (got[3] as number) : -1;
  return { reply, socket };
}

/** Send `payload` over an open socket and wait for the same bytes back (echo). */
export async function echoRoundTrip(socket: net.Socket, payload: Buffer, timeoutMs = 10_000): Promise<boolean> {
  let got = Buffer.alloc(0);
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => finish(false), timeoutMs);
    const onData = (c: Buffer): void => {
      got = Buffer.concat([got, c]);
      if (got.length >= payload.length) finish(got.subarray(0, payload.length).equals(payload));
    };
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      resolve(ok);
    };
    socket.on('data', onData);
    socket.write(payload);
  });
}

/** Run `lifeline tunnel <args>` to completion without blocking this event loop. */
export function runCli(args: string[], timeoutMs = 15_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliRunner, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
