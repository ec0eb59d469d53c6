/**
 * Tunnel benchmark: throughput (one 1 GiB stream; 50 parallel streams of 20 MiB) and request
 * latency (64-byte request/response on an open stream; and new stream + one request) through
 * the lifeline tunnel, against a direct loopback connection, OpenSSH's SOCKS proxy (`ssh -D` to a
 * local sshd), the floor (the same bytes over bare Node TLS 1.3 sockets between two processes:
 * what Node's own TLS costs), and a bare Node relay doing the tunnel's job the idiomatic way,
 * without its protocol (node-relay.ts: plain TCP piped over a TLS connection per stream), all in
 * the same run.
 * Targets (the tunnel's acceptance bar): throughput, one stream and 50, at least twice ssh -D's;
 * a new stream plus one request at most 0.5 ms over direct (p50). The tunnel's own CPU time per
 * MB (server + client processes, from /proc) is reported beside its throughput: on a shared
 * machine it varies much less than MB/s.
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
 * Run: npm run build && node dist/bench/tunnel/run.js [--quick] [--rounds=N] [--window=BYTES] [--write]
 *   --window: the tunnel's per-stream window on both ends (default: the tunnel's default), for A/B;
 *   full (default): 3 rounds of 1 GiB, 50 x 20 MiB, 2000 round trips, 200 connects (minutes);
 *   --quick: 1 round of 256 MiB, 50 x 4 MiB, 500 round trips, 100 connects (seconds).
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { generateKeyPair } from '../../src/tunnel/keygen.js';
import { TunnelProc, socksConnect } from '../../test/helpers/tunnel-harness.js';
import { median, writeSection } from '../results.js';

const TOKEN = 'bench-token-0123456789abcdef';
const QUICK = process.argv.includes('--quick');
const MIB = 1024 * 1024;
const SINGLE_BYTES = QUICK ? 256 * MIB : 1024 * MIB;
const PARALLEL_BYTES = QUICK ? 4 * MIB : 20 * MIB;
const PARALLEL = 50;
const ROUND_TRIPS = QUICK ? 500 : 2000;
const CONNECTS = QUICK ? 100 : 200;

type PathName = 'direct' | 'floor' | 'relay' | 'lifeline' | 'ssh';
interface Sample {
  singleMBs: number;
  parallelMBs: number;
  rttP50: number;
  rttP99: number;
  connectP50: number;
  /** Of connect+request: until the connection is usable (TCP connect, and the SOCKS answer). */
  answerP50: number;
  /** CPU time of the path's two relaying processes per MB moved (lifeline and the bare relay), µs. */
  singleCpuUsPerMB: number;
  parallelCpuUsPerMB: number;
}

/** User + system CPU time of a process so far, ms (Linux /proc; clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
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
  return path === 'direct' || path === 'relay' ? [] : ['--socks5-hostname', `127.0.0.1:${socks[path]}`];
}

/** The floor: `streams` bare TLS connections of `bytes` each, received by tls-sink in its own process. */
function tlsSink(port: number, bytes: number, streams: number): Promise<{ bytes: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const sink = fileURLToPath(new URL('./tls-sink.js', import.meta.url));
    const child = spawn(process.execPath, [sink, '--port', String(port), '--bytes', String(bytes), '--streams', String(streams)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`tls-sink failed (${String(code)}): ${err}`));
      else resolve(JSON.parse(out) as { bytes: number; seconds: number });
    });
  });
}

