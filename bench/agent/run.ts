/**
 * Benchmark of lifeline/agent against its peers, in two parts.
 *
 * 1. Throughput: closed-loop clients (`--concurrency`, default 32) send GETs for `--seconds`
 *    (default 3) to a Node http.Server in another process answering 100 bytes; requests per
 *    second, p99 latency and client CPU per request for KeepAliveAgent, http.Agent({ keepAlive: true }), agentkeepalive
 *    and undici 7's Pool. `--rounds` (default 3) rounds in rotating order; medians are reported.
 * 2. The race: raw servers (another process) close each connection after exactly 60 ms idle; each
 *    client sends GETs spaced 60 ms +- 2 ms on 50 lanes; failures per 10,000 requests for each
 *    peer, plus undici's Pool with its retry interceptor.
 *
 * Pinning: the client runs on CPU 0 and the server on CPU 1 when `taskset` exists. The whole run
 * is bounded (about 2 minutes with the defaults).
 *
 * Run: npx tsc -p tsconfig.json && node dist/bench/agent/run.js [--seconds=3] [--rounds=3]
 *      [--concurrency=32] [--race-requests=10000] [--write]
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import HttpAgentKeepAlive from 'agentkeepalive';
import { Pool, interceptors } from 'undici';
import type { Dispatcher } from 'undici';
import { KeepAliveAgent } from '../../src/http/client/index.js';
import { median, writeSection } from '../results.js';

function flag(name: string, fallback: number): number {
  const prefix = `--${name}=`;
  const value = process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
  return value === undefined ? fallback : Number(value);
}

const SECONDS = flag('seconds', 3);
const ROUNDS = flag('rounds', 3);
const CONCURRENCY = flag('concurrency', 32);
const RACE_REQUESTS = flag('race-requests', 10_000);
const RACE_LANES = 50;
const RACE_IDLE_MS = 60;
const RACE_JITTER_MS = 2;
const PINNED = spawnSync('taskset', ['-c', '0', 'true']).status === 0;

/** One GET; resolves true on a 200 with its body read, false on any error. */
type Get = () => Promise<boolean>;

interface Peer {
  name: string;
  /** A client for `port`; `close` frees it. */
  make(port: number): { get: Get; close(): Promise<void> };
}

function nodeGet(agent: Agent, port: number): Get {
  return () =>
    new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/', agent }, (res: IncomingMessage) => {
        res.on('data', () => undefined);
        res.on('end', () => resolve(res.statusCode === 200));
        res.on('error', () => resolve(false));
      });
      req.on('error', () => resolve(false));
      req.end();
    });
}

function undiciGet(dispatcher: Dispatcher): Get {
  return async () => {
    try {
      const { statusCode, body } = await dispatcher.request({ path: '/', method: 'GET' });
      await body.dump();
      return statusCode === 200;
    } catch {
      return false;
    }
  };
}

function nodeAgentPeer(name: string, create: () => Agent): Peer {
  return {
    name,
    make(port) {
      const agent = create();
      return {
        get: nodeGet(agent, port),
        close: () => {
          agent.destroy();
          return Promise.resolve();
        },
      };
    },
  };
}

const PEERS: Peer[] = [
  nodeAgentPeer('lifeline KeepAliveAgent', () => new KeepAliveAgent()),
  nodeAgentPeer('http.Agent keepAlive', () => new Agent({ keepAlive: true })),
  nodeAgentPeer('agentkeepalive 4', () => new HttpAgentKeepAlive()),
  {
    name: 'undici 7 Pool',
    make(port) {
      const pool = new Pool(`http://127.0.0.1:${port}`);
      return { get: undiciGet(pool), close: () => pool.close() };
    },
  },
];

const RETRY_PEER: Peer = {
  name: 'undici 7 Pool + retry interceptor',
  make(port) {
    const pool = new Pool(`http://127.0.0.1:${port}`);
    const composed = pool.compose(interceptors.retry({ maxRetries: 1, minTimeout: 0, timeoutFactor: 1 }));
    return { get: undiciGet(composed), close: () => pool.close() };
  },
};

async function startServer(args: string[]): Promise<{ child: ChildProcess; ports: number[] }> {
  const script = fileURLToPath(new URL('./server.js', import.meta.url));
  const argv = [process.execPath, script, ...args];
  const command = PINNED ? ['taskset', '-c', '1', ...argv] : argv;
  const child = spawn(command[0] as string, command.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited with ${String(code)}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve);
  });
  return { child, ports: (JSON.parse(line) as { ports: number[] }).ports };
}

function stopServer(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.stdin?.end();
    setTimeout(() => child.kill(), 2000).unref();
  });
}

interface Throughput {
  rps: number;
  p99Ms: number;
  /** Client CPU (user + system) per request, microseconds: steadier than req/s on a shared machine. */
  cpuUsPerRequest: number;
  errors: number;
}

