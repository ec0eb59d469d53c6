/**
 * The server policy's pieces the reverse proxy uses too, each on its own: the pure keep-or-close
 * decision, the connection table on StateTable (illegal moves throw), DrainRun over a minimal
 * connection, the lingering close; and two defects fixed in the controller: a user's
 * `once('connection')` listener stays one-shot, and a reset counts as `reset`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { FakeClock } from '../src/core/fake-clock.js';
import { IllegalTransitionError } from '../src/core/state-table.js';
import { CLOSE_REASONS } from '../src/core/close-reason.js';
import {
  Admission,
  ConnectionTable,
  decideKeepAlive,
  DrainRun,
  keepAlive,
  keepAlivePolicy,
  LINGER_MS,
  answerAndClose,
  SERVER_CLOSE_REASONS,
} from '../src/http/server/index.js';
import type { ConnectionState, KeepAliveFacts } from '../src/http/server/index.js';
import { sleep } from './helpers/counting-clock.js';

const facts = (over: Partial<KeepAliveFacts> = {}): KeepAliveFacts => ({ requests: 1, openedAt: 0, now: 1_000, draining: false, clientClose: false, ...over });

test('decideKeepAlive: keep with the hint and requests left; each close reason, in precedence order', () => {
  const policy = keepAlivePolicy({ idleTimeoutMs: 75_000, hintMarginMs: 5_000, maxRequestsPerConnection: 3, maxConnectionAgeMs: 60_000 });
  assert.deepEqual(decideKeepAlive(policy, facts()), { keep: true, reason: undefined, hintSeconds: 70, requestsLeft: 2 });
  assert.deepEqual(decideKeepAlive(policy, facts({ requests: 3 })), { keep: false, reason: 'max_requests', hintSeconds: 0, requestsLeft: 0 });
  assert.equal(decideKeepAlive(policy, facts({ now: 60_000 })).reason, 'max_age');
  assert.equal(decideKeepAlive(policy, facts({ now: 59_999 })).reason, undefined);
  assert.equal(decideKeepAlive(policy, facts({ clientClose: true })).reason, 'peer_close');
  // A drain wins over every limit; the limits win over the client's own close (ours need the header).
  assert.equal(decideKeepAlive(policy, facts({ draining: true, requests: 3, now: 70_000, clientClose: true })).reason, 'drain');
  assert.equal(decideKeepAlive(policy, facts({ requests: 3, now: 70_000, clientClose: true })).reason, 'max_requests');
  assert.equal(decideKeepAlive(policy, facts({ now: 70_000, clientClose: true })).reason, 'max_age');
  // No limits: no max=; keep-alive off: every response closes; a margin under a second: no hint.
  const open = keepAlivePolicy({ idleTimeoutMs: 75_000, hintMarginMs: 5_000, maxRequestsPerConnection: 0, maxConnectionAgeMs: 0 });
  assert.deepEqual(decideKeepAlive(open, facts({ requests: 1e9, now: 1e12 })), { keep: true, reason: undefined, hintSeconds: 70, requestsLeft: 0 });
  const off = keepAlivePolicy({ idleTimeoutMs: 0, hintMarginMs: 0, maxRequestsPerConnection: 0, maxConnectionAgeMs: 0 });
  assert.equal(decideKeepAlive(off, facts()).reason, 'max_requests');
  assert.equal(keepAlivePolicy({ idleTimeoutMs: 1_500, hintMarginMs: 800, maxRequestsPerConnection: 0, maxConnectionAgeMs: 0 }).hintSeconds, 0);
  for (const r of SERVER_CLOSE_REASONS) assert.ok(Object.hasOwn(CLOSE_REASONS, r), `${r} is in the one vocabulary`);
});

/** A proxy-like connection: nothing but what the table needs. */
interface Item {
  name: string;
  state: ConnectionState;
  prev: Item | undefined;
  next: Item | undefined;
}
const item = (name: string): Item => ({ name, state: 'idle', prev: undefined, next: undefined });

test('ConnectionTable: lists per state, idle in LRU order, illegal moves throw, closed is on no list', () => {
  const table = new ConnectionTable<Item>('proxy client connection');
  const [a, b, c] = [item('a'), item('b'), item('c')];
  for (const x of [a, b, c]) table.add(x);
  table.set(a, 'active');
  table.set(a, 'idle'); // a is now the most recently used
  assert.deepEqual([...table.idle].map((x) => x.name), ['b', 'c', 'a']);
  table.set(b, 'draining');
  table.set(b, 'draining'); // staying is no move
  assert.throws(() => table.set(b, 'idle'), (e: unknown) => e instanceof IllegalTransitionError && /proxy client connection: illegal move from 'draining' to 'idle'/.test((e as Error).message));
  assert.throws(() => table.set(b, 'active'), IllegalTransitionError);
  assert.deepEqual([table.idle.size, table.active.size, table.draining.size, table.size], [2, 0, 1, 3]);
  table.remove(b);
  table.remove(b); // a late close event for a closed connection is harmless
  table.set(b, 'active'); // so is a late request event
  assert.equal(b.state, 'closed');
  assert.equal(table.size, 2);
  table.clear();
  assert.deepEqual([table.size, a.state, c.state], [0, 'closed', 'closed']);
});

