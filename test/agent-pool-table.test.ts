// The agent pool's state machine (PoolTable) alone, on a FakeClock: no sockets, no sleeps.
// Every legal move and every illegal one, idle and hint expiry, LRU eviction across keys, MRU
// (and FIFO) reuse, waiter hand-off order, cancel, the caps, and close() leaving no timer.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../src/core/fake-clock.js';
import { IllegalTransitionError } from '../src/core/state-table.js';
import type { AgentSettings } from '../src/http/client/agent-options.js';
import type { CloseReason } from '../src/http/client/agent-stats.js';
import { PoolTable, SOCKET_TRANSITIONS } from '../src/http/client/pool-table.js';
import type { PoolEntry, SocketState, Waiter } from '../src/http/client/pool-table.js';
import { idleBound } from '../src/http/client/socket-rules.js';
import type { SocketMeta } from '../src/http/client/socket-rules.js';

interface Entry extends PoolEntry {
  readonly id: string;
}

const STATES = Object.keys(SOCKET_TRANSITIONS) as SocketState[];
/** A way to bring a new (connecting) entry to each state. */
const PATH: Record<SocketState, SocketState[]> = {
  connecting: [], active: ['active'], reserved: ['active', 'reserved'], idle: ['active', 'idle'], closing: ['closing'], closed: ['closed'],
};

function entry(id: string, key = 'a'): Entry {
  return { id, key, state: 'connecting', prev: undefined, next: undefined, idleDeadline: 0, idleReason: 'idle_timeout', idleSince: 0, timerId: -1 };
}

function setup(over: { maxSockets?: number; maxTotalSockets?: number; scheduling?: 'lifo' | 'fifo' } = {}) {
  const clock = new FakeClock(1000);
  const expired: [string, CloseReason][] = [];
  const moves: string[] = [];
  const table = new PoolTable<Entry, Waiter>({
    clock,
    maxSockets: over.maxSockets ?? Number.POSITIVE_INFINITY,
    maxTotalSockets: over.maxTotalSockets ?? Number.POSITIVE_INFINITY,
    scheduling: over.scheduling ?? 'lifo',
    onIdleExpire: (e, reason) => {
      expired.push([e.id, reason]);
      table.move(e, 'closing');
    },
    onMove: (e, from, to) => moves.push(`${e.id}:${from}>${to}`),
  });
  return { clock, table, expired, moves };
}

function bring(table: PoolTable<Entry, Waiter>, e: Entry, state: SocketState): void {
  table.add(e);
  for (const step of PATH[state]) {
    if (step === 'idle') table.enterIdle(e, 1000, 'idle_timeout');
    else table.move(e, step);
  }
  assert.equal(e.state, state);
}

describe('PoolTable: moves', () => {
  it('allows every legal move, keeps the entry on its state list, and reports it to onMove', () => {
    let n = 0;
    for (const from of STATES) {
      for (const to of SOCKET_TRANSITIONS[from]) {
        const { table, moves } = setup();
        const e = entry(`e${n++}`);
        bring(table, e, from);
        moves.length = 0;
        table.move(e, to);
        assert.equal(e.state, to, `${from} -> ${to}`);
        assert.deepEqual(moves, [`${e.id}:${from}>${to}`]);
        assert.equal(table.idleCount('a'), to === 'idle' ? 1 : 0);
        const tracked = table.entries().includes(e);
        assert.equal(tracked, to !== 'closed', `${to} is${to === 'closed' ? ' not' : ''} on a list`);
        table.close();
      }
    }
    assert.equal(n, 14);
  });

  it('rejects every illegal move with IllegalTransitionError and leaves the entry where it was', () => {
    let n = 0;
    for (const from of STATES) {
      for (const to of STATES) {
        if (SOCKET_TRANSITIONS[from].includes(to)) continue;
        const { table, moves } = setup();
        const e = entry(`x${n++}`);
        bring(table, e, from);
        moves.length = 0;
        assert.throws(() => table.move(e, to), (err: unknown) => err instanceof IllegalTransitionError && err.code === 'ERR_ILLEGAL_TRANSITION' && err.message.includes(`'${from}' to '${to}'`));
        assert.equal(e.state, from);
        assert.deepEqual(moves, []);
        table.close();
      }
    }
    assert.equal(n, 36 - 14);
  });

  it('a closed entry can go nowhere, a closing one only to closed', () => {
    const { table } = setup();
    const e = entry('e');
    bring(table, e, 'closing');
    assert.throws(() => table.move(e, 'idle'), IllegalTransitionError);
    table.move(e, 'closed');
    assert.throws(() => table.move(e, 'closing'), IllegalTransitionError);
    table.close();
  });
});

