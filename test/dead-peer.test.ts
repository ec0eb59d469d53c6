// Dead-peer detection with real processes: what the application heartbeat sees and what TCP
// keepalive sees, for the two ways a peer goes quiet.
//
// 1. The peer process is frozen (SIGSTOP): its kernel still ACKs everything, keepalive probes
//    included, so TCP keepalive never declares it dead. Only an application-level heartbeat can.
// 2. The link goes silent (a veth end goes down between two network namespaces): nothing answers,
//    and TCP keepalive (or TCP_USER_TIMEOUT, for unacknowledged writes) ends the connection at
//    the bound the library computed.
// Each asserts the close reason the library gives: heartbeat_timeout from the heartbeat's `dead`
// event, tcp_timeout (remote, tcp) for the ETIMEDOUT a silent link ends with.
//
// Fixtures are plain .mjs under test/fixtures (tsc does not copy them to dist), so paths are
// resolved from the repository root: this file runs as dist/test/dead-peer.test.js.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Heartbeat } from '../src/core/heartbeat.js';
import type { TcpKeepAliveOptions, TcpKeepAliveResult } from '../src/transport/tcp-keepalive.js';
import { setTcpKeepAlive } from '../src/transport/tcp-keepalive.js';
import { createNetnsPair, netnsUnavailable, removeStaleNamespaces } from './helpers/netns.js';
import type { NetnsPair } from './helpers/netns.js';
import { nativeAddonMissing, skipFor, skipOrFail, ssMissing } from './helpers/prerequisites.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixture = (name: string): string => path.join(root, 'test', 'fixtures', name);
const keepaliveModule = path.join(root, 'dist', 'src', 'transport', 'tcp-keepalive.js');
/** Wall-clock ms with sub-ms precision; fixtures stamp their events the same way. */
const wallNow = (): number => performance.timeOrigin + performance.now();
// Not Linux is a plain skip (these are Linux kernel features); a missing addon or `ss` on Linux
// fails under LIFELINE_CI=1.
const needNative = process.platform !== 'linux' ? 'not Linux' : skipFor('dead-peer (native addon)', nativeAddonMissing());
const hasSs = process.platform === 'linux' && skipFor('dead-peer (ss)', ssMissing()) === false;

/** `promise`, or a rejection naming `what` after `ms`; the timer is cleared either way. */
async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

interface ChildEvent {
  event: string;
  t: number;
  [key: string]: unknown;
}

/** A child process that reports JSON lines on stdout; every wait is bounded. */
class JsonChild {
  readonly proc: ChildProcess;
  readonly events: ChildEvent[] = [];
  #stderr = '';
  #exited = false;
  #notify: (() => void)[] = [];