test('DrainRun over a minimal connection: idle ones close at once, busy ones when told, the rest forced', async () => {
  const clock = new FakeClock(0);
  const conns = [{ id: 1, busy: false, drainMarked: false }, { id: 2, busy: true, drainMarked: false }, { id: 3, busy: true, drainMarked: false }];
  const forced: number[] = [];
  const run = new DrainRun({
    clock,
    timeoutMs: 1_000,
    spreadMs: 0,
    connections: conns,
    reach: (c) => ((c.drainMarked = true), !c.busy),
    force: (c) => forced.push(c.id),
  });
  run.closed(conns[1] as (typeof conns)[number], 'drain');
  clock.advance(1_000);
  const result = await run.promise;
  assert.deepEqual(forced, [3]);
  assert.deepEqual({ ...result, durationMs: 0 }, { connections: 3, closedIdle: 1, closedAfterResponse: 1, forced: 1, closedOther: 0, durationMs: 0 });
  assert.equal(result.durationMs, 1_000);
});

test('Admission over plain sockets: room admits, full evicts, else holds (pause) or refuses; a drain refuses the held', () => {
  const clock = new FakeClock(0);
  let open = 0;
  let idle = 0;
  const admitted: net.Socket[] = [];
  const hooks = {
    open: () => open,
    evictOne: () => (idle > 0 ? (idle--, open--, true) : false),
    admit: (s: net.Socket) => (admitted.push(s), open++),
  };
  const pause = new Admission({ clock, maxConnections: 2, whenFull: 'pause', holdMs: 1_000, refuseWaitMs: 1_000 }, hooks);
  const sockets = Array.from({ length: 5 }, () => new net.Socket());
  pause.accept(sockets[0] as net.Socket);
  pause.accept(sockets[1] as net.Socket);
  idle = 1;
  pause.accept(sockets[2] as net.Socket); // full: the idle one is evicted for it
  pause.accept(sockets[3] as net.Socket); // full, nothing idle: held
  assert.deepEqual([admitted.length, pause.queued, pause.rejected, pause.accepted], [3, 1, 0, 4]);
  open -= 1; // a connection closed
  pause.admitHeld();
  assert.deepEqual([admitted.length, pause.queued, admitted[3] === sockets[3]], [4, 0, true]);
  pause.accept(sockets[4] as net.Socket);
  assert.equal(pause.queued, 1);
  pause.refuseHeld(); // a drain: the held one gets 503, later ones are refused, not held
  assert.deepEqual([pause.queued, pause.rejected], [0, 1]);
  const late = new net.Socket();
  pause.accept(late);
  assert.deepEqual([pause.queued, pause.rejected], [0, 2]);
  const reject = new Admission({ clock, maxConnections: 1, whenFull: 'reject', holdMs: 1_000, refuseWaitMs: 1_000 }, { open: () => 1, evictOne: () => false, admit: () => assert.fail('no room') });
  reject.accept(new net.Socket());
  assert.deepEqual([reject.queued, reject.rejected], [0, 1]);
  clock.advance(1_000); // refused newcomers that never send a request are destroyed at refuseWaitMs
  for (const s of [...sockets, late]) s.destroy();
});

test('answerAndClose: the answer arrives whole, then FIN; a client that never closes is cut at LINGER_MS', async () => {
  assert.equal(LINGER_MS, 5_000);
  const clock = new FakeClock(0);
  let accepted: net.Socket | undefined;
  const server = net.createServer((socket) => {
    accepted = socket;
    answerAndClose(socket, 408, clock);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // allowHalfOpen: the client does not answer our FIN with its own, as a stuck client would not.
  const client = net.connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  let text = '';
  client.on('data', (d: Buffer) => (text += d.toString('latin1')));
  await new Promise<void>((resolve) => client.once('end', resolve)); // our FIN; we keep our side open
  assert.match(text, /^HTTP\/1\.1 408 Request Timeout\r\nConnection: close\r\n/);
  client.write('more bytes after the answer are discarded, not a reset');
  await sleep(50);
  assert.ok(accepted !== undefined && !accepted.destroyed, 'still lingering');
  clock.advance(LINGER_MS - 1);
  await sleep(20);
  assert.equal(accepted.destroyed, false, 'not cut before LINGER_MS');
  const closed = new Promise<void>((resolve) => accepted?.once('close', () => resolve()));
  clock.advance(1);
  await closed;
  client.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test("a user's server.once('connection') listener stays one-shot, attached and after close()", async (t) => {
  const server = http.createServer((req, res) => res.end('ok'));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  let calls = 0;
  server.once('connection', () => (calls += 1));
  const policy = keepAlive(server, {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const get = (): Promise<void> =>
    new Promise((resolve, reject) => {
      http.get({ port, host: '127.0.0.1', agent: false }, (res) => res.resume().on('end', resolve)).on('error', reject);
    });
  await get();
  await get();
  assert.equal(calls, 1, 'once while the policy is attached');
  policy.close();
  await get();
  assert.equal(calls, 1, 'still once after the policy gave the listeners back');
  assert.equal(server.listenerCount('connection'), 1, "only Node's own listener is left");
});

test('a client that resets its connection is counted as reset (reasonFromError), not a generic error', async (t) => {
  const server = http.createServer((req, res) => {
    req.resume();
    res.write('partial'); // a response in progress, so the RST arrives while Node reads and writes
  });
  const policy = keepAlive(server, {});
  t.after(() => {
    policy.close();
    server.closeAllConnections();
    server.close();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const closed = new Promise<string>((resolve) => policy.events.once('close', (_conn, reason) => resolve(reason)));
  const client = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
  client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise<void>((resolve) => client.once('data', () => resolve()));
  client.resetAndDestroy();
  assert.equal(await closed, 'reset');
  assert.equal(policy.stats().closes.reset, 1);
});
