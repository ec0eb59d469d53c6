/**
 * `lifeline probe` against Node servers with known settings, all probed in parallel (started in
 * `before`, asserted one test each), so the file takes about as long as the slowest (~6 s):
 * - http.Server defaults: hint timeout=5, closes at keepAliveTimeout + 1 s = 6 s (Node 20);
 * - a lying hint: Keep-Alive: timeout=5 written by hand, closes at 2 s;
 * - never closes (keepAliveTimeout 0): "kept at least --max-wait";
 * - maxRequestsPerSocket 4 (announced), and a raw server that closes after 3 without saying so;
 * - a raw server that resets idle connections after 1 s, and answers garbage on /garbage;
 * - headersTimeout 1500 / requestTimeout 2500 (checked every 100 ms), in a child process: 408s;
 * - HTTP/2 (h2c) with SETTINGS 33 streams, a 1500 ms idle timeout and a ping to the client.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createH2Server } from 'node:http2';
import { createServer as createNetServer } from 'node:net';
import type { Socket } from 'node:net';
import { probe } from '../src/probe/index.js';
import type { ProbeOptions, ProbeResult } from '../src/probe/index.js';
import { closeServer, listen } from './helpers/probe-servers.js';
import { openTcpHandles } from './helpers/tls-certs.js';

/** Within 2 % or 30 ms of `expected`, whichever is larger. */
function near(actual: number | undefined, expected: number, what: string): void {
  assert.ok(actual !== undefined, `${what}: not measured`);
  const tolerance = Math.max(30, expected * 0.02);
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} ms, expected ${expected} ± ${tolerance} ms`);
}

const servers: { close(): Promise<void> }[] = [];
const runs = new Map<string, Promise<ProbeResult>>();

function start(name: string, url: string, options: ProbeOptions): void {
  const p = probe(url, options);
  p.catch(() => undefined); // awaited by its test
  runs.set(name, p);
}

async function node(server: Server): Promise<string> {
  const port = await listen(server);
  servers.push({ close: () => closeServer(server) });
  return `http://127.0.0.1:${port}/`;
}

const ok = (req: IncomingMessage, res: ServerResponse): void => {
  req.resume();
  req.on('end', () => res.end('ok'));
};

