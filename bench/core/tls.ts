/**
 * TLS on loopback: new connections per second with a full handshake, with resumption (through
 * TlsSessionCache, against a server running TicketKeyRotation), and requests per second over one
 * kept-alive TLS connection. Target: a resumed handshake at least 3x cheaper than a full one.
 *
 * Why three processes: the orchestrator (this file, no flags) only times phases and collects
 * numbers over IPC; the client and the server each get their own process, pinned with
 * `taskset -c 0` / `taskset -c 1` when taskset exists, so neither steals the other's core and
 * each side's CPU time (process.cpuUsage) is its own. "Cost" is server CPU per connection, the
 * number that decides how many handshakes a server can afford; rates are reported beside it.
 * A plain-TCP phase with the same echo gives the per-connection cost that is not TLS (accept,
 * socket objects, kernel), so the handshake alone can be compared: (full - tcp) / (resumed - tcp).
 *
 * Invariants: every phase runs for a fixed time (`--seconds`, default 1); each connection does one
 * 1-byte round trip so the server has finished its side; the run is rounds x (1 + versions x 3)
 * phases x seconds (about 21 s by default). Children exit at the end, also on failure.
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/core/tls.js [--seconds=1] [--rounds=3]
 *      [--concurrency=4] [--versions=TLSv1.3,TLSv1.2] [--key=rsa|ec] [--rotation=on|off]
 */
import { writeSection } from '../results.js';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createConnection, createServer as createTcpServer } from 'node:net';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { connect, createSecureContext, createServer } from 'node:tls';
import type { ConnectionOptions, SecureVersion, TLSSocket } from 'node:tls';
import { TicketKeyRotation } from '../../src/transport/ticket-key-rotation.js';
import { TlsSessionCache } from '../../src/transport/tls-session-cache.js';
import { makeTestCert } from '../../test/helpers/tls-certs.js';

type Phase = 'tcp' | 'full' | 'resumed' | 'keepalive';
const TLS_PHASES: Phase[] = ['full', 'resumed', 'keepalive'];
const REQUEST = Buffer.alloc(64, 'q');

interface RunRequest { type: 'run'; phase: Phase; version: SecureVersion; seconds: number; port: number; tcpPort: number; ca: string; concurrency: number }
interface RunResult { ops: number; seconds: number; clientCpuUs: number; reused: number }
interface Sample extends RunResult { serverCpuUs: number }

function flag(name: string, fallback: string): string {
  const prefix = `--${name}=`;
  return process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length) ?? fallback;
}

function cpuUs(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

/** Send a message to a child and wait for its one reply. */
function ask<T>(child: ChildProcess, message: object): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`child exited with ${code} while asked ${JSON.stringify(message).slice(0, 80)}`));
    child.once('exit', onExit);
    child.once('message', (reply) => {
      child.off('exit', onExit);
      resolve(reply as T);
    });
    child.send(message);
  });
}

// ---------------------------------------------------------------------------------- server role

function serverRole(): void {
  process.on('message', (raw) => {
    const message = raw as { type: string; key?: string; cert?: string; rotation?: boolean };
    if (message.type === 'cpu') {
      process.send?.({ cpuUs: cpuUs() });
    } else if (message.type === 'start') {
      const echo = (socket: Socket): void => {
        socket.on('error', () => undefined);
        socket.on('data', (chunk: Buffer) => socket.write(chunk));
      };
      const server = createServer({ key: message.key ?? '', cert: message.cert ?? '' }, echo);
      server.on('tlsClientError', () => undefined);
      // The default 1 h period: what matters is that its ticket hook is on the measured path.
      if (message.rotation === true) new TicketKeyRotation(server);
      // Plain TCP with the same echo: the per-connection cost that is not TLS at all.
      const tcp = createTcpServer(echo);
      const portOf = (s: { address(): unknown }): number => (s.address() as { port: number }).port;
      server.listen(0, '127.0.0.1', () => tcp.listen(0, '127.0.0.1', () => process.send?.({ port: portOf(server), tcpPort: portOf(tcp) })));
    } else if (message.type === 'exit') {
      process.exit(0);
    }
  });
}

// ---------------------------------------------------------------------------------- client role

/** One connection: (handshake,) a 1-byte round trip, close. Resolves whether TLS resumed. */
function oneConnection(open: () => TLSSocket | Socket): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = open();
    socket.once('error', reject);
    socket.once('secureConnect', () => socket.write('x'));
    if (!('encrypted' in socket)) socket.once('connect', () => socket.write('x'));
    socket.once('data', () => {
      const reused = 'encrypted' in socket && socket.isSessionReused();
      socket.destroy();
      resolve(reused);
    });
  });
}

