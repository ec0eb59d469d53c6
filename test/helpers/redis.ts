/**
 * Redis for the lease tests. CI starts redis-server on a free loopback port and exports
 * LIFELINE_REDIS_URL; without it, a redis-server binary on PATH is started here on a free port.
 * Only when neither works do the tests skip, printing why.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** True when something at `url` answers PING with PONG within 1 s. */
export async function redisAnswers(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(u.port || 6379), u.hostname);
    const timer = setTimeout(() => finish(false), 1000);
    let data = '';
    function finish(ok: boolean): void {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    }
    socket.on('connect', () => socket.write(u.password === '' ? 'PING\r\n' : `AUTH ${decodeURIComponent(u.password)}\r\nPING\r\n`));
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (data.includes('+PONG')) finish(true);
    });
    socket.on('error', () => finish(false));
  });
}

export function redisServerBinary(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const path = r.stdout.trim();
  return r.status === 0 && path !== '' ? path : undefined;
}

/** A redis-server child on a loopback port that a test can stop and start again. */
export class RedisServer {
  readonly port: number;
  #child: ChildProcess | undefined;

  private constructor(port: number) {
    this.port = port;
  }

  static async start(port?: number): Promise<RedisServer> {
    const server = new RedisServer(port ?? (await freePort()));
    await server.startAgain();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  async startAgain(): Promise<void> {
    const bin = redisServerBinary();
    if (bin === undefined) throw new Error('redis-server is not on PATH');
    const child = spawn(bin, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--daemonize', 'no', '--loglevel', 'warning'], { stdio: 'ignore' });
    this.#child = child;
    child.once('exit', () => {
      if (this.#child === child) this.#child = undefined;
    });
    const until = Date.now() + 10_000;
    while (!(await redisAnswers(this.url))) {
      if (this.#child === undefined) throw new Error(`redis-server exited at start (port ${this.port})`);
      if (Date.now() > until) throw new Error(`redis-server did not answer on port ${this.port} within 10 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stop the server (SIGKILL: as abrupt as a crash) and wait for it to exit. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

export interface RedisTarget {
  url: string;
  /** Set when the tests started their own server (stop it in `after`). */
  server?: RedisServer;
}

let cached: Promise<RedisTarget | string> | undefined;

/** The Redis to test against, or the reason there is none (the caller skips with it). */
export function testRedis(): Promise<RedisTarget | string> {
  cached ??= (async () => {
    const env = process.env.LIFELINE_REDIS_URL;
    if (env !== undefined && env !== '') {
      if (await redisAnswers(env)) return { url: env };
      if (redisServerBinary() === undefined) return `LIFELINE_REDIS_URL=${env} does not answer and redis-server is not on PATH`;
    }
    if (redisServerBinary() === undefined) return 'no Redis: LIFELINE_REDIS_URL is unset and redis-server is not on PATH';
    const server = await RedisServer.start();
    return { url: server.url, server };
  })();
  return cached;
}

/** A key prefix no other test run shares. */
export function uniquePrefix(name: string): string {
  return `lifeline-test:{${name}-${process.pid}-${Date.now().toString(36)}}:`;
}
