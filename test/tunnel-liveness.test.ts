// The tunnel's frozen-peer proofs: with real processes (the CLI in child processes).
//
// 2. SIGSTOP the server: its kernel still ACKs, so only the client's heartbeat can tell. The
//    client must declare it dead within pingIntervalMs + missedPings x pingTimeoutMs (plus a
//    tick), print it, and be back (new streams working) after SIGCONT, and again after a restart.
// 3. SIGSTOP the client: the server must drop the session within clientTimeoutMs and release
//    every socket it held: its open fd count returns to the baseline taken before the client came.
// Each end is also asserted by the close reason the library logs for it: heartbeat_timeout for a
// frozen peer, peer_close (GOAWAY) for a server stopped by SIGTERM, peer_close or reset (TCP) for
// one killed by SIGKILL.
//
// Event times are wall-clock ms stamped by the child when it logs (`t`), compared with the time
// this process sent the signal (Date.now() on the same machine clock).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateKeyPair } from '../src/tunnel/keygen.js';
import { TunnelProc, echoRoundTrip, eventually, fdCount, socksConnect, startEcho } from './helpers/tunnel-harness.js';
import type { LogEvent } from './helpers/tunnel-harness.js';

const TOKEN = 'liveness-token-0123456789';
const PING_MS = 300;
const PING_TIMEOUT_MS = 300;
const MISSED = 2;
const CLIENT_TIMEOUT_MS = 1000;
// Slack: one timer tick (50 ms, the coarsest the core promises) plus scheduling on a loaded
// 2-core machine shared with other test runs (three timers in sequence, ~30 ms lag each), plus
// the child's log write. Printed measurements show the real lateness.
const TICK_MS = 50;
const SCHEDULING_MS = 150;

interface Setup {
  dir: string;
  pair: { cert: string; key: string; fingerprint: string };
  echo: Awaited<ReturnType<typeof startEcho>>;
}

async function setup(): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-tunnel-live-'));
  const pair = generateKeyPair();
  writeFileSync(join(dir, 'tunnel.crt'), pair.cert);
  writeFileSync(join(dir, 'tunnel.key'), pair.key);
  writeFileSync(join(dir, 'tokens'), `${TOKEN}\n`);
  return { dir, pair, echo: await startEcho() };
}

function serverArgs(s: Setup, port: number): string[] {
  return [
    'server', '--listen', `127.0.0.1:${port}`, '--cert', join(s.dir, 'tunnel.crt'), '--key', join(s.dir, 'tunnel.key'), '--token-file', join(s.dir, 'tokens'),
    '--allow', `127.0.0.1:${s.echo.port}`, '--ping-interval', `${PING_MS}ms`, '--client-timeout', `${CLIENT_TIMEOUT_MS}ms`,
  ];
}

function clientArgs(s: Setup, port: number): string[] {
  return [
    'client', '--server', `127.0.0.1:${port}`, '--token-file', join(s.dir, 'tokens'), '--fingerprint', s.pair.fingerprint, '--socks', '127.0.0.1:0',
    '--ping-interval', `${PING_MS}ms`, '--ping-timeout', `${PING_TIMEOUT_MS}ms`, '--missed-pings', String(MISSED),
    '--reconnect-min', '100ms', '--reconnect-max', '400ms', '--connect-timeout', '1s', '--handshake-timeout', '1s',
  ];
}

function socksPortOf(listening: LogEvent): number {
  const e = (listening.entries as { kind: string; port: number }[]).find((x) => x.kind === 'socks');
  assert.ok(e !== undefined);
  return e.port;
}

async function echoWorks(socksPort: number, echoPort: number): Promise<boolean> {
  const { reply, socket } = await socksConnect(socksPort, '127.0.0.1', echoPort);
  try {
    return reply === 0 && (await echoRoundTrip(socket, Buffer.from('hello through the tunnel')));
  } finally {
    socket.destroy();
  }
}