  constructor(command: string, args: string[]) {
    this.proc = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as ChildEvent);
      } catch {
        this.#stderr += `[stdout] ${line}\n`;
      }
      for (const wake of this.#notify.splice(0)) wake();
    });
    this.proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.#stderr += chunk));
    this.proc.on('exit', () => {
      this.#exited = true;
      for (const wake of this.#notify.splice(0)) wake();
    });
  }

  /** The first event (past or future) matching `match`, or a rejection after `timeoutMs`. */
  async waitFor(what: string, match: (e: ChildEvent) => boolean, timeoutMs: number): Promise<ChildEvent> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found !== undefined) return found;
      const left = deadline - performance.now();
      if (this.#exited || left <= 0) {
        const why = this.#exited ? 'the child exited' : `timed out after ${timeoutMs} ms`;
        throw new Error(`waiting for ${what}: ${why}; events ${JSON.stringify(this.events)}; stderr ${this.#stderr}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#notify.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  send(line: string): void {
    this.proc.stdin!.write(`${line}\n`);
  }

  /** Resume (if stopped) and kill; resolves once it has exited, or after 5 s regardless. */
  async stop(): Promise<void> {
    if (this.#exited || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = once(this.proc, 'exit');
    this.proc.kill('SIGCONT');
    this.proc.kill('SIGKILL');
    await withTimeout(exited, 5000, 'child exit').catch(() => undefined);
  }
}

test('SIGSTOP: the heartbeat declares the peer dead, TCP keepalive does not', { skip: needNative }, async (t) => {
  const hbOptions = { intervalMs: 500, timeoutMs: 300, missedLimit: 2 };
  const heartbeatBound = hbOptions.intervalMs + hbOptions.missedLimit * hbOptions.timeoutMs;
  // Slack: one timer tick (50 ms, the coarsest tick the core's timers promise), plus scheduling:
  // three timers fire in sequence (idle, two ping timeouts), each late by event-loop and OS
  // scheduling lag; 100 ms covers ~30 ms of lag each on a loaded 2-core machine. Observed
  // lateness is 1-3 ms in total (printed below).
  const TICK_MS = 50;
  const SCHEDULING_MS = 100;

  const peer = new JsonChild(process.execPath, [fixture('echo-server.mjs'), '127.0.0.1']);
  const socket = new net.Socket();
  const hb = new Heartbeat({ ...hbOptions, sendPing: () => socket.write('PING\n') });
  t.after(async () => {
    hb.close();
    socket.destroy();
    await peer.stop();
  });
  const listening = await peer.waitFor('echo server listening', (e) => e.event === 'listening', 10_000);

  socket.connect(listening.port as number, '127.0.0.1');
  const keepalive = setTcpKeepAlive(socket, { idleMs: 1000, intervalMs: 1000, count: 3 });
  assert.equal(keepalive.mechanism, 'native');
  assert.equal(keepalive.deadAfterMs, 4000);
  await withTimeout(once(socket, 'connect'), 5000, 'connect');
  let socketEnded: string | undefined;
  socket.on('error', (error: NodeJS.ErrnoException) => (socketEnded ??= `error ${error.code ?? error.message}`));
  socket.on('close', () => (socketEnded ??= 'close'));

  const dead = once(hb, 'dead').then(([reason]: unknown[]) => ({ at: performance.now(), reason }));
  let lastInbound = 0;
  let pongs = 0;
  let stoppedAt = 0;
  const stopped = new Promise<void>((resolve) => {
    let buffered = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      lastInbound = performance.now();
      hb.received();
      buffered += chunk;
      for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
        if (buffered.slice(0, i) === 'PONG') {
          hb.pong();
          pongs += 1;
        }
        buffered = buffered.slice(i + 1);
      }
      if (pongs >= 2 && stoppedAt === 0) {
        peer.proc.kill('SIGSTOP'); // freeze the peer right after a pong: this is the last traffic
        stoppedAt = performance.now();
        resolve();
      }
    });
  });
  hb.start();
  await withTimeout(stopped, 5000, 'two pongs before SIGSTOP');

  const declared = await withTimeout(dead, 5000, 'heartbeat dead');
  const detectMs = declared.at - lastInbound;
  // The reason the heartbeat gives its owner to close with: a hung peer is a heartbeat_timeout.
  assert.equal(declared.reason, 'heartbeat_timeout');
  t.diagnostic(`heartbeat declared dead ${detectMs.toFixed(1)} ms after the last inbound traffic (bound ${heartbeatBound} ms)`);
  assert.ok(detectMs >= heartbeatBound - 2, `not before the bound (timers may round 1 ms early): ${detectMs}`);
  assert.ok(detectMs <= heartbeatBound + TICK_MS + SCHEDULING_MS, `dead within the bound: ${detectMs.toFixed(1)} ms`);

  // TCP keepalive would have ended a silent connection 4 s after the last ACK; wait 1.5 s more.
  const checkAt = stoppedAt + (keepalive.deadAfterMs ?? 0) + 1500;
  await sleep(Math.max(0, checkAt - performance.now()));
  const openMs = performance.now() - stoppedAt;
  t.diagnostic(`TCP connection still open ${openMs.toFixed(0)} ms after SIGSTOP (keepalive bound ${keepalive.deadAfterMs} ms)`);
  assert.equal(socketEnded, undefined, 'TCP keepalive must not declare a stopped (but ACKing) peer dead');
  assert.equal(socket.destroyed, false);
  // Why it stays open: the frozen peer's kernel ACKs each probe. `ss` shows the last ACK came
  // within one idle period (plus slack), long after the process stopped answering.
  if (hasSs) {
    const filter = `( sport = :${socket.localPort ?? 0} and dport = :${socket.remotePort ?? 0} )`;
    const ss = execFileSync('ss', ['-tioHn', 'state', 'established', filter], { encoding: 'utf8', timeout: 5000 });
    const lastAck = /lastack:(\d+)/.exec(ss)?.[1];
    t.diagnostic(`ss: last ACK from the stopped peer's kernel ${lastAck ?? '?'} ms ago`);
    assert.ok(lastAck !== undefined && Number(lastAck) <= (keepalive.idleMs ?? 0) + 500, `probes answered recently: ${ss}`);
  }
});

