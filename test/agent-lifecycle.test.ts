// Pool rules with real sockets: the server's Keep-Alive hint (timeout, max), Connection: close,
// idle timeout, TTL, request caps, socket caps and queueing, TCP keepalive on the agent's sockets,
// and nothing left open after destroy() (sockets, handles, timers).
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { request } from 'node:http';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock } from '../src/core/clock.js';
import type { Clock, TimerHandle } from '../src/core/clock.js';
import { ClosedError } from '../src/core/errors.js';
import { AGENT_CHANNELS, KeepAliveAgent } from '../src/http/client/index.js';
import type { OriginStats } from '../src/http/client/index.js';
import { getTcpKeepAlive } from '../src/transport/tcp-keepalive.js';
import { send } from './helpers/agent-client.js';
import type { Outcome } from './helpers/agent-client.js';
import { startEchoServer, startRawServer } from './helpers/agent-servers.js';
import type { RawServerOptions, TestServer } from './helpers/agent-servers.js';

const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function raw(options: RawServerOptions = {}): Promise<TestServer> {
  const server = await startRawServer(options);
  servers.push(server);
  return server;
}

function statsOf(agent: KeepAliveAgent, port: number): OriginStats {
  const stats = agent.stats()[`http://127.0.0.1:${port}`];
  assert.ok(stats !== undefined);
  return stats;
}

async function ids(agent: KeepAliveAgent, port: number, n: number, gapMs = 0): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await send(agent, port);
    assert.equal(r.error, undefined, String(r.error));
    out.push(r.connectionId ?? '?');
    if (gapMs > 0) await sleep(gapMs);
  }
  return out;
}

describe('Keep-Alive hint', () => {
  it('sets the idle timeout to timeout*1000 - margin', async () => {
    const server = await raw({ keepAliveHeader: 'timeout=2' });
    const agent = new KeepAliveAgent({ hintMarginMs: 1900 }); // 100 ms
    assert.deepEqual(await ids(agent, server.port, 3), ['1', '1', '1']);
    await sleep(200);
    assert.equal(statsOf(agent, server.port).closes['hint_expiry'], 1);
    assert.deepEqual(await ids(agent, server.port, 1), ['2']);
    agent.destroy();
  });

  it('a hint at or below the margin means no reuse', async () => {
    const server = await raw({ keepAliveHeader: 'timeout=1' });
    const agent = new KeepAliveAgent(); // margin 1000 ms
    assert.deepEqual(await ids(agent, server.port, 3), ['1', '2', '3']);
    assert.equal(statsOf(agent, server.port).reused, 0);
    agent.destroy();
  });

  it('max=M allows M more requests on the connection (parameters in any order)', async () => {
    const server = await raw({ handle: (req) => ({ respond: true, headers: { 'keep-alive': `max=${3 - req.requestOnConnection}, timeout=5` } }) });
    const agent = new KeepAliveAgent();
    assert.deepEqual(await ids(agent, server.port, 7), ['1', '1', '1', '2', '2', '2', '3']);
    assert.equal(statsOf(agent, server.port).closes['max_requests'], 2);
    agent.destroy();
  });

  it('a malformed header is ignored and counted', async () => {
    const server = await raw({ keepAliveHeader: 'timeout=abc, max=-1, foo' });
    const agent = new KeepAliveAgent();
    assert.deepEqual(await ids(agent, server.port, 3), ['1', '1', '1']);
    const stats = statsOf(agent, server.port);
    assert.equal(stats.malformedHints, 3);
    assert.equal(stats.reused, 2);
    agent.destroy();
  });
});