test('SIGSTOP the server: the client declares it dead within the bound, then recovers after SIGCONT and after a restart', { timeout: 60_000 }, async (t) => {
  const s = await setup();
  const procs: TunnelProc[] = [];
  t.after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await s.echo.close();
    rmSync(s.dir, { recursive: true, force: true });
  });
  const server = new TunnelProc(serverArgs(s, 0));
  procs.push(server);
  const port = Number((await server.waitFor('server listening', (e) => e.event === 'listening', 15_000)).port);
  const client = new TunnelProc(clientArgs(s, port));
  procs.push(client);
  const socksPort = socksPortOf(await client.waitFor('client listening', (e) => e.event === 'listening', 15_000));
  await client.waitFor('connected', (e) => e.event === 'connected', 15_000);
  assert.ok(await echoWorks(socksPort, s.echo.port), 'stream works before');
  await sleep(PING_MS * 2); // a couple of ping rounds: the session is in its steady state

  const bound = PING_MS + MISSED * PING_TIMEOUT_MS;
  const mark = client.events.length;
  const stoppedAt = Date.now();
  server.proc.kill('SIGSTOP');
  const dead = await client.waitFor('dead', (e) => e.event === 'dead', bound + 5000, mark);
  const detectMs = dead.t - stoppedAt;
  t.diagnostic(`client declared the stopped server dead ${detectMs} ms after SIGSTOP (silent ${Math.round(Number(dead.silentMs))} ms; bound ${bound} ms = ${PING_MS} + ${MISSED} x ${PING_TIMEOUT_MS})`);
  assert.equal(dead.boundMs, bound);
  assert.ok(detectMs <= bound + TICK_MS + SCHEDULING_MS, `dead within the bound: ${detectMs} ms`);
  assert.ok(Number(dead.silentMs) <= bound + TICK_MS + SCHEDULING_MS, `silence before dead: ${String(dead.silentMs)}`);
  assert.ok(Number(dead.silentMs) >= PING_MS * 0.9 + MISSED * PING_TIMEOUT_MS - 5, `not before the (jittered) bound: ${String(dead.silentMs)}`);
  // The reason the client reports for this end: its heartbeat, noticed by the tunnel layer.
  const ended = await client.waitFor('disconnected after dead', (e) => e.event === 'disconnected', 2000, mark);
  assert.deepEqual([ended.closeReason, ended.side, ended.layer], ['heartbeat_timeout', 'local', 'tunnel']);
  await sleep(1200); // a reconnect attempt or two time out against the frozen server

  const resumeMark = client.events.length;
  const resumeAt = Date.now();
  server.proc.kill('SIGCONT');
  const back = await client.waitFor('reconnected after SIGCONT', (e) => e.event === 'connected', 10_000, resumeMark);
  t.diagnostic(`reconnected ${back.t - stoppedAt} ms after SIGSTOP (SIGCONT at ${resumeAt - stoppedAt} ms)`);
  assert.ok(await echoWorks(socksPort, s.echo.port), 'new streams work after SIGCONT');

  // Restart: kill the server; a new one on the same port; the client finds it.
  const restartMark = client.events.length;
  await server.stop();
  const onTerm = await client.waitFor('disconnected on kill', (e) => e.event === 'disconnected', 5000, restartMark);
  // SIGTERM: the server shuts down and says so (GOAWAY): the peer closed, told by the tunnel. Were
  // the GOAWAY lost to an RST (a ping unread when the server closed), the kernel's reset is named.
  t.diagnostic(`SIGTERM to the server: client reports ${String(onTerm.closeReason)} (${String(onTerm.side)}, ${String(onTerm.layer)})`);
  assert.equal(onTerm.side, 'remote');
  assert.ok(
    (onTerm.closeReason === 'peer_close' && onTerm.layer === 'tunnel') || (onTerm.closeReason === 'reset' && onTerm.layer === 'tcp'),
    `peer_close (tunnel) or reset (tcp): ${String(onTerm.closeReason)} (${String(onTerm.layer)})`,
  );
  const server2 = new TunnelProc(serverArgs(s, port));
  procs.push(server2);
  await server2.waitFor('server 2 listening', (e) => e.event === 'listening', 15_000);
  await client.waitFor('reconnected after restart', (e) => e.event === 'connected', 10_000, restartMark);
  assert.ok(await echoWorks(socksPort, s.echo.port), 'new streams work after a restart');
  const statusReconnects = client.events.filter((e) => e.event === 'connected').length - 1;
  assert.ok(statusReconnects >= 2, `two reconnects logged: ${statusReconnects}`);

  // SIGKILL: no goodbye; the kernel closes the dead process's socket with a FIN (or an RST when
  // bytes it never read were queued): peer_close or reset, noticed by TCP.
  const killMark = client.events.length;
  server2.proc.kill('SIGKILL');
  const onKill = await client.waitFor('disconnected on SIGKILL', (e) => e.event === 'disconnected', 5000, killMark);
  t.diagnostic(`SIGKILL to the server: client reports ${String(onKill.closeReason)} (${String(onKill.side)}, ${String(onKill.layer)})`);
  assert.ok(onKill.closeReason === 'peer_close' || onKill.closeReason === 'reset', `peer_close or reset: ${String(onKill.closeReason)}`);
  assert.deepEqual([onKill.side, onKill.layer], ['remote', 'tcp']);
});