/** Setup shared by the silent-link tests: namespaces, a server in A, a client in B, connected. */
async function silentLink(t: TestContext, tag: string, subnet: number, options: TcpKeepAliveOptions) {
  const unavailable = netnsUnavailable();
  if (unavailable !== undefined) {
    skipOrFail(t, 'dead-peer (network namespaces)', unavailable);
    return undefined;
  }
  removeStaleNamespaces();
  let pair: NetnsPair;
  try {
    pair = createNetnsPair(tag, subnet);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('unavailable:')) {
      skipOrFail(t, 'dead-peer (network namespaces)', error.message);
      return undefined;
    }
    throw error;
  }
  const children: JsonChild[] = [];
  // One hook, in order: children first (a namespace with live processes outlives `ip netns del`).
  t.after(async () => {
    await Promise.all(children.map((c) => c.stop()));
    pair.destroy();
  });
  const server = new JsonChild(...pair.execIn(pair.nsA, [process.execPath, fixture('echo-server.mjs'), pair.addrA]));
  children.push(server);
  const { port } = await server.waitFor('server listening', (e) => e.event === 'listening', 10_000);
  const client = new JsonChild(
    ...pair.execIn(pair.nsB, [process.execPath, fixture('keepalive-client.mjs'), keepaliveModule, pair.addrA, String(port), JSON.stringify(options)]),
  );
  children.push(client);
  const connected = await client.waitFor('client connected', (e) => e.event === 'connected', 10_000);
  const keepalive = connected.keepalive as TcpKeepAliveResult;
  assert.equal(keepalive.mechanism, 'native');
  // One round trip, so the connection is proven and the echo is the last inbound traffic.
  client.send('send hello');
  const echoed = await client.waitFor('echo', (e) => e.event === 'data', 5000);
  return { pair, client, keepalive, echoed };
}

const ended = (e: ChildEvent): boolean => e.event === 'error' || e.event === 'close';

test('silent link: TCP keepalive ends the connection at the computed bound', { skip: needNative }, async (t) => {
  const setup = await silentLink(t, 'ka', 1, { idleMs: 1000, intervalMs: 500, count: 3 });
  if (setup === undefined) return;
  const { pair, client, keepalive, echoed } = setup;
  // What the kernel can express: idle and interval in whole seconds, and the keepalive timer
  // fires only at idle + k * interval after the last inbound packet (here 1 s, 2 s, 3 s).
  // TCP_USER_TIMEOUT (set to the requested 1000 + 3 * 500 = 2500 ms) is checked only at those
  // firings, so the connection ends at the first one at or after 2.5 s: 3 s. A bound of exactly
  // 2.5 s cannot be expressed by TCP keepalive; the library reports the real one as deadAfterMs.
  assert.deepEqual([keepalive.idleMs, keepalive.intervalMs, keepalive.userTimeoutMs, keepalive.deadAfterMs], [1000, 1000, 2500, 3000]);
  const expected = keepalive.deadAfterMs ?? 0;
  pair.setLinkA(false);
  const cutAfter = wallNow() - echoed.t;
  assert.ok(cutAfter < 900, `link cut ${cutAfter.toFixed(0)} ms after the echo, before the first probe at 1 s`);
  const end = await client.waitFor('connection end', ended, expected + 3000);
  const measured = end.t - echoed.t;
  t.diagnostic(`keepalive: ${end.event} ${String(end.code)} (${String(end.reason)}, ${String(end.side)}, ${String(end.layer)}) ${measured.toFixed(1)} ms after the last traffic (requested 2500, effective ${expected})`);
  assert.equal(end.code, 'ETIMEDOUT');
  assert.deepEqual([end.reason, end.side, end.layer], ['tcp_timeout', 'remote', 'tcp'], 'the close reason lifeline gives this error');
  // Never before the requested bound. Late by at most the kernel's timer-wheel slack: a ~1 s
  // timer lands in a bucket of 64 ms at HZ=1000 (80 ms at HZ=100), three firings in a row,
  // plus event-loop delivery: 400 ms. Early by at most 50 ms: the echo's timestamp is taken in
  // JS, after the kernel saw the packet.
  assert.ok(measured >= 2500 && measured >= expected - 50, `not before the bound: ${measured.toFixed(1)} ms`);
  assert.ok(measured <= expected + 400, `within ${expected} + 400 ms: ${measured.toFixed(1)} ms`);
});