/**
 * Client options with one shared SecureContext: without it every tls.connect parses the CA and
 * builds a new OpenSSL context (~0.5 ms), which would swamp the handshake being measured.
 */
function clientOptions(req: RunRequest): ConnectionOptions & { host: string; port: number } {
  const secureContext = createSecureContext({ ca: req.ca, minVersion: req.version, maxVersion: req.version });
  return { host: '127.0.0.1', port: req.port, servername: 'localhost', secureContext };
}

async function connections(req: RunRequest): Promise<RunResult> {
  const base = clientOptions(req);
  const cache = new TlsSessionCache();
  const opener = {
    tcp: () => createConnection(req.tcpPort, '127.0.0.1'),
    full: () => connect(base),
    resumed: () => cache.connect(base),
  };
  const open = opener[req.phase === 'keepalive' ? 'full' : req.phase];
  if (req.phase === 'resumed') await oneConnection(open); // warm the cache outside the timed window
  let ops = 0;
  let reused = 0;
  const cpu0 = cpuUs();
  const start = performance.now();
  const end = start + req.seconds * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      if (await oneConnection(open)) reused++;
      ops++;
    }
  };
  await Promise.all(Array.from({ length: req.concurrency }, loop));
  return { ops, seconds: (performance.now() - start) / 1000, clientCpuUs: cpuUs() - cpu0, reused };
}

async function keepAlive(req: RunRequest): Promise<RunResult> {
  const socket = connect(clientOptions(req));
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  let ops = 0;
  const cpu0 = cpuUs();
  const start = performance.now();
  const end = start + req.seconds * 1000;
  await new Promise<void>((resolve, reject) => {
    let pending = REQUEST.length;
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      pending -= chunk.length;
      if (pending > 0) return;
      ops++;
      if (performance.now() >= end) return resolve();
      pending = REQUEST.length;
      socket.write(REQUEST);
    });
    socket.write(REQUEST);
  });
  const result = { ops, seconds: (performance.now() - start) / 1000, clientCpuUs: cpuUs() - cpu0, reused: 0 };
  socket.destroy();
  return result;
}