test('SIGSTOP the client: the server drops the session within clientTimeoutMs and its fd count returns to baseline', { timeout: 60_000 }, async (t) => {
  const s = await setup();
  const procs: TunnelProc[] = [];
  const held: net.Socket[] = [];
  t.after(async () => {
    for (const sock of held) sock.destroy();
    await Promise.all(procs.map((p) => p.stop()));
    await s.echo.close();
    rmSync(s.dir, { recursive: true, force: true });
  });
  const server = new TunnelProc(serverArgs(s, 0));
  procs.push(server);
  const port = Number((await server.waitFor('server listening', (e) => e.event === 'listening', 15_000)).port);
  await sleep(200);
  const baseline = fdCount(server.pid);

  const client = new TunnelProc(clientArgs(s, port));
  procs.push(client);
  const socksPort = socksPortOf(await client.waitFor('client listening', (e) => e.event === 'listening', 15_000));
  await client.waitFor('connected', (e) => e.event === 'connected', 15_000);
  const STREAMS = 5;
  for (let i = 0; i < STREAMS; i += 1) {
    const { reply, socket } = await socksConnect(socksPort, '127.0.0.1', s.echo.port);
    assert.equal(reply, 0);
    held.push(socket);
    assert.ok(await echoRoundTrip(socket, Buffer.from(`stream ${i}`)));
  }
  const busy = fdCount(server.pid);
  t.diagnostic(`server fds: baseline ${baseline}, with one session and ${STREAMS} streams ${busy}`);
  assert.ok(busy >= baseline + 1 + STREAMS, `the server holds the session and stream sockets (${busy} vs ${baseline})`);

  const mark = server.events.length;
  const stoppedAt = Date.now();
  client.proc.kill('SIGSTOP');
  const closed = await server.waitFor('session dropped', (e) => e.event === 'sessionClose', CLIENT_TIMEOUT_MS + 5000, mark);
  const dropMs = closed.t - stoppedAt;
  t.diagnostic(`server dropped the stopped client's session ${dropMs} ms after SIGSTOP (clientTimeoutMs ${CLIENT_TIMEOUT_MS}), reason ${String(closed.reason)}`);
  assert.deepEqual([closed.reason, closed.side, closed.layer], ['heartbeat_timeout', 'local', 'tunnel'], 'the client\'s pings stopped: the tunnel\'s heartbeat ended it');
  assert.ok(dropMs <= CLIENT_TIMEOUT_MS + TICK_MS + SCHEDULING_MS, `dropped within clientTimeoutMs: ${dropMs} ms`);
  assert.ok(dropMs >= CLIENT_TIMEOUT_MS - PING_MS - 5, `not long before the timeout: ${dropMs} ms`);
  const released = await eventually(() => fdCount(server.pid) <= baseline, 1000);
  const after = fdCount(server.pid);
  t.diagnostic(`server fds after the drop: ${after} (baseline ${baseline})`);
  assert.ok(released, `fd count back to baseline: ${after} vs ${baseline}`);
});