describe('PoolTable: idle deadlines', () => {
  it('idle expiry: fires at the deadline with idle_timeout, not before', () => {
    const { clock, table, expired } = setup();
    const e = entry('e');
    bring(table, e, 'active');
    table.enterIdle(e, 4000, 'idle_timeout');
    assert.equal(e.idleDeadline, 5000);
    assert.equal(e.idleSince, 1000);
    clock.advance(3990);
    assert.deepEqual(expired, []);
    clock.advance(20); // the wheel is at most one 10 ms tick late
    assert.deepEqual(expired, [['e', 'idle_timeout']]);
    assert.equal(e.state, 'closing');
    table.close();
  });

  it('hint expiry: the bound set by the server hint fires with hint_expiry', () => {
    const { clock, table, expired } = setup();
    const a = entry('a');
    const b = entry('b');
    bring(table, a, 'active');
    bring(table, b, 'active');
    table.enterIdle(a, 4000, 'idle_timeout');
    table.enterIdle(b, 1000, 'hint_expiry');
    clock.advance(1010);
    assert.deepEqual(expired, [['b', 'hint_expiry']]);
    clock.advance(3000);
    assert.deepEqual(expired, [['b', 'hint_expiry'], ['a', 'idle_timeout']]);
    table.close();
  });

  it('hint expiry from the rules: min(freeSocketTimeoutMs, hint - margin, TTL left) picks the bound and its reason', () => {
    const { clock, table, expired } = setup();
    const settings = { freeSocketTimeoutMs: 4000, socketActiveTtlMs: 0 } as AgentSettings;
    const cases: [string, number, number, number, CloseReason][] = [
      // id, hint less margin (ms), TTL (ms, 0 none), expected bound, reason
      ['hinted', 1500, 0, 1500, 'hint_expiry'],
      ['unhinted', Number.POSITIVE_INFINITY, 0, 4000, 'idle_timeout'],
      ['aged', 3000, 2500, 2500, 'max_age'],
    ];
    for (const [id, hintTimeoutMs, ttl, bound, reason] of cases) {
      const e = entry(id);
      const meta = { ...e, hintTimeoutMs, createdAt: clock.now() } as unknown as SocketMeta;
      const got = idleBound(meta, { ...settings, socketActiveTtlMs: ttl }, clock.now());
      assert.deepEqual(got, { timeoutMs: bound, reason }, id);
      bring(table, e, 'active');
      table.enterIdle(e, got.timeoutMs, got.reason);
    }
    clock.advance(1510);
    assert.deepEqual(expired, [['hinted', 'hint_expiry']]);
    clock.advance(1000);
    assert.deepEqual(expired, [['hinted', 'hint_expiry'], ['aged', 'max_age']]);
    clock.advance(1500);
    assert.deepEqual(expired.map(([id]) => id), ['hinted', 'aged', 'unhinted']);
    table.close();
  });

  it('leaving idle cancels the deadline; idle again files a new one from now', () => {
    const { clock, table, expired } = setup();
    const e = entry('e');
    bring(table, e, 'active');
    table.enterIdle(e, 100, 'idle_timeout');
    clock.advance(50);
    table.move(e, 'reserved');
    assert.equal(e.timerId, -1);
    clock.advance(500);
    assert.deepEqual(expired, []);
    table.move(e, 'active');
    table.enterIdle(e, 100, 'max_age');
    assert.equal(e.idleDeadline, clock.now() + 100);
    clock.advance(110);
    assert.deepEqual(expired, [['e', 'max_age']]);
    table.close();
  });

  it('close() stops the wheel: no timer is left on the clock', () => {
    const { clock, table } = setup();
    for (let i = 0; i < 5; i++) {
      const e = entry(`e${i}`);
      bring(table, e, 'active');
      table.enterIdle(e, 1000 + i, 'idle_timeout');
    }
    assert.ok(clock.pendingTimers > 0);
    table.close();
    assert.equal(clock.pendingTimers, 0);
  });
});