function clientRole(): void {
  process.on('message', (raw) => {
    const message = raw as RunRequest | { type: 'exit' };
    if (message.type === 'exit') process.exit(0);
    const run = message.phase === 'keepalive' ? keepAlive(message) : connections(message);
    run.then(
      (result) => process.send?.(result),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  });
}

// ---------------------------------------------------------------------------------- orchestrator

function spawnRole(role: string, cpu: number, pinned: boolean): ChildProcess {
  const self = fileURLToPath(import.meta.url);
  const argv = [process.execPath, self, `--role=${role}`];
  const command = pinned ? ['taskset', '-c', String(cpu), ...argv] : argv;
  return spawn(command[0] ?? process.execPath, command.slice(1), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

async function orchestrate(): Promise<void> {
  const config = {
    seconds: Number(flag('seconds', '1')),
    rounds: Number(flag('rounds', '3')),
    concurrency: Number(flag('concurrency', '4')),
    keyType: flag('key', 'rsa') === 'ec' ? ('ec' as const) : ('rsa' as const),
    rotation: flag('rotation', 'on') !== 'off',
    pinned: spawnSync('taskset', ['-c', '0', 'true']).status === 0,
  };
  const versions = flag('versions', 'TLSv1.3,TLSv1.2').split(',') as SecureVersion[];
  const { key, cert } = makeTestCert({ keyType: config.keyType });
  const plan: [SecureVersion, Phase][] = [['TLSv1.3', 'tcp'], ...versions.flatMap((v) => TLS_PHASES.map((p): [SecureVersion, Phase] => [v, p]))];

  const server = spawnRole('server', 1, config.pinned);
  const client = spawnRole('client', 0, config.pinned);
  try {
    const ports = await ask<{ port: number; tcpPort: number }>(server, { type: 'start', key: key.toString(), cert: cert.toString(), rotation: config.rotation });
    const samples = new Map<string, Sample[]>();
    for (let round = 0; round < config.rounds; round++) {
      for (const [version, phase] of plan) {
        const before = await ask<{ cpuUs: number }>(server, { type: 'cpu' });
        const request: RunRequest = { type: 'run', phase, version, seconds: config.seconds, ...ports, ca: cert.toString(), concurrency: config.concurrency };
        const result = await ask<RunResult>(client, request);
        const afterCpu = await ask<{ cpuUs: number }>(server, { type: 'cpu' });
        const name = phase === 'tcp' ? 'tcp' : `${version} ${phase}`;
        samples.set(name, [...(samples.get(name) ?? []), { ...result, serverCpuUs: afterCpu.cpuUs - before.cpuUs }]);
      }
    }
    report(samples, versions, config);
  } finally {
    for (const child of [server, client]) if (child.connected) child.send({ type: 'exit' });
  }
}

interface Summary { rate: number; serverUsPerOp: number; clientUsPerOp: number; reusedShare: number }

function summarize(list: Sample[]): Summary {
  return {
    rate: median(list.map((s) => s.ops / s.seconds)),
    serverUsPerOp: median(list.map((s) => s.serverCpuUs / s.ops)),
    clientUsPerOp: median(list.map((s) => s.clientCpuUs / s.ops)),
    reusedShare: median(list.map((s) => s.reused / s.ops)),
  };
}

function report(samples: Map<string, Sample[]>, versions: SecureVersion[], config: Record<string, unknown>): void {
  const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const tcp = summarize(samples.get('tcp') ?? []);
  const results: Record<string, unknown> = { tcp };
  const lines: string[] = [];
  const out = (text: string): void => void lines.push(text);
  out(`\nTLS on loopback: node ${process.version}, OpenSSL ${process.versions.openssl}, ${config.keyType === 'ec' ? 'ECDSA P-256' : 'RSA 2048'} certificate, ` +
    `${config.pinned === true ? 'client on CPU 0, server on CPU 1' : 'not pinned (no taskset)'}, ${String(config.concurrency)} connections in flight, ` +
    `TicketKeyRotation ${config.rotation === true ? 'on' : 'off'}; medians of ${String(config.rounds)} rounds of ${String(config.seconds)} s per phase. ` +
    `Each connection: connect, handshake, 1-byte round trip, close.\n`);
  out('| TLS | full conn/s | resumed conn/s | server CPU µs/conn, full | resumed | cost ratio, whole connection | **cost ratio, handshake only** | client CPU µs/conn, full / resumed | keep-alive req/s (1 conn) | server CPU µs/req |');
  out('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const version of versions) {
    const full = summarize(samples.get(`${version} full`) ?? []);
    const resumed = summarize(samples.get(`${version} resumed`) ?? []);
    const kept = summarize(samples.get(`${version} keepalive`) ?? []);
    const connectionRatio = full.serverUsPerOp / resumed.serverUsPerOp;
    // The TLS part alone: what a plain TCP connection with the same echo costs is subtracted.
    const handshakeRatio = (full.serverUsPerOp - tcp.serverUsPerOp) / (resumed.serverUsPerOp - tcp.serverUsPerOp);
    out(`| ${version} | ${fmt(full.rate)} | ${fmt(resumed.rate)} | ${fmt(full.serverUsPerOp)} | ${fmt(resumed.serverUsPerOp)} | ${fmt(connectionRatio, 2)}x | ` +
      `**${fmt(handshakeRatio, 2)}x** | ${fmt(full.clientUsPerOp)} / ${fmt(resumed.clientUsPerOp)} | ${fmt(kept.rate)} | ${fmt(kept.serverUsPerOp, 1)} |`);
    results[version] = { full, resumed, keepalive: kept, connectionRatio, handshakeRatio, targetMet: handshakeRatio >= 3, resumedShare: resumed.reusedShare };
  }
  out(`| plain TCP (baseline) | ${fmt(tcp.rate)} | | ${fmt(tcp.serverUsPerOp)} | | | | ${fmt(tcp.clientUsPerOp)} | | |`);
  out(`\n${JSON.stringify({ bench: 'tls', node: process.version, openssl: process.versions.openssl, config, results })}`);
  console.log(lines.join('\n'));
  if (process.argv.includes('--write')) {
    const table = lines.filter((l) => !l.startsWith('\n{')).join('\n');
    writeSection('core-tls', 'Core: TLS handshakes on loopback, full vs resumed', 'npm run build && node dist/bench/core/tls.js --write', table);
  }
}


const role = flag('role', '');
if (role === 'server') serverRole();
else if (role === 'client') clientRole();
else await orchestrate();