describe('closing rules', () => {
  it('respects Connection: close', async () => {
    const server = await raw({ handle: () => ({ respond: true, close: true }) });
    const agent = new KeepAliveAgent();
    assert.deepEqual(await ids(agent, server.port, 3), ['1', '2', '3']);
    await sleep(20);
    assert.equal(statsOf(agent, server.port).closes['peer_close'], 3);
    agent.destroy();
  });

  it('closes idle sockets after freeSocketTimeoutMs', async () => {
    const server = await raw();
    const agent = new KeepAliveAgent({ freeSocketTimeoutMs: 50 });
    assert.deepEqual(await ids(agent, server.port, 2), ['1', '1']);
    await sleep(120);
    assert.equal(statsOf(agent, server.port).closes['idle_timeout'], 1);
    assert.equal(statsOf(agent, server.port).socketsFree, 0);
    agent.destroy();
  });

  it('never reuses past the idle deadline, even when the timer is late', async () => {
    // A clock whose timers never fire: only the deadline check at reuse can stop the reuse.
    let now = 1000;
    const stuck: Clock = { now: () => now, setTimer: () => ({ cancel: () => undefined }) };
    const server = await raw();
    const agent = new KeepAliveAgent({ clock: stuck, freeSocketTimeoutMs: 5000 });
    assert.deepEqual(await ids(agent, server.port, 2), ['1', '1']);
    now += 4999;
    assert.deepEqual(await ids(agent, server.port, 1), ['1']);
    now += 5000;
    assert.deepEqual(await ids(agent, server.port, 1), ['2']);
    assert.equal(statsOf(agent, server.port).closes['idle_timeout'], 1);
    agent.destroy();
  });

  it('does not reuse a socket older than socketActiveTtlMs', async () => {
    const server = await raw();
    // A TTL long enough that two quick requests fit in it on a loaded machine, then a wait past it.
    const agent = new KeepAliveAgent({ socketActiveTtlMs: 400 });
    assert.deepEqual(await ids(agent, server.port, 2, 40), ['1', '1']);
    await new Promise((resolve) => setTimeout(resolve, 450));
    assert.deepEqual(await ids(agent, server.port, 1), ['2']);
    assert.equal(statsOf(agent, server.port).closes.max_age, 1);
    agent.destroy();
  });

  it('closes a socket after maxRequestsPerSocket', async () => {
    const server = await raw();
    const agent = new KeepAliveAgent({ maxRequestsPerSocket: 2 });
    assert.deepEqual(await ids(agent, server.port, 5), ['1', '1', '2', '2', '3']);
    agent.destroy();
  });
});

describe('caps and queueing', () => {
  it('maxSockets queues requests and hands a freed socket to the next one', async () => {
    const server = await raw();
    const agent = new KeepAliveAgent({ maxSockets: 1 });
    const results = await Promise.all(Array.from({ length: 6 }, () => send(agent, server.port)));
    assert.deepEqual(results.map((r) => r.connectionId), ['1', '1', '1', '1', '1', '1']);
    assert.equal(statsOf(agent, server.port).newConnections, 1);
    agent.destroy();
  });

  it('maxFreeSockets closes the excess as pool-full', async () => {
    const server = await raw();
    const agent = new KeepAliveAgent({ maxFreeSockets: 1 });
    await Promise.all(Array.from({ length: 3 }, () => send(agent, server.port)));
    await sleep(20);
    const stats = statsOf(agent, server.port);
    assert.equal(stats.socketsFree, 1);
    assert.equal(stats.closes['evicted'], 2);
    agent.destroy();
  });

  it('maxTotalSockets: a waiter of another origin gets room by closing an idle socket', async () => {
    const a = await raw();
    const b = await raw();
    const agent = new KeepAliveAgent({ maxTotalSockets: 1 });
    assert.equal((await send(agent, a.port)).status, 200);
    assert.equal((await send(agent, b.port)).status, 200);
    assert.equal(statsOf(agent, a.port).closes['evicted'], 1);
    assert.equal(agent.totalSocketCount, 1);
    agent.destroy();
  });

  it('LIFO reuses the most recently freed socket; FIFO the oldest', async () => {
    for (const scheduling of ['lifo', 'fifo'] as const) {
      const server = await raw({ handle: (req) => ({ respond: true, body: req.path }) });
      const agent = new KeepAliveAgent({ scheduling });
      // Two connections; the one answering /slow is freed last.
      const slow = new Promise<Outcome>((resolve) => setTimeout(() => void send(agent, server.port, { path: '/slow' }).then(resolve), 5));
      const [first, second] = await Promise.all([send(agent, server.port), slow]);
      const next = await send(agent, server.port);
      assert.equal(next.connectionId, scheduling === 'lifo' ? second.connectionId : first.connectionId, scheduling);
      agent.destroy();
    }
  });
});

