/**
 * The HTTP/2 fronts bench/http2 measures, how each is started, and the HTTP/2 readiness check
 * (nginx 1.22's h2c port speaks only HTTP/2, so bench/proxy's HTTP/1.1 check cannot be used).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LARGE_BODY_BYTES, LARGE_PATH, SMALL_BODY } from '../proxy/configs.js';
import { freePort, launch, sleep, stop, tail } from '../proxy/processes.js';
import { frontHaproxy, frontLifeline, frontNginx } from './configs.js';
import type { Mode, Tls } from './configs.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PEERS_DIR = join(ROOT, 'bench', 'http2', 'peers');
export const PEER_MODULES = join(ROOT, 'bench', '.peers', 'node_modules');
/** As bench/proxy: every Node process with npm start's 4 MiB semi-space cap, full GC on SIGUSR2. */
export const NODE_FLAGS = ['--max-semi-space-size=4', '--expose-gc', '--import', pathToFileURL(join(ROOT, 'bench', 'proxy', 'peers', 'gc-on-signal.mjs')).href];

export interface Front {
  id: string;
  label: string;
  node: boolean;
  /** null when it can run here; else why not. */
  unavailable(): string | null;
  command(dir: string, port: number, backendPort: number, mode: Mode, tls: Tls): [string, string[]];
}

export function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export const lifelineBuilt = (): string | null => (existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js')) ? null : 'not built (npm run build)');

export function lifelineCommand(conf: string): [string, string[]] {
  return [process.execPath, [...NODE_FLAGS, join(ROOT, 'bin', 'lifeline.js'), 'proxy', '--config', conf]];
}

function nodePeer(id: string, label: string, script: string, packages: string[]): Front {
  return {
    id,
    label,
    node: true,
    unavailable: () => {
      const missing = packages.filter((p) => !existsSync(join(PEER_MODULES, p, 'package.json')));
      return missing.length ? `${missing.join(', ')} not installed in bench/.peers (bash bench/http2/install.sh)` : null;
    },
    command: (_dir, port, backendPort, mode, tls) => [process.execPath, [...NODE_FLAGS, join(PEERS_DIR, script), String(port), mode, tls.certFile, tls.keyFile, String(backendPort)]],
  };
}

export const FRONTS: Front[] = [
  {
    id: 'nginx',
    label: 'nginx (1 worker, `http2`, upstream keepalive)',
    node: false,
    unavailable: () => (has('nginx') ? null : 'nginx not installed'),
    command: (dir, port, backendPort, mode, tls) => {
      const conf = join(dir, `front-nginx-${port}.conf`);
      writeFileSync(conf, frontNginx(dir, port, backendPort, mode, tls));
      return ['nginx', ['-p', dir, '-c', conf]];
    },
  },
  {
    id: 'haproxy',
    label: 'HAProxy (nbthread 1, h2 front)',
    node: false,
    unavailable: () => (has('haproxy') ? null : 'haproxy not installed'),
    command: (dir, port, backendPort, mode, tls) => {
      const conf = join(dir, `front-haproxy-${port}.cfg`);
      writeFileSync(conf, frontHaproxy(port, backendPort, mode, tls));
      return ['haproxy', ['-db', '-f', conf]];
    },
  },
  {
    id: 'lifeline',
    label: 'lifeline (workers: 1)',
    node: true,
    unavailable: lifelineBuilt,
    command: (dir, port, backendPort, mode, tls) => {
      const conf = join(dir, `front-lifeline-${port}.yaml`);
      writeFileSync(conf, frontLifeline(port, backendPort, mode, tls));
      return lifelineCommand(conf);
    },
  },
  nodePeer('http2-proxy', 'http2-proxy (node:http2 server, keep-alive http.Agent)', 'http2-proxy.mjs', ['http2-proxy']),
  nodePeer('node-http2', 'bare node:http2 server (serves the bodies itself, no proxying)', 'bare-h2.mjs', []),
];

/** One GET over HTTP/2 (h2c prior knowledge, or TLS insisting on ALPN h2); null on any failure. */
export function h2get(port: number, mode: Mode, path: string, timeoutMs = 2_000): Promise<{ status: number; body: Buffer } | null> {
  return new Promise((resolve) => {
    const authority = `${mode === 'tls' ? 'https' : 'http'}://127.0.0.1:${port}`;
    const session = http2.connect(authority, mode === 'tls' ? { rejectUnauthorized: false, ALPNProtocols: ['h2'] } : {});
    let settled = false;
    const done = (r: { status: number; body: Buffer } | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    timer.unref();
    session.on('error', () => done(null));
    const req = session.request({ ':path': path });
    const chunks: Buffer[] = [];
    let status = 0;
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => done(mode === 'tls' && session.alpnProtocol !== 'h2' ? null : { status, body: Buffer.concat(chunks) }));
    req.on('error', () => done(null));
  });
}

/** Wait until the front answers `/` with the 100 bytes over HTTP/2 (and `/64k` with 64 KiB when `large`). */
export async function waitReadyH2(port: number, mode: Mode, child: ChildProcess, log: string, large: boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited (${child.exitCode ?? child.signalCode}): ${tail(log)}`);
    const r = await h2get(port, mode, '/');
    if (r && r.status === 200 && r.body.toString('latin1') === SMALL_BODY) {
      if (!large) return;
      const big = await h2get(port, mode, LARGE_PATH);
      if (big?.status === 200 && big.body.length === LARGE_BODY_BYTES) return;
      throw new Error(`${LARGE_PATH} over HTTP/2 is not 64 KiB (status ${big?.status ?? 'none'}, ${big?.body.length ?? 0} bytes)`);
    }
    await sleep(100);
  }
  throw new Error(`did not answer over HTTP/2 (${mode}) within ${timeoutMs / 1000} s: ${tail(log)}`);
}

export interface Running {
  node: boolean;
  child: ChildProcess;
  pid: number;
  port: number;
}

/** Start a front pinned to `cpus` and wait until it answers over HTTP/2. */
export async function startFront(f: Front, dir: string, backendPort: number, mode: Mode, tls: Tls, cpus: string, large: boolean): Promise<Running> {
  const port = await freePort();
  const [cmd, args] = f.command(dir, port, backendPort, mode, tls);
  const log = join(dir, `${f.id}-${mode}-${port}.log`);
  const child = launch(cpus, cmd, args, log);
  try {
    await waitReadyH2(port, mode, child, log, large);
  } catch (err) {
    await stop(child);
    throw err;
  }
  return { node: f.node, child, pid: child.pid as number, port };
}

/** A self-signed P-256 certificate for 127.0.0.1, made once per run with openssl. */
export function makeCert(dir: string): Tls {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  const pemFile = join(dir, 'cert-key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
  writeFileSync(pemFile, readFileSync(certFile, 'utf8') + readFileSync(keyFile, 'utf8'));
  return { certFile, keyFile, pemFile };
}