describe('PoolTable: reuse order and eviction', () => {
  it('MRU reuse (lifo): the most recently idled; fifo: the oldest', () => {
    for (const scheduling of ['lifo', 'fifo'] as const) {
      const { clock, table } = setup({ scheduling });
      const ids = ['first', 'second', 'third'];
      for (const id of ids) {
        const e = entry(id);
        bring(table, e, 'active');
        table.enterIdle(e, 4000, 'idle_timeout');
        clock.advance(10);
      }
      const picked = table.pickIdle('a');
      assert.equal(picked?.id, scheduling === 'lifo' ? 'third' : 'first', scheduling);
      assert.equal(picked?.state, 'idle', 'picking does not move it');
      if (picked !== undefined) table.move(picked, 'reserved');
      // With third (lifo) or first (fifo) taken, the middle one is next either way.
      assert.equal(table.pickIdle('a')?.id, 'second');
      assert.equal(table.pickIdle('other'), undefined);
      table.close();
    }
  });

  it('LRU eviction: the least recently idled entry of another key', () => {
    const { clock, table } = setup();
    const order: [string, string][] = [['b1', 'b'], ['c1', 'c'], ['a1', 'a'], ['b2', 'b']];
    const byId = new Map<string, Entry>();
    for (const [id, key] of order) {
      const e = entry(id, key);
      byId.set(id, e);
      bring(table, e, 'active');
      table.enterIdle(e, 4000, 'idle_timeout');
      clock.advance(5);
    }
    assert.equal(table.oldestIdleExcept('a')?.id, 'b1');
    assert.equal(table.oldestIdleExcept('b')?.id, 'c1');
    const b1 = byId.get('b1');
    assert.ok(b1 !== undefined);
    // b1 reused and idle again: now the most recent of b.
    table.move(b1, 'reserved');
    table.move(b1, 'active');
    table.enterIdle(b1, 4000, 'idle_timeout');
    assert.equal(table.oldestIdleExcept('a')?.id, 'c1');
    assert.equal(table.oldestIdleExcept('c')?.id, 'a1');
    table.close();
  });

  it('caps: maxSockets per key and maxTotalSockets; closing and closed do not count', () => {
    const { table } = setup({ maxSockets: 2, maxTotalSockets: 3 });
    const a1 = entry('a1');
    const a2 = entry('a2');
    bring(table, a1, 'active');
    assert.equal(table.canOpen('a'), true);
    bring(table, a2, 'idle');
    assert.equal(table.count('a'), 2);
    assert.equal(table.canOpen('a'), false, 'per-key cap');
    const b1 = entry('b1', 'b');
    bring(table, b1, 'connecting');
    assert.equal(table.total, 3);
    assert.equal(table.canOpen('b'), false, 'total cap');
    table.move(a2, 'closing');
    assert.equal(table.count('a'), 1);
    assert.equal(table.total, 2);
    assert.equal(table.canOpen('b'), true);
    table.move(a2, 'closed');
    assert.equal(table.total, 2);
    table.close();
  });
});

describe('PoolTable: waiters', () => {
  it('hand-off in arrival order, this key first, then the others', () => {
    const { table } = setup();
    const w = (key: string, n: number): Waiter & { n: number } => ({ key, n });
    const a1 = w('a', 1);
    const b1 = w('b', 2);
    const a2 = w('a', 3);
    const c1 = w('c', 4);
    for (const x of [a1, b1, a2, c1]) table.enqueue(x);
    assert.equal(table.waiting('a'), 2);
    assert.deepEqual(table.keysWithWaiters('c'), ['c', 'a', 'b']);
    assert.equal(table.nextWaiter('a'), a1);
    assert.equal(table.nextWaiter('a'), a2);
    assert.equal(table.nextWaiter('a'), undefined);
    assert.deepEqual(table.keysWithWaiters('a'), ['b', 'c']);
    table.close();
  });

  it('cancel removes a waiter from the middle, once; it is never handed a connection', () => {
    const { table } = setup();
    const ws = [1, 2, 3, 4].map((n) => ({ key: 'a', n }));
    for (const x of ws) table.enqueue(x);
    assert.equal(table.cancel(ws[1] as Waiter), true);
    assert.equal(table.cancel(ws[1] as Waiter), false, 'a second cancel finds nothing');
    assert.equal(table.cancel(ws[3] as Waiter), true);
    assert.equal(table.waiting('a'), 2);
    assert.equal(table.nextWaiter('a'), ws[0]);
    assert.equal(table.nextWaiter('a'), ws[2]);
    assert.equal(table.nextWaiter('a'), undefined);
    assert.equal(table.cancel(ws[0] as Waiter), false, 'a waiter already handed off cannot be cancelled');
    assert.deepEqual(table.keysWithWaiters('a'), []);
    table.close();
  });

  it('drainWaiters empties every queue', () => {
    const { table } = setup();
    table.enqueue({ key: 'a' });
    table.enqueue({ key: 'b' });
    assert.equal(table.drainWaiters().length, 2);
    assert.equal(table.waiting('a') + table.waiting('b'), 0);
    table.close();
  });
});
