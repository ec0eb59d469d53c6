/**
 * Tunnel benchmark: throughput (one 1 GiB stream; 50 parallel streams of 20 MiB) and request
 * latency (64-byte request/response on an open stream; and new stream + one request) through
 * the lifeline tunnel, against a direct loopback connection and OpenSSH's SOCKS proxy (`ssh -D`
 * to a local sshd), all in the same run. Targets (the tunnel's acceptance bar): throughput at least ssh -D's; latency
 * overhead (tunnel p50 minus direct p50) under 0.5 ms.
 *
 * Why these processes: the origin (HTTP bytes + TCP echo), the lifeline server, the lifeline
 * client, sshd and ssh each run in their own process, and curl does the transfers, so no two
 * parties share an event loop; this process only times. Everything shares the machine's 2 cores,
 * like the tunnel's real deployment on a small VM would not: read ratios, not absolutes.
 *
 * Invariants: sshd runs on a free loopback port with a temporary host key and a temporary
 * authorized key (as root, which this needs: sshd refuses otherwise); every child is killed and
 * the temp directory removed at the end, also on failure. Rounds interleave the three paths so
 * drift in machine load hits them alike; the table shows medians over rounds.
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/tunnel/run.js [--rounds=3] [--write]
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { generateKeyPair } from '../../src/tunnel/keygen.js';
import { TunnelProc, socksConnect } from '../../test/helpers/tunnel-harness.js';
import { median, writeSection } from '../results.js';

const TOKEN = 'bench-token-0123456789abcdef';
const GIB = 1024 ** 3;
const MIB20 = 20 * 1024 * 1024;
const PARALLEL = 50;
const ROUND_TRIPS = 2000;
const CONNECTS = 200;

type PathName = 'direct' | 'lifeline' | 'ssh';
interface Sample {
  singleMBs: number;
  parallelMBs: number;
  rttP50: number;
  rttP99: number;
  connectP50: number;
}

function flag(name: string, fallback: string): string {
  const prefix = `--${name}=`;
  return process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length) ?? fallback;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function curl(args: string[]): Promise<{ bytes: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['-sS', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', '--max-time', '120', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.on('close', (code) => {
      const [bytes, seconds] = out.trim().split(' ').map(Number);
      if (code !== 0 || bytes === undefined || seconds === undefined) reject(new Error(`curl ${args.join(' ')} failed (${String(code)}): ${err}`));
      else resolve({ bytes, seconds });
    });
  });
}

function via(path: PathName, socks: Record<PathName, number>): string[] {
  return path === 'direct' ? [] : ['--socks5-hostname', `127.0.0.1:${socks[path]}`];
}

async function connectTo(path: PathName, socks: Record<PathName, number>, echoPort: number): Promise<net.Socket> {
  if (path === 'direct') {
    const s = net.connect(echoPort, '127.0.0.1');
    s.setNoDelay(true);
    await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
    return s;
  }
  const { reply, socket } = await socksConnect(socks[path], '127.0.0.1', echoPort);
  if (reply !== 0) throw new Error(`SOCKS reply ${reply} via ${path}`);
  socket.setNoDelay(true);
  return socket;
}

function roundTrip(socket: net.Socket, payload: Buffer): Promise<number> {
  const started = performance.now();
  return new Promise((resolve) => {
    let got = 0;
    const onData = (c: Buffer): void => {
      got += c.length;
      if (got >= payload.length) {
        socket.off('data', onData);
        resolve(performance.now() - started);
      }
    };
    socket.on('data', onData);
    socket.write(payload);
  });
}

async function measure(path: PathName, socks: Record<PathName, number>, httpPort: number, echoPort: number): Promise<Sample> {
  const single = await curl([...via(path, socks), `http://127.0.0.1:${httpPort}/bytes/${GIB}/1`]);
  const started = performance.now();
  const runs = await Promise.all(Array.from({ length: PARALLEL }, (_v, i) => curl([...via(path, socks), `http://127.0.0.1:${httpPort}/bytes/${MIB20}/${i}`])));
  const wall = (performance.now() - started) / 1000;
  const total = runs.reduce((n, r) => n + r.bytes, 0);
  const socket = await connectTo(path, socks, echoPort);
  const payload = Buffer.alloc(64, 'r');
  for (let i = 0; i < 100; i += 1) await roundTrip(socket, payload); // warm-up
  const rtts: number[] = [];
  for (let i = 0; i < ROUND_TRIPS; i += 1) rtts.push(await roundTrip(socket, payload));
  socket.destroy();
  const connects: number[] = [];
  for (let i = 0; i < CONNECTS; i += 1) {
    const t0 = performance.now();
    const s = await connectTo(path, socks, echoPort);
    await roundTrip(s, payload);
    connects.push(performance.now() - t0);
    s.destroy();
  }
  return {
    singleMBs: single.bytes / 1e6 / single.seconds,
    parallelMBs: total / 1e6 / wall,
    rttP50: percentile(rtts, 0.5),
    rttP99: percentile(rtts, 0.99),
    connectP50: percentile(connects, 0.5),
  };
}

function waitLine(child: ChildProcess, what: string, match: (line: string) => boolean, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: timed out`)), timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (match(line)) {
        clearTimeout(timer);
        resolve(line);
      }
    });
  });
}

async function waitPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (performance.now() > deadline) throw new Error(`port ${port} did not open`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<void> {
  const rounds = Number(flag('rounds', '3'));
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-bench-tunnel-'));
  const children: ChildProcess[] = [];
  const procs: TunnelProc[] = [];
  const cleanup = async (): Promise<void> => {
    await Promise.all(procs.map((p) => p.stop()));
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const distRoot = fileURLToPath(new URL('../../', import.meta.url));
    const origin = spawn(process.execPath, [join(distRoot, 'bench', 'tunnel', 'origin.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(origin);
    const ports = JSON.parse(await waitLine(origin, 'origin', (l) => l.includes('listening'))) as { http: number; echo: number };

    const pair = generateKeyPair();
    writeFileSync(join(dir, 'tunnel.crt'), pair.cert);
    writeFileSync(join(dir, 'tunnel.key'), pair.key);
    writeFileSync(join(dir, 'tokens'), `${TOKEN}\n`);
    const server = new TunnelProc(['server', '--listen', '127.0.0.1:0', '--cert', join(dir, 'tunnel.crt'), '--key', join(dir, 'tunnel.key'), '--token-file', join(dir, 'tokens'), '--allow', `127.0.0.1:${ports.http},${ports.echo}`]);
    procs.push(server);
    const tunnelPort = Number((await server.waitFor('server', (e) => e.event === 'listening', 15_000)).port);
    const client = new TunnelProc(['client', '--server', `127.0.0.1:${tunnelPort}`, '--token-file', join(dir, 'tokens'), '--fingerprint', pair.fingerprint, '--socks', '127.0.0.1:0']);
    procs.push(client);
    const entries = (await client.waitFor('client', (e) => e.event === 'listening', 15_000)).entries as { kind: string; port: number }[];
    await client.waitFor('client connected', (e) => e.event === 'connected', 15_000);
    const lifelineSocks = entries.find((e) => e.kind === 'socks')?.port ?? 0;
    const probe = tls.connect({ port: tunnelPort, host: '127.0.0.1', rejectUnauthorized: false });
    const tlsCipher = await new Promise<string>((resolve) => probe.once('secureConnect', () => resolve(`${probe.getProtocol() ?? '?'} ${probe.getCipher().name}`)));
    probe.destroy();

    // sshd on loopback with temporary keys; ssh -D as the peer's SOCKS proxy.
    mkdirSync('/run/sshd', { recursive: true });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'user_key')]);
    execFileSync('cp', [join(dir, 'user_key.pub'), join(dir, 'authorized_keys')]);
    const sshPort = await freePort();
    writeFileSync(
      join(dir, 'sshd_config'),
      [
        `Port ${sshPort}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host_key')}`, `PidFile ${join(dir, 'sshd.pid')}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        'StrictModes no', 'UsePAM no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PermitRootLogin prohibit-password', 'AllowTcpForwarding yes', 'LogLevel ERROR', '',
      ].join('\n'),
    );
    const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'ignore'] });
    children.push(sshd);
    await waitPort(sshPort, 10_000);
    const sshSocks = await freePort();
    const ssh = spawn('ssh', ['-v', '-N', '-D', `127.0.0.1:${sshSocks}`, '-i', join(dir, 'user_key'), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-p', String(sshPort), 'root@127.0.0.1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(ssh);
    let sshLog = '';
    ssh.stderr.setEncoding('utf8').on('data', (c: string) => (sshLog += c));
    await waitPort(sshSocks, 10_000);
    await curl(['--socks5-hostname', `127.0.0.1:${sshSocks}`, `http://127.0.0.1:${ports.http}/bytes/1000/1`]);
    const sshCipher = /kex: server->client cipher: (\S+)/.exec(sshLog)?.[1] ?? 'unknown';

    const socks: Record<PathName, number> = { direct: 0, lifeline: lifelineSocks, ssh: sshSocks };
    const samples: Record<PathName, Sample[]> = { direct: [], lifeline: [], ssh: [] };
    const started = performance.now();
    const loadBefore = loadavg()[0] ?? 0;
    for (let r = 0; r < rounds; r += 1) {
      const order: PathName[] = r % 2 === 0 ? ['direct', 'lifeline', 'ssh'] : ['ssh', 'lifeline', 'direct'];
      for (const path of order) {
        const s = await measure(path, socks, ports.http, ports.echo);
        samples[path].push(s);
        console.log(`round ${r + 1} ${path}: 1 GiB ${s.singleMBs.toFixed(0)} MB/s, ${PARALLEL} x 20 MiB ${s.parallelMBs.toFixed(0)} MB/s, RTT p50 ${s.rttP50.toFixed(3)} ms p99 ${s.rttP99.toFixed(3)} ms, connect+request p50 ${s.connectP50.toFixed(3)} ms`);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const med = (path: PathName, key: keyof Sample): number => median(samples[path].map((s) => s[key]));
    const rows = (['direct', 'lifeline', 'ssh'] as const).map((p) => {
      const name = p === 'direct' ? 'direct loopback (no tunnel)' : p === 'lifeline' ? `lifeline tunnel (${tlsCipher}; SOCKS5)` : `ssh -D (OpenSSH 9.2, ${sshCipher})`;
      return `| ${name} | ${med(p, 'singleMBs').toFixed(0)} | ${med(p, 'parallelMBs').toFixed(0)} | ${med(p, 'rttP50').toFixed(3)} | ${med(p, 'rttP99').toFixed(3)} | ${med(p, 'connectP50').toFixed(3)} |`;
    });
    const overhead = med('lifeline', 'rttP50') - med('direct', 'rttP50');
    const sshOverhead = med('ssh', 'rttP50') - med('direct', 'rttP50');
    const singleOk = med('lifeline', 'singleMBs') >= med('ssh', 'singleMBs');
    const parallelOk = med('lifeline', 'parallelMBs') >= med('ssh', 'parallelMBs');
    const body = [
      `curl downloads from a loopback HTTP origin (through each path's SOCKS5 port with --socks5-hostname); RTT is a 64-byte request/response on an open stream (${ROUND_TRIPS} sequential, after 100 warm-up); connect+request is a new stream plus one round trip (${CONNECTS} sequential). Medians of ${rounds} interleaved rounds (${seconds.toFixed(0)} s; 1-minute load average ${loadBefore.toFixed(1)} before, ${(loadavg()[0] ?? 0).toFixed(1)} after, on 2 cores shared with other work, so single rounds vary by up to 2x).`,
      '',
      ...(['direct', 'lifeline', 'ssh'] as const).map((p) => `Rounds, ${p}: one stream ${samples[p].map((x) => x.singleMBs.toFixed(0)).join(', ')} MB/s; 50 streams ${samples[p].map((x) => x.parallelMBs.toFixed(0)).join(', ')} MB/s.`),
      '',
      '| path | 1 GiB, one stream (MB/s) | 50 x 20 MiB parallel (MB/s) | RTT p50 (ms) | RTT p99 (ms) | connect+request p50 (ms) |',
      '|---|---|---|---|---|---|',
      ...rows,
      '',
      `Targets: throughput at least ssh -D's: one stream ${singleOk ? 'met' : 'NOT met'} (${(med('lifeline', 'singleMBs') / med('ssh', 'singleMBs')).toFixed(2)}x), 50 streams ${parallelOk ? 'met' : 'NOT met'} (${(med('lifeline', 'parallelMBs') / med('ssh', 'parallelMBs')).toFixed(2)}x); latency overhead p50 ${overhead.toFixed(3)} ms ${overhead < 0.5 ? 'under' : 'NOT under'} 0.5 ms (ssh -D: ${sshOverhead.toFixed(3)} ms).`,
    ].join('\n');
    console.log(`\n${body}`);
    if (process.argv.includes('--write')) writeSection('tunnel', 'Tunnel: throughput and latency vs direct and ssh -D', 'npm run build && node dist/bench/tunnel/run.js --write', body);
  } finally {
    await cleanup();
  }
}

await main();