describe('TCP keepalive', () => {
  it('applies tcpKeepAlive to new sockets and keeps it on reuse', async () => {
    const server = await raw();
    const agent = new KeepAliveAgent({ tcpKeepAlive: { idleMs: 7000, intervalMs: 2000, count: 4 } });
    const seen: Socket[] = [];
    for (let i = 0; i < 2; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: server.port, agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('socket', (socket: Socket) => seen.push(socket));
        req.on('error', reject);
        req.end();
      });
    }
    assert.equal(seen[0], seen[1]);
    const readback = seen[0] === undefined ? undefined : getTcpKeepAlive(seen[0]);
    if (readback !== undefined) {
      assert.equal(readback.enable, true);
      assert.equal(readback.idleMs, 7000);
      assert.equal(readback.intervalMs, 2000);
      assert.equal(readback.count, 4);
    }
    agent.destroy();
  });
});

/** The system clock, counting timers that are still pending. */
class CountingClock implements Clock {
  live = 0;
  now(): number {
    return systemClock.now();
  }
  setTimer(callback: () => void, delayMs: number): TimerHandle {
    this.live++;
    let done = false;
    const finish = (): void => {
      if (!done) {
        done = true;
        this.live--;
      }
    };
    const handle = systemClock.setTimer(() => {
      finish();
      callback();
    }, delayMs);
    return {
      cancel: () => {
        finish();
        handle.cancel();
      },
    };
  }
}

describe('destroy()', () => {
  it('leaves no socket, handle or timer open, and fails active and waiting requests', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length;
    const echo = await startEchoServer();
    const hang = await startRawServer({ handle: (req) => (req.path === '/hang' ? { respond: false, how: 'end' } : { respond: true }) });
    const created: Socket[] = [];
    const onConnect = (message: unknown): void => {
      created.push((message as { socket: Socket }).socket);
    };
    subscribe(AGENT_CHANNELS.connect, onConnect);
    const clock = new CountingClock();
    const agent = new KeepAliveAgent({ clock, maxSockets: 1 });
    await ids(agent, echo.port, 3);
    assert.equal((await send(agent, hang.port)).status, 200);
    assert.ok(clock.live > 0, 'idle sockets have a pending deadline');
    // One request in flight (the server never answers /hang... it ends instead after reading), one waiting.
    const slowServer = await startEchoServer((_req, _res) => undefined);
    const inFlight = send(agent, slowServer.port);
    const waiting = send(agent, slowServer.port);
    await sleep(30);
    agent.destroy();
    const [a, b] = await Promise.all([inFlight, waiting]);
    assert.ok(a.error !== undefined);
    assert.ok(b.error instanceof ClosedError, String(b.error));
    const late = await send(agent, echo.port);
    assert.ok(late.error instanceof ClosedError);
    await Promise.all([echo.close(), hang.close(), slowServer.close()]);
    const deadline = Date.now() + 1000;
    while (process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length > before && Date.now() < deadline) await sleep(5);
    assert.ok(process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length <= before);
    unsubscribe(AGENT_CHANNELS.connect, onConnect);
    assert.ok(created.length >= 3);
    for (const socket of created) assert.ok(socket.destroyed && socket.closed, 'every socket the agent opened is closed');
    assert.equal(clock.live, 0, 'no timer left');
    assert.equal(agent.totalSocketCount, 0);
    assert.deepEqual(Object.keys(agent.sockets), []);
    assert.deepEqual(Object.keys(agent.freeSockets), []);
    assert.deepEqual(Object.keys(agent.requests), []);
    for (const stats of Object.values(agent.stats())) {
      assert.equal(stats.socketsActive + stats.socketsFree, 0);
    }
  });
});
