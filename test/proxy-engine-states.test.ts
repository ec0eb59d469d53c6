/**
 * The engine's state machines, unit by unit, on a FakeClock (time moves only when the test says):
 * - StateTable: one list per state, LRU order, every move through `move()`, illegal ones throw.
 * - The transition tables of client connections, upstream connections and exchanges: every
 *   listed move is legal, every other one throws.
 * - The endpoint pool over a real loopback backend: dial, reuse of the most recently used, LRU
 *   eviction beyond the idle cap, idle expiry at the time the backend's hint allows, a cancelled
 *   want that gets nothing, `fresh` wants that never take a pooled connection, and close reasons
 *   counted under the right name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { FakeClock } from '../src/core/fake-clock.js';
import { TimerWheel } from '../src/core/timer-wheel.js';
import { StateTable, IllegalTransitionError } from '../src/core/state-table.js';
import { getCluster, parseConfig } from '../src/proxy/config/index.js';
import { ProxyMetrics } from '../src/proxy/metrics/index.js';
import { EndpointPool } from '../src/proxy/engine/endpoint-pool.js';
import type { PoolWaiter } from '../src/proxy/engine/endpoint-pool.js';
import { HTTP1_TRANSITIONS } from '../src/proxy/engine/http1-states.js';
import { UPSTREAM_TRANSITIONS } from '../src/proxy/engine/upstream-connection.js';
import type { UpstreamConnection } from '../src/proxy/engine/upstream-connection.js';
import { EXCHANGE_MOVES } from '../src/proxy/engine/exchange.js';

type S = 'a' | 'b' | 'c';
class Item {
  state: S = 'a';
  prev: Item | undefined;
  next: Item | undefined;
  constructor(readonly name: string) {}
}

test('StateTable: one list per state, re-filing at the most recently used end, illegal moves throw and change nothing', () => {
  const table = new StateTable<S, Item>('thing', { a: ['b'], b: ['b', 'a', 'c'], c: [] }, ['a', 'b']);
  const [x, y, z] = [new Item('x'), new Item('y'), new Item('z')];
  for (const i of [x, y, z]) table.add(i, 'a');
  assert.deepEqual([...table.list('a')].map((i) => i.name), ['x', 'y', 'z']);
  table.move(x, 'b');
  table.move(y, 'b');
  table.move(x, 'b'); // re-filed: y is now the least recently used
  assert.deepEqual([...table.list('b')].map((i) => i.name), ['y', 'x']);
  assert.equal(table.list('b').head?.name, 'y');
  assert.equal(table.list('b').tail?.name, 'x');
  assert.equal(table.count('a'), 1);
  assert.throws(() => table.move(z, 'c'), (e: unknown) => e instanceof IllegalTransitionError && e.code === 'ERR_ILLEGAL_TRANSITION' && /thing: illegal move from 'a' to 'c'/.test(e.message));
  assert.equal(z.state, 'a', 'an illegal move changes nothing');
  assert.equal(table.count('a'), 1);
  table.move(y, 'c');
  assert.equal(table.size, 2, 'a state without a list holds nothing');
  assert.throws(() => table.move(y, 'a'), IllegalTransitionError);
  assert.throws(() => table.list('c'), /keeps no list/);
});

function checkTable<T extends string>(what: string, moves: Readonly<Record<T, readonly T[]>>): number {
  const states = Object.keys(moves) as T[];
  let illegal = 0;
  for (const from of states) {
    for (const to of states) {
      const table = new StateTable<T, { state: T; prev: undefined; next: undefined }>(what, moves, states);
      const item = { state: from, prev: undefined, next: undefined };
      table.add(item, from);
      if (moves[from].includes(to)) {
        table.move(item, to);
        assert.equal(item.state, to);
      } else {
        illegal += 1;
        assert.throws(() => table.move(item, to), IllegalTransitionError, `${what}: ${from} -> ${to} must be illegal`);
        assert.equal(item.state, from);
      }
    }
  }
  return illegal;
}

test('transition tables: every listed move is legal, every other one throws', () => {
  assert.equal(checkTable('client connection', HTTP1_TRANSITIONS), 36 - 13);
  assert.equal(checkTable('upstream connection', UPSTREAM_TRANSITIONS), 16 - 8);
  assert.equal(checkTable('exchange', EXCHANGE_MOVES), 25 - 9);
  // The terminal states are terminal.
  assert.deepEqual(HTTP1_TRANSITIONS.closed, []);
  assert.deepEqual(UPSTREAM_TRANSITIONS.closed, []);
  assert.deepEqual(EXCHANGE_MOVES.done, []);
});

// ---- the endpoint pool ---------------------------------------------------------------------------

class Waiter implements PoolWaiter {
  got: { error: Error | undefined; conn: UpstreamConnection | undefined; reused: boolean }[] = [];
  onAcquired(error: Error | undefined, conn: UpstreamConnection | undefined, reused: boolean): void {
    this.got.push({ error, conn, reused });
  }
  async next(): Promise<UpstreamConnection> {
    for (let i = 0; i < 200 && this.got.length === 0; i += 1) await new Promise((r) => setImmediate(r));
    const got = this.got.shift();
    assert.ok(got?.conn !== undefined, `a connection (got ${got?.error?.message ?? 'nothing'})`);
    return got.conn;
  }
}

async function poolFixture(pool: string): Promise<{ pool: EndpointPool; clock: FakeClock; accepted: () => number; closed: (reason: string) => number; close: () => Promise<void> }> {
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted += 1;
    s.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const config = parseConfig(`listeners:\n  - name: main\n    address: 127.0.0.1:0\n    routes: [{ cluster: c }]\nclusters:\n  c:\n    endpoints: [{ address: 127.0.0.1:${port} }]\n    pool: ${pool}\n`, 'proxy.yaml', {});
  const cluster = getCluster(config, 'c');
  const clock = new FakeClock();
  const wheel = new TimerWheel({ resolutionMs: 10, clock });
  const metrics = new ProxyMetrics().cluster('c').endpoint(`127.0.0.1:${port}`);
  const endpoint = cluster.endpoints[0];
  assert.ok(endpoint !== undefined);
  const p = new EndpointPool(endpoint, cluster, metrics, { wheel, clock, tlsSessions: undefined, readBuffer: Buffer.alloc(1024), onConnectOutcome: () => undefined }, undefined);
  return {
    pool: p,
    clock,
    accepted: () => accepted,
    closed: (reason) => metrics.stats().cxClosed[reason as keyof ReturnType<typeof metrics.stats>['cxClosed']],
    close: async () => {
      p.close('shutdown');
      wheel.close();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Let socket events ('close') run; no wall-clock time is waited for. */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i += 1) await new Promise((r) => setImmediate(r));
};