test('silent link: TCP_USER_TIMEOUT ends a connection with unacknowledged data', { skip: needNative }, async (t) => {
  if (!hasSs) {
    skipOrFail(t, 'dead-peer (ss)', 'the `ss` tool (iproute2) is not installed; it reads the RTO this bound depends on');
    return;
  }
  const userTimeoutMs = 1500;
  const setup = await silentLink(t, 'ut', 2, { enable: false, userTimeoutMs });
  if (setup === undefined) return;
  const { pair, client, keepalive } = setup;
  assert.deepEqual([keepalive.enable, keepalive.userTimeoutMs], [false, userTimeoutMs]);
  // The client's retransmission timeout, from the kernel, bounds the delay explained below.
  const [ssCommand, ssArgs] = pair.execIn(pair.nsB, ['ss', '-tinH', 'state', 'established']);
  const rtoMs = Number(/\brto:([\d.]+)/.exec(execFileSync(ssCommand, ssArgs, { encoding: 'utf8', timeout: 5000 }))?.[1]);
  assert.ok(rtoMs >= 200, `rto read from ss: ${rtoMs}`);
  pair.setLinkA(false);
  client.send('send unacknowledged');
  const wrote = await client.waitFor('write', (e) => e.event === 'wrote', 5000);
  const end = await client.waitFor('connection end', ended, userTimeoutMs + 2 * rtoMs + 3000);
  const measured = end.t - wrote.t;
  t.diagnostic(`user timeout: ${end.event} ${String(end.code)} (${String(end.reason)}) ${measured.toFixed(1)} ms after the write (TCP_USER_TIMEOUT ${userTimeoutMs}, rto ${rtoMs} ms)`);
  assert.equal(end.code, 'ETIMEDOUT');
  assert.deepEqual([end.reason, end.side, end.layer], ['tcp_timeout', 'remote', 'tcp'], 'the close reason lifeline gives this error');
  // Linux starts the user-timeout clock at the first RTO retransmission (retrans_stamp), not at
  // the first send. That retransmission comes after a tail-loss probe (PTO, at most one RTO) and
  // one RTO; on an idle LAN connection RTO is the 200 ms minimum, so the write fails about
  // userTimeoutMs + 400 ms after it was sent (with net.ipv4.tcp_early_retrans=0, no TLP: +200).
  // Under CPU load the measured RTT, and so the RTO, grows: hence the bound uses the kernel's rto.
  // Tolerance: never before userTimeoutMs; at most 2 x rto + 300 ms (timer slack, delivery) after.
  assert.ok(measured >= userTimeoutMs, `not before the user timeout: ${measured.toFixed(1)} ms`);
  const upper = userTimeoutMs + 2 * rtoMs + 300;
  assert.ok(measured <= upper, `within ${userTimeoutMs} + 2 x ${rtoMs} + 300 ms: ${measured.toFixed(1)} ms`);
});
