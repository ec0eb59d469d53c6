/**
 * The proxies bench/proxy compares, how each is started, and (for S6/S7) how each terminates TLS
 * and reports which handshakes resumed. A proxy that is missing is "not available", not a crash.
 */
import { spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from './backend.js';
import { proxyHaproxy, proxyLifeline, proxyNginx, SMALL_BODY } from './configs.js';
import { freePort, launch, stop, waitReady } from './processes.js';
import { CORE_LOAD, CORE_PROXY, NODE_FLAGS, PEER_MODULES, PEERS_DIR, ROOT } from './settings.js';
import type { BenchCert } from './tls-configs.js';
import { proxyHaproxyTls, proxyLifelineTls, proxyNginxTls } from './tls-configs.js';

/** Where a TLS proxy logs one line per request: `yes` when its session was resumed, `no` if not. */
export interface ResumptionLog {
  file: string;
  yes: string;
  no: string;
}

export interface TlsLaunch {
  command: [string, string[]];
  env?: Record<string, string>;
  /** Set when the proxy was asked to log resumption (S7). */
  resumption: ResumptionLog | null;
}

export interface Proxy {
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
  /** Measured in S1 only, for the workers table, not in the main tables. */
  s1Only?: boolean;
  /** Measured in S2 only: the floor a bare Node server sets for a connection per request. */
  s2Only?: boolean;
  /** S6/S7: the same proxy terminating TLS; absent for the proxies left out of S6/S7. */
  tls?(dir: string, port: number, backendPort: number, cert: BenchCert, logResumption: boolean): TlsLaunch;
}

export function has(cmd: string): boolean {
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

const lifelineBuilt = (): string | null => (existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js')) ? null : 'not built (npm run build)');

export const PROXIES: Proxy[] = [
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
    tls: (dir, port, backendPort, cert, logResumption) => {
      const conf = join(dir, `proxy-nginx-tls-${port}.conf`);
      const file = join(dir, `resumed-nginx-${port}.log`);
      writeFileSync(conf, proxyNginxTls(dir, port, backendPort, cert, logResumption ? file : null));
      return { command: ['nginx', ['-p', dir, '-c', conf]], resumption: logResumption ? { file, yes: 'r', no: '.' } : null };
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
    tls: (dir, port, backendPort, cert, logResumption) => {
      const conf = join(dir, `haproxy-tls-${port}.cfg`);
      writeFileSync(conf, proxyHaproxyTls(port, backendPort, cert, logResumption));
      // Its log goes to stdout, which launch() sends to the proxy's own log file.
      return { command: ['haproxy', ['-db', '-f', conf]], resumption: logResumption ? { file: join(dir, `haproxy-${port}.log`), yes: '1', no: '0' } : null };
    },
  },
  {
    id: 'lifeline',
    label: 'lifeline (workers: 1)',
    node: true,
    unavailable: lifelineBuilt,
    command: (dir, port, backendPort) => {
      const conf = join(dir, `lifeline-${port}.yaml`);
      writeFileSync(conf, proxyLifeline(port, backendPort));
      return [process.execPath, [...NODE_FLAGS, join(ROOT, 'bin', 'lifeline.js'), 'proxy', '--config', conf]];
    },
    tls: (dir, port, backendPort, cert, logResumption) => {
      const conf = join(dir, `lifeline-tls-${port}.yaml`);
      const file = join(dir, `resumed-lifeline-${port}.log`);
      writeFileSync(conf, proxyLifelineTls(port, backendPort, cert));
      const preload = logResumption ? ['--import', join(PEERS_DIR, 'tls-resumption-log.mjs')] : [];
      return {
        command: [process.execPath, [...NODE_FLAGS, ...preload, join(ROOT, 'bin', 'lifeline.js'), 'proxy', '--config', conf]],
        ...(logResumption ? { env: { LIFELINE_BENCH_RESUMPTION_LOG: file } } : {}),
        resumption: logResumption ? { file, yes: '1', no: '0' } : null,
      };
    },
  },
  {
    // `workers: 2` on this 2-core machine. Unpinned (CPUs 0-1), so its two workers share CPU 1
    // with wrk and the backend: an honest "what a second worker buys here".
    id: 'lifeline-2w',
    label: 'lifeline (workers: 2, CPUs 0-1, sharing CPU 1 with wrk and the backend)',
    node: true,
    cpus: `${CORE_PROXY},${CORE_LOAD}`,
    s1Only: true,
    unavailable: lifelineBuilt,
    command: (dir, port, backendPort) => {
      const conf = join(dir, `lifeline-2w-${port}.yaml`);
      writeFileSync(conf, proxyLifeline(port, backendPort, 2));
      return [process.execPath, [...NODE_FLAGS, join(ROOT, 'bin', 'lifeline.js'), 'proxy', '--config', conf]];
    },
  },
  {
    id: 'node-floor',
    label: 'bare node:net server (no proxying; the floor for S2)',
    node: true,
    s2Only: true,
    unavailable: () => null,
    command: (_dir, port) => [process.execPath, [...NODE_FLAGS, join(PEERS_DIR, 'floor-server.mjs'), String(port)]],
  },
  {
    id: 'node-floor-proxy',
    label: 'bare node:net proxy (one fixed request over a pooled upstream connection; the proxying floor for S2)',
    node: true,
    s2Only: true,
    unavailable: () => null,
    command: (_dir, port, backendPort) => [process.execPath, [...NODE_FLAGS, join(PEERS_DIR, 'floor-proxy.mjs'), String(port), String(backendPort)]],
  },
  nodePeer('fast-proxy-lite', 'fast-proxy-lite (http.Agent keep-alive)', 'fast-proxy-lite.mjs', ['fast-proxy-lite']),
  nodePeer('http-proxy-ka', 'node-http-proxy, keep-alive agent', 'http-proxy.mjs', ['http-proxy'], 'keepalive'),
  nodePeer('fastify-http-proxy', '@fastify/http-proxy (undici 7)', 'fastify-http-proxy.mjs', ['fastify', '@fastify/http-proxy', 'undici']),
  nodePeer('http-proxy', 'node-http-proxy, default (no upstream keep-alive)', 'http-proxy.mjs', ['http-proxy'], 'default'),
];

export interface Running {
  node: boolean;
  child: ChildProcess;
  pid: number;
  port: number;
  /** S7: where the proxy logs resumption. */
  resumption: ResumptionLog | null;
}

async function started(node: boolean, cpus: string, command: [string, string[]], log: string, port: number, tls: boolean, env?: Record<string, string>, resumption: ResumptionLog | null = null): Promise<Running> {
  const [cmd, args] = command;
  const child = launch(cpus, cmd, args, log, env);
  try {
    await waitReady(port, child, log, SMALL_BODY, 15_000, tls);
  } catch (err) {
    await stop(child);
    throw err;
  }
  return { node, child, pid: child.pid as number, port, resumption };
}

export async function startProxy(p: Proxy, dir: string, backend: Backend): Promise<Running> {
  const port = await freePort();
  return started(p.node, p.cpus ?? String(CORE_PROXY), p.command(dir, port, backend.port), join(dir, `${p.id}-${port}.log`), port, false);
}

/** The proxy terminating TLS (S6, or S7 with `logResumption`). */
export async function startTlsProxy(p: Proxy, dir: string, backend: Backend, cert: BenchCert, logResumption: boolean): Promise<Running> {
  if (p.tls === undefined) throw new Error(`${p.id} has no TLS set-up`);
  const port = await freePort();
  const t = p.tls(dir, port, backend.port, cert, logResumption);
  return started(p.node, p.cpus ?? String(CORE_PROXY), t.command, join(dir, `${p.id}-${port}.log`), port, true, t.env, t.resumption);
}
