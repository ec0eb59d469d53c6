/**
 * Servers with known keep-alive settings for the probe tests: nginx and HAProxy run as the test's
 * own child processes (foreground, temp config dir, free loopback ports, killed in close()), and
 * small Node servers.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:net';
import { freePort } from './redis.js';

export { freePort };

/** Why `bin` cannot be used (undefined when it is on PATH). */
export function missing(bin: string): string | undefined {
  return spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0 ? undefined : `${bin} is not installed`;
}

/** Resolve when `port` accepts a connection; reject after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() >= deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface ChildServer {
  dir: string;
  close(): Promise<void>;
}

async function runChild(command: string, args: string[], dir: string, ports: readonly number[]): Promise<ChildServer> {
  const child: ChildProcess = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // SIGTERM, so nginx's master stops its workers (a killed master would orphan them, and their
  // copy of the stderr pipe would keep this process alive); SIGKILL if it takes over 3 s.
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(timer);
    }
    child.stderr?.destroy();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.race([
      Promise.all(ports.map((p) => waitForPort(p))),
      exited.then(() => { throw new Error(`${command} exited: ${stderr}`); }),
    ]);
  } catch (error) {
    await close();
    throw error;
  }
  return { dir, close };
}

/**
 * nginx in the foreground with `http` as its http block (DIR in it is replaced by the temp dir,
 * where `files` are written first).
 */
export async function startNginx(http: string, ports: readonly number[], files: Record<string, string | Buffer> = {}): Promise<ChildServer> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-nginx-'));
  mkdirSync(join(dir, 'tmp'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${dir}/tmp/${t};`).join('\n  ');
  const conf = `worker_processes 1;
events { worker_connections 256; }
http {
  access_log off;
  ${temps}
  ${http.replaceAll('DIR', dir)}
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  return runChild('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', `daemon off; pid ${dir}/nginx.pid; error_log stderr;`], dir, ports);
}

/** HAProxy in the foreground with this configuration. */
export async function startHaproxy(config: string, ports: readonly number[]): Promise<ChildServer> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-haproxy-'));
  writeFileSync(join(dir, 'haproxy.cfg'), config);
  return runChild('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], dir, ports);
}

/** Listen on 127.0.0.1:0; resolves to the port. */
export async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as net.AddressInfo).port;
}

/** Close a server and destroy its connections. */
export function closeServer(server: Server & { closeAllConnections?: () => void }): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}