before(async () => {
  start('defaults', await node(createServer(ok)), { only: ['idle', 'requests', 'h2', 'tcp'], maxWaitMs: 8_000, maxRequests: 300 });

  const lying = createServer((req, res) => {
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('Keep-Alive', 'timeout=5');
    ok(req, res);
  });
  lying.keepAliveTimeout = 1_000; // Node closes at keepAliveTimeout + 1 s: 2 s
  start('lying', await node(lying), { only: ['idle'], maxWaitMs: 8_000, behind: 'aws-alb' });

  const never = createServer(ok);
  never.keepAliveTimeout = 0;
  start('never', await node(never), { only: ['idle'], maxWaitMs: 1_500 });

  const limited = createServer(ok);
  limited.maxRequestsPerSocket = 4;
  start('limited', await node(limited), { only: ['requests'], maxWaitMs: 5_000 });

  // Closes after its third response, with no Connection: close.
  const silent = createNetServer((socket: Socket) => {
    let served = 0;
    let buffered = '';
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      buffered += d.toString('latin1');
      while (buffered.includes('\r\n\r\n')) {
        buffered = buffered.slice(buffered.indexOf('\r\n\r\n') + 4);
        served += 1;
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        if (served === 3) { socket.end(); return; }
      }
    });
  });
  const silentPort = await listen(silent);
  servers.push({ close: () => new Promise<void>((resolve) => silent.close(() => resolve())) });
  start('silent', `http://127.0.0.1:${silentPort}/`, { only: ['requests'], maxWaitMs: 5_000 });

  // Resets (RST, not FIN) a connection idle for 1 s; answers garbage to the path /garbage.
  const rst = createNetServer((socket: Socket) => {
    let timer: NodeJS.Timeout | undefined;
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      clearTimeout(timer);
      if (d.toString('latin1').startsWith('GET /garbage')) socket.write('HTTP/1.1 2OO OK\r\n\r\n');
      else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      timer = setTimeout(() => socket.resetAndDestroy(), 1_000);
    });
    socket.on('close', () => clearTimeout(timer));
  });
  const rstPort = await listen(rst);
  servers.push({ close: () => new Promise<void>((resolve) => rst.close(() => resolve())) });
  start('rst', `http://127.0.0.1:${rstPort}/`, { only: ['idle'], maxWaitMs: 5_000 });
  start('garbage', `http://127.0.0.1:${rstPort}/garbage`, { only: ['idle', 'requests'], maxWaitMs: 5_000 });

  // In its own process: its 100 ms check timer must not wait behind this process's probes.
  const slowSource = `const s = require('node:http').createServer({ headersTimeout: 1500, requestTimeout: 2500, connectionsCheckingInterval: 100 },
    (req, res) => { req.resume(); req.on('end', () => res.end('ok')); });
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;
  const slow = spawn(process.execPath, ['-e', slowSource], { stdio: ['ignore', 'pipe', 'inherit'] });
  const slowExited = new Promise<void>((resolve) => slow.once('exit', () => resolve()));
  servers.push({ close: async () => { slow.kill(); await slowExited; } });
  const slowPort = await new Promise<string>((resolve) => slow.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
  start('slow', `http://127.0.0.1:${slowPort}/`, { only: ['header', 'body'], maxWaitMs: 6_000, slowByteIntervalMs: 50 });

  const h2 = createH2Server({ settings: { maxConcurrentStreams: 33, initialWindowSize: 100_000 } }, (_req, res) => res.end('ok'));
  h2.setTimeout(1_500);
  h2.on('session', (session) => session.ping(() => undefined));
  const h2Port = await listen(h2);
  servers.push({ close: () => new Promise<void>((resolve) => h2.close(() => resolve())) });
  start('h2', `http://127.0.0.1:${h2Port}/`, { only: ['h2'], maxWaitMs: 5_000 });
});

after(async () => {
  await Promise.allSettled(runs.values());
  await Promise.all(servers.map((s) => s.close()));
  assert.deepEqual(await openTcpHandles(), []);
});

test('Node defaults: idle close at keepAliveTimeout + 1 s (6 s), hint 5 s, closed later than the hint: no race', async () => {
  const r = await runs.get('defaults')!;
  near(r.idle?.idleTimeoutMs, 6_000, 'idle timeout');
  assert.equal(r.idle?.closedBy, 'peer_close', 'a FIN');
  assert.equal(r.idle?.samples.length, 3);
  assert.equal(r.idle?.hint?.timeoutSec, 5);
  const hint = r.verdicts.find((v) => v.topic === 'hint_timeout');
  assert.equal(hint?.races, false);
  const pool = r.verdicts.find((v) => v.topic === 'client_pool');
  near(Number(/under (\d+) ms/.exec(pool?.text ?? '')?.[1]), 5_000, 'client pool bound (idle timeout less 1 s)');
  assert.match(pool?.fix ?? '', /freeSocketTimeoutMs/);
  assert.equal(r.requests?.endedBy, 'bound', 'Node has no request limit by default');
  assert.equal(r.requests?.requestsServed, 300);
  assert.equal(r.h2?.offered, false, 'an HTTP/1 server does not take h2c');
  assert.ok((r.tcp?.connectMs ?? -1) >= 0);
  assert.equal(r.tcp?.serverTcpKeepalive, 'not_visible');
  assert.equal(r.races, false);
  assert.equal(r.header, undefined, '--only leaves the rest unmeasured');
});