interface Ports {
  http: number;
  echo: number;
  tls: number;
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

async function measure(path: PathName, socks: Record<PathName, number>, ports: Ports, tunnelPids: number[], relay: { port: number; pids: number[] }): Promise<Sample> {
  const pids = path === 'lifeline' ? tunnelPids : path === 'relay' ? relay.pids : [];
  const cpu = (): number => pids.reduce((n, pid) => n + cpuMs(pid), 0);
  const measured = pids.length > 0;
  if (path === 'floor') {
    const single = await tlsSink(ports.tls, SINGLE_BYTES, 1);
    const parallel = await tlsSink(ports.tls, PARALLEL_BYTES, PARALLEL);
    return { singleMBs: single.bytes / 1e6 / single.seconds, parallelMBs: parallel.bytes / 1e6 / parallel.seconds, rttP50: Number.NaN, rttP99: Number.NaN, connectP50: Number.NaN, answerP50: Number.NaN, singleCpuUsPerMB: Number.NaN, parallelCpuUsPerMB: Number.NaN };
  }
  // The bare relay forwards its port to the HTTP origin, so curl asks it directly.
  const httpPort = path === 'relay' ? relay.port : ports.http;
  const echoPort = ports.echo;
  const cpu0 = cpu();
  const single = await curl([...via(path, socks), `http://127.0.0.1:${httpPort}/bytes/${SINGLE_BYTES}/1`]);
  const cpu1 = cpu();
  const started = performance.now();
  const runs = await Promise.all(Array.from({ length: PARALLEL }, (_v, i) => curl([...via(path, socks), `http://127.0.0.1:${httpPort}/bytes/${PARALLEL_BYTES}/${i}`])));
  const wall = (performance.now() - started) / 1000;
  const cpu2 = cpu();
  const total = runs.reduce((n, r) => n + r.bytes, 0);
  const cpuPerMB = (from: number, to: number, bytes: number): number => (measured ? ((to - from) * 1000) / (bytes / 1e6) : Number.NaN);
  if (path === 'relay') {
    // Throughput only: a relay connection is a new TLS connection, not a stream of an open one.
    return { singleMBs: single.bytes / 1e6 / single.seconds, parallelMBs: total / 1e6 / wall, rttP50: Number.NaN, rttP99: Number.NaN, connectP50: Number.NaN, answerP50: Number.NaN, singleCpuUsPerMB: cpuPerMB(cpu0, cpu1, single.bytes), parallelCpuUsPerMB: cpuPerMB(cpu1, cpu2, total) };
  }
  const socket = await connectTo(path, socks, echoPort);
  const payload = Buffer.alloc(64, 'r');
  for (let i = 0; i < 100; i += 1) await roundTrip(socket, payload); // warm-up
  const rtts: number[] = [];
  for (let i = 0; i < ROUND_TRIPS; i += 1) rtts.push(await roundTrip(socket, payload));
  socket.destroy();
  const connects: number[] = [];
  const answers: number[] = [];
  for (let i = 0; i < CONNECTS; i += 1) {
    const t0 = performance.now();
    const s = await connectTo(path, socks, echoPort);
    answers.push(performance.now() - t0);
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
    answerP50: percentile(answers, 0.5),
    singleCpuUsPerMB: cpuPerMB(cpu0, cpu1, single.bytes),
    parallelCpuUsPerMB: cpuPerMB(cpu1, cpu2, total),
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
  const rounds = Number(flag('rounds', QUICK ? '1' : '3'));
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
    const pair = generateKeyPair();
    writeFileSync(join(dir, 'tunnel.crt'), pair.cert);
    writeFileSync(join(dir, 'tunnel.key'), pair.key);
    const origin = spawn(process.execPath, [join(distRoot, 'bench', 'tunnel', 'origin.js'), '--cert', join(dir, 'tunnel.crt'), '--key', join(dir, 'tunnel.key')], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(origin);
    const ports = JSON.parse(await waitLine(origin, 'origin', (l) => l.includes('listening'))) as Ports;

    writeFileSync(join(dir, 'tokens'), `${TOKEN}\n`);
    const windowArgs = flag('window', '') === '' ? [] : ['--window', flag('window', '')];
    const server = new TunnelProc(['server', '--listen', '127.0.0.1:0', '--cert', join(dir, 'tunnel.crt'), '--key', join(dir, 'tunnel.key'), '--token-file', join(dir, 'tokens'), '--allow', `127.0.0.1:${ports.http},${ports.echo}`, ...windowArgs]);
    procs.push(server);
    const tunnelPort = Number((await server.waitFor('server', (e) => e.event === 'listening', 15_000)).port);
    const client = new TunnelProc(['client', '--server', `127.0.0.1:${tunnelPort}`, '--token-file', join(dir, 'tokens'), '--fingerprint', pair.fingerprint, '--socks', '127.0.0.1:0', ...windowArgs]);
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

    // The bare Node relay: plain TCP piped over TLS to the HTTP origin, two processes.
    const relayScript = join(distRoot, 'bench', 'tunnel', 'node-relay.js');
    const relayServer = spawn(process.execPath, [relayScript, 'server', '--target', String(ports.http), '--cert', join(dir, 'tunnel.crt'), '--key', join(dir, 'tunnel.key')], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(relayServer);
    const relayServerPort = (JSON.parse(await waitLine(relayServer, 'relay server', (l) => l.includes('listening'))) as { port: number }).port;
    const relayClient = spawn(process.execPath, [relayScript, 'client', '--server', String(relayServerPort)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(relayClient);
    const relay = { port: (JSON.parse(await waitLine(relayClient, 'relay client', (l) => l.includes('listening'))) as { port: number }).port, pids: [relayServer.pid ?? -1, relayClient.pid ?? -1] };

    const socks: Record<PathName, number> = { direct: 0, floor: 0, relay: 0, lifeline: lifelineSocks, ssh: sshSocks };
    const paths = ['direct', 'floor', 'relay', 'lifeline', 'ssh'] as const;
    const samples: Record<PathName, Sample[]> = { direct: [], floor: [], relay: [], lifeline: [], ssh: [] };
    const started = performance.now();
    const loadBefore = loadavg().map((x) => x.toFixed(1)).join(' ');
    const sizes = `${SINGLE_BYTES / MIB} MiB, ${PARALLEL} x ${PARALLEL_BYTES / MIB} MiB`;
    for (let r = 0; r < rounds; r += 1) {
      const order: PathName[] = r % 2 === 0 ? [...paths] : [...paths].reverse();
      for (const path of order) {
        const s = await measure(path, socks, ports, [server.pid, client.pid], relay);
        samples[path].push(s);
        const cpu = path === 'lifeline' || path === 'relay' ? ` (relaying CPU ${s.singleCpuUsPerMB.toFixed(0)} / ${s.parallelCpuUsPerMB.toFixed(0)} µs per MB)` : '';
        console.log(`round ${r + 1} ${path}: one stream ${s.singleMBs.toFixed(0)} MB/s, ${PARALLEL} streams ${s.parallelMBs.toFixed(0)} MB/s${cpu}, RTT p50 ${s.rttP50.toFixed(3)} ms p99 ${s.rttP99.toFixed(3)} ms, connect+request p50 ${s.connectP50.toFixed(3)} ms; load ${(loadavg()[0] ?? 0).toFixed(1)}`);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const med = (path: PathName, key: keyof Sample): number => median(samples[path].map((s) => s[key]));
    const cell = (v: number, digits: number): string => (Number.isNaN(v) ? '-' : v.toFixed(digits));
    const rows = paths.map((p) => {
      const name = {
        direct: 'direct loopback (no tunnel)',
        floor: `floor: bare Node TLS sockets, process to process (${tlsCipher})`,
        relay: `bare Node relay: plain TCP piped over TLS, a TLS connection per stream (${tlsCipher})`,
        lifeline: `lifeline tunnel (${tlsCipher}; SOCKS5)`,
        ssh: `ssh -D (OpenSSH 9.2, ${sshCipher})`,
      }[p];
      return `| ${name} | ${cell(med(p, 'singleMBs'), 0)} | ${cell(med(p, 'parallelMBs'), 0)} | ${cell(med(p, 'singleCpuUsPerMB'), 0)} / ${cell(med(p, 'parallelCpuUsPerMB'), 0)} | ${cell(med(p, 'rttP50'), 3)} | ${cell(med(p, 'rttP99'), 3)} | ${cell(med(p, 'connectP50'), 3)} | ${cell(med(p, 'answerP50'), 3)} |`;
    });
    const ratio = (key: keyof Sample): number => med('lifeline', key) / med('ssh', key);
    const rttOverhead = med('lifeline', 'rttP50') - med('direct', 'rttP50');
    const connectOverhead = med('lifeline', 'connectP50') - med('direct', 'connectP50');
    const sshConnectOverhead = med('ssh', 'connectP50') - med('direct', 'connectP50');
    const met = (ok: boolean): string => (ok ? 'met' : 'NOT met');
    const body = [
      `Mode: ${QUICK ? 'quick (development figure only)' : 'full'}. curl downloads (${sizes}) from a loopback HTTP origin through each path's SOCKS5 port (--socks5-hostname); the floor pushes the same bytes over bare TLS 1.3 connections between two Node processes (no tunnel, no SOCKS, no HTTP), the most the tunnel's two TLS ends could carry; the bare Node relay does the tunnel's whole job the idiomatic Node way (bench/tunnel/node-relay.ts: two processes, curl's connection piped into a TLS connection of its own and on to the origin; no SOCKS, framing or multiplexing). Relaying CPU is the user + system time of the two relaying processes (lifeline's server and client; the bare relay's two) per MB moved (one stream / 50 streams). RTT is a 64-byte request/response on an open stream (${ROUND_TRIPS} sequential, after 100 warm-up); connect+request is a new stream plus one round trip (${CONNECTS} sequential; the client pipelines opens to a destination it has opened before, as ssh -D does), and of it the time until the connection is usable (TCP connect, and for the proxies the SOCKS answer; the rest is the first round trip, which for a tunnel includes the server's connect to the destination). Medians of ${rounds} interleaved rounds (${seconds.toFixed(0)} s)${windowArgs.length > 0 ? `; tunnel window ${flag('window', '')} bytes` : ''}. Load average (1, 5, 15 min) ${loadBefore} before, ${loadavg().map((x) => x.toFixed(1)).join(' ')} after, on ${cpus().length} cores${loadBefore.startsWith('0.') ? '' : ' shared with other work: single rounds vary by up to 2x'}.`,
      '',
      ...paths.map((p) => `Rounds, ${p}: one stream ${samples[p].map((x) => x.singleMBs.toFixed(0)).join(', ')} MB/s; 50 streams ${samples[p].map((x) => x.parallelMBs.toFixed(0)).join(', ')} MB/s.`),
      '',
      `| path | ${SINGLE_BYTES / MIB} MiB, one stream (MB/s) | ${PARALLEL} x ${PARALLEL_BYTES / MIB} MiB parallel (MB/s) | relaying CPU, µs per MB (one / 50) | RTT p50 (ms) | RTT p99 (ms) | connect+request p50 (ms) | of which connected and answered p50 (ms) |`,
      '|---|---|---|---|---|---|---|---|',
      ...rows,
      '',
      `Targets: throughput at least 2x ssh -D's: one stream ${met(ratio('singleMBs') >= 2)} (${ratio('singleMBs').toFixed(2)}x; floor ${(med('floor', 'singleMBs') / med('ssh', 'singleMBs')).toFixed(2)}x, bare Node relay ${(med('relay', 'singleMBs') / med('ssh', 'singleMBs')).toFixed(2)}x), 50 streams ${met(ratio('parallelMBs') >= 2)} (${ratio('parallelMBs').toFixed(2)}x; floor ${(med('floor', 'parallelMBs') / med('ssh', 'parallelMBs')).toFixed(2)}x, bare Node relay ${(med('relay', 'parallelMBs') / med('ssh', 'parallelMBs')).toFixed(2)}x); connect+request at most 0.5 ms over direct: ${met(connectOverhead <= 0.5)} (${connectOverhead.toFixed(3)} ms; ssh -D ${sshConnectOverhead.toFixed(3)} ms); RTT overhead on an open stream ${rttOverhead.toFixed(3)} ms.`,
    ].join('\n');
    console.log(`\n${body}`);
    const command = `npm run build && node dist/bench/tunnel/run.js${QUICK ? ' --quick' : ''}${process.argv.some((a) => a.startsWith('--rounds=')) ? ` --rounds=${rounds}` : ''}${windowArgs.length > 0 ? ` --window=${flag('window', '')}` : ''} --write`;
    if (process.argv.includes('--write')) writeSection('tunnel', 'Tunnel: throughput and latency vs direct, bare TLS and ssh -D', command, body);
  } finally {
    await cleanup();
  }
}

await main();