async function throughput(peer: Peer, port: number): Promise<Throughput> {
  const client = peer.make(port);
  const warmupEnd = performance.now() + 500;
  const end = warmupEnd + SECONDS * 1000;
  const latencies: number[] = [];
  let errors = 0;
  let cpuStart: NodeJS.CpuUsage | undefined;
  setTimeout(() => {
    cpuStart = process.cpuUsage();
  }, 500);
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (;;) {
        const start = performance.now();
        if (start >= end) return;
        const ok = await client.get();
        if (start >= warmupEnd) {
          latencies.push(performance.now() - start);
          if (!ok) errors++;
        }
      }
    }),
  );
  const cpu = process.cpuUsage(cpuStart);
  await client.close();
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / SECONDS,
    p99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? Number.NaN,
    cpuUsPerRequest: (cpu.user + cpu.system) / Math.max(1, latencies.length),
    errors,
  };
}

async function race(peer: Peer, ports: number[]): Promise<{ requests: number; failures: number }> {
  const clients = ports.map((port) => peer.make(port));
  const perLane = Math.ceil(RACE_REQUESTS / ports.length);
  let requests = 0;
  let failures = 0;
  await Promise.all(
    clients.map(async (client) => {
      for (let i = 0; i < perLane; i++) {
        requests++;
        if (!(await client.get())) failures++;
        await sleep(RACE_IDLE_MS + Math.round((Math.random() * 2 - 1) * RACE_JITTER_MS));
      }
    }),
  );
  await Promise.all(clients.map((c) => c.close()));
  return { requests, failures };
}

if (PINNED) spawnSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
const started = performance.now();

const rows = new Map<string, Throughput[]>();
const { child: tpServer, ports: [tpPort = 0] } = await startServer(['throughput']);
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < PEERS.length; i++) {
    const peer = PEERS[(i + round) % PEERS.length] as Peer;
    const result = await throughput(peer, tpPort);
    rows.set(peer.name, [...(rows.get(peer.name) ?? []), result]);
    process.stderr.write(`round ${round + 1} ${peer.name}: ${result.rps.toFixed(0)} req/s p99 ${result.p99Ms.toFixed(2)} ms ${result.cpuUsPerRequest.toFixed(0)} µs CPU/req\n`);
  }
}
await stopServer(tpServer);

const raceRows = new Map<string, { requests: number; failures: number }>();
for (const peer of [...PEERS, RETRY_PEER]) {
  const { child, ports } = await startServer(['race', String(RACE_LANES), String(RACE_IDLE_MS)]);
  const result = await race(peer, ports);
  raceRows.set(peer.name, result);
  process.stderr.write(`race ${peer.name}: ${result.failures}/${result.requests}\n`);
  await stopServer(child);
}

const base = median((rows.get('http.Agent keepAlive') ?? []).map((r) => r.rps));
const lines = [
  `Throughput: ${CONCURRENCY} requests in flight, GET with a 100-byte response from a Node http.Server in another process, ` +
    `${SECONDS} s per run after 0.5 s warm-up, median of ${ROUNDS} rounds; ${PINNED ? 'client on CPU 0, server on CPU 1' : 'not pinned (no taskset)'}.`,
  '',
  '| client | req/s | vs http.Agent | p99 latency (ms) | client CPU per request (µs) | errors |',
  '|---|---:|---:|---:|---:|---:|',
];
for (const peer of PEERS) {
  const results = rows.get(peer.name) ?? [];
  const rps = median(results.map((r) => r.rps));
  const cpu = median(results.map((r) => r.cpuUsPerRequest));
  lines.push(
    `| ${peer.name} | ${rps.toFixed(0)} | ${(rps / base).toFixed(2)}x | ${median(results.map((r) => r.p99Ms)).toFixed(2)} | ${cpu.toFixed(0)} | ${results.reduce((s, r) => s + r.errors, 0)} |`,
  );
}
lines.push(
  '',
  `The race: ${RACE_LANES} lanes, each with its own raw server closing connections after exactly ${RACE_IDLE_MS} ms idle (no hint); ` +
    `GETs spaced ${RACE_IDLE_MS} ms +- ${RACE_JITTER_MS} ms; about ${RACE_REQUESTS} requests per client.`,
  '',
  '| client | requests | failed | failures per 10,000 |',
  '|---|---:|---:|---:|',
);
for (const [name, r] of raceRows) lines.push(`| ${name} | ${r.requests} | ${r.failures} | ${((r.failures / r.requests) * 10_000).toFixed(1)} |`);
lines.push('', `Total run time ${((performance.now() - started) / 1000).toFixed(0)} s.`);
const body = lines.join('\n');
process.stdout.write(`${body}\n`);
if (process.argv.includes('--write')) writeSection('agent', 'Client agent (lifeline/agent)', 'npm run build && node dist/bench/agent/run.js --write', body);