test('endpoint pool: dial, most recently used reuse, least recently used eviction, idle expiry on the fake clock', async () => {
  const f = await poolFixture('{ maxIdlePerEndpoint: 2, idleTimeoutMs: 60000, defaultBackendIdleMs: 5000, hintMarginMs: 1000 }');
  const w = new Waiter();
  f.pool.acquire(w);
  f.pool.acquire(w);
  f.pool.acquire(w);
  assert.equal(f.pool.connectingCount, 3);
  const [c1, c2, c3] = [await w.next(), await w.next(), await w.next()];
  assert.equal(f.pool.activeCount, 3);
  f.pool.release(c1, 'reuse', undefined, false);
  f.pool.release(c2, 'reuse', undefined, false);
  f.pool.release(c3, 'reuse', undefined, false); // the idle cap is 2: c1, the least recently used, goes
  await settle();
  assert.equal(f.pool.idleCount, 2);
  assert.equal(c1.state, 'closed');
  assert.equal(f.closed('evicted'), 1);
  assert.equal(f.pool.acquire(w), null, 'answered at once from the idle list');
  assert.equal(await w.next(), c3, 'the most recently used');
  f.pool.release(c3, 'reuse', { timeoutSec: 3 }, true);
  // c3 is kept for its hint less the margin (3000 - 1000), c2 for defaultBackendIdleMs less it.
  f.clock.advance(1_990);
  assert.equal(c3.state, 'idle');
  f.clock.advance(30);
  await settle();
  assert.equal(c3.state, 'closed');
  assert.equal(c2.state, 'idle');
  f.clock.advance(2_000);
  await settle();
  assert.equal(c2.state, 'closed');
  assert.equal(f.closed('idle_timeout'), 2);
  assert.equal(f.accepted(), 3);
  await f.close();
});

test('endpoint pool: a cancelled want gets nothing and holds nothing; a fresh want never takes a pooled connection; a release names its reason', async () => {
  const f = await poolFixture('{ maxConnectionsPerEndpoint: 1 }');
  const first = new Waiter();
  f.pool.acquire(first);
  const c1 = await first.next();
  const quitter = new Waiter();
  const want = f.pool.acquire(quitter);
  assert.ok(want !== null, 'queued: the one slot is busy');
  assert.equal(f.pool.waiting, 1);
  want.cancel();
  assert.equal(f.pool.waiting, 0);
  f.pool.release(c1, 'reuse', undefined, false);
  await settle();
  assert.equal(quitter.got.length, 0, 'the cancelled want got nothing');
  assert.equal(f.pool.idleCount, 1, 'the connection went idle instead');
  // fresh: a new connection although one is idle.
  const retry = new Waiter();
  f.pool.acquire(retry, true);
  const c2 = await retry.next();
  assert.notEqual(c2, c1);
  assert.equal(f.pool.idleCount, 1);
  assert.equal(f.accepted(), 2);
  f.pool.release(c2, 'aborted', undefined, false);
  await settle();
  assert.equal(f.closed('aborted'), 1, 'closed because the proxy gave up, not counted as the backend closing');
  assert.equal(f.closed('peer_close'), 0);
  await f.close();
});