test('a lying hint (timeout=5, closes at 2 s) is found, and ALB in front races', async () => {
  const r = await runs.get('lying')!;
  near(r.idle?.idleTimeoutMs, 2_000, 'idle timeout');
  assert.equal(r.idle?.hint?.timeoutSec, 5);
  const hint = r.verdicts.find((v) => v.topic === 'hint_timeout');
  assert.equal(hint?.races, true);
  assert.match(hint?.text ?? '', /before its own hint/);
  const behind = r.verdicts.find((v) => v.topic === 'behind');
  assert.equal(behind?.races, true);
  assert.match(behind?.fix ?? '', /keepAliveTimeout/);
  assert.equal(r.races, true);
});

test('a server that never closes idle connections is kept at least --max-wait', async () => {
  const r = await runs.get('never')!;
  assert.equal(r.idle?.idleTimeoutMs, undefined);
  assert.equal(r.idle?.keptAtLeastMs, 1_500);
  assert.equal(r.idle?.closedBy, undefined);
  assert.ok(r.idle?.samples.every((s) => s.idleMs === undefined && s.closedBy === undefined));
  assert.ok(r.durationMs >= 1_500 && r.durationMs < 4_000, `took ${r.durationMs} ms`);
});

test('an idle close by RST is told from a FIN; bad wire data is named, not a crash', async () => {
  const r = await runs.get('rst')!;
  near(r.idle?.idleTimeoutMs, 1_000, 'idle timeout');
  assert.equal(r.idle?.closedBy, 'reset', 'an RST');
  assert.ok(r.idle?.samples.every((s) => s.closedBy === 'reset'));
  const g = await runs.get('garbage')!;
  assert.equal(g.idle, undefined);
  assert.deepEqual(g.errors.map((e) => e.measurement).sort(), ['idle', 'requests']);
  for (const e of g.errors) assert.equal(e.code, 'ERR_PROBE_BAD_RESPONSE');
  for (const e of g.errors) assert.match(e.message, /^bad HTTP\/1\.1 response from the server: status code is not 100-599 \(byte \d+\)$/);
});

test('request limit: maxRequestsPerSocket 4 announced; a silent close after 3 is a race', async () => {
  const limited = await runs.get('limited')!;
  assert.equal(limited.requests?.requestsServed, 4);
  assert.equal(limited.requests?.endedBy, 'announced');
  const silent = await runs.get('silent')!;
  assert.equal(silent.requests?.requestsServed, 3);
  assert.equal(silent.requests?.endedBy, 'closed');
  assert.equal(silent.verdicts.find((v) => v.topic === 'request_limit')?.races, true);
});

test('slow head and body: headersTimeout 1500 and requestTimeout 2500 answer 408 (Node checks every 100 ms)', async () => {
  const r = await runs.get('slow')!;
  assert.equal(r.header?.endedBy, 'answered');
  assert.equal(r.header?.status, 408);
  const h = r.header?.timeoutMs ?? 0;
  assert.ok(h >= 1_470 && h <= 1_500 + 100 + 30, `header timeout ${h} ms`);
  assert.equal(r.body?.status, 408);
  const b = r.body?.timeoutMs ?? 0;
  assert.ok(b >= 2_470 && b <= 2_500 + 100 + 30, `body timeout ${b} ms`);
  // In parallel: about the slower of the two (2.5 s), not their sum (4 s).
  assert.ok(r.durationMs < 3_400, `took ${r.durationMs} ms`);
});

test('HTTP/2 (h2c): SETTINGS, PING, the server pinging us, idle GOAWAY NO_ERROR at 1500 ms', async () => {
  const r = await runs.get('h2')!;
  const h2 = r.h2;
  assert.equal(h2?.offered, true);
  assert.equal(h2?.how, 'h2c');
  assert.equal(h2?.maxConcurrentStreams, 33);
  assert.equal(h2?.initialWindowSizeBytes, 100_000);
  assert.ok((h2?.pingRoundTripMs ?? -1) >= 0);
  assert.ok((h2?.serverPings ?? 0) >= 1);
  near(h2?.idleGoawayMs, 1_500, 'GOAWAY after idle');
  assert.equal(h2?.goawayErrorName, 'NO_ERROR');
});
