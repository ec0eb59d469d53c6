// TCP keepalive options on real sockets: values read back with getsockopt (the addon) and seen by
// the kernel's own view (`ss -tio` shows the armed keepalive timer), on client and accepted
// sockets; the whole-second rounding rule; option validation; the setKeepAlive fallback.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import { ClosedError, InvalidOptionError } from '../src/core/errors.js';
import { loadNativeTcp } from '../src/transport/native.js';
import { nativeAddonMissing, skipFor, ssMissing as missingSs } from './helpers/prerequisites.js';
import type { NativeTcpBinding } from '../src/transport/native.js';
import type { TcpKeepAliveOptions } from '../src/transport/tcp-keepalive.js';
import {
  TCP_KEEPALIVE_FALLBACK_WARNING,
  getTcpKeepAlive,
  setTcpKeepAlive,
  setTcpKeepAliveWith,
} from '../src/transport/tcp-keepalive.js';

const native = loadNativeTcp();
const onLinux = process.platform === 'linux';
// Not Linux is a plain skip; on Linux a missing addon or `ss` fails under LIFELINE_CI=1.
const needNative = !onLinux ? 'not Linux' : skipFor('tcp-keepalive (native addon)', nativeAddonMissing());
const ssMissing = !onLinux ? 'not Linux' : skipFor('tcp-keepalive (ss)', missingSs());

interface Pair {
  server: net.Server;
  client: net.Socket;
  accepted: net.Socket;
}

/** A connected client/accepted pair on 127.0.0.1; `beforeConnect` runs on the connecting client. */
async function openPair(beforeConnect?: (client: net.Socket) => void): Promise<Pair> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const acceptedP = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect(port, '127.0.0.1');
  beforeConnect?.(client);
  await once(client, 'connect');
  const [accepted] = await acceptedP;
  return { server, client, accepted };
}

/** Destroy the sockets, close the server, and wait until their handles are really gone. */
async function closeAll(server: net.Server, sockets: net.Socket[]): Promise<void> {
  const closed = sockets.filter((s) => !s.closed).map((s) => once(s, 'close'));
  for (const socket of sockets) socket.destroy();
  await Promise.all([...closed, new Promise<void>((resolve) => server.close(() => resolve()))]);
  await new Promise((resolve) => setImmediate(resolve)); // handle close callbacks run one turn later
}

async function closePair(pair: Pair): Promise<void> {
  await closeAll(pair.server, [pair.client, pair.accepted]);
}

async function withPair(fn: (pair: Pair) => Promise<void> | void, beforeConnect?: (client: net.Socket) => void): Promise<void> {
  const pair = await openPair(beforeConnect);
  try {
    await fn(pair);
  } finally {
    await closePair(pair);
  }
}

/** ss prints timers as e.g. "892ms", "1.892ms" (1 s 892 ms), "2sec", "1min5.010ms". */
function parseSsTime(text: string): number {
  const m = /^(?:(\d+)min)?(?:(\d+)(?:sec|\.))?(?:(\d+)ms)?$/.exec(text);
  if (m === null || text === '') throw new Error(`unexpected ss time ${JSON.stringify(text)}`);
  return Number(m[1] ?? 0) * 60_000 + Number(m[2] ?? 0) * 1000 + Number(m[3] ?? 0);
}

/** The keepalive timer the kernel has armed for the socket local→peer, from `ss -tio`. */
function ssKeepaliveTimer(socket: net.Socket): { remainingMs: number; probes: number } | undefined {
  const filter = `( sport = :${socket.localPort ?? 0} and dport = :${socket.remotePort ?? 0} )`;
  const out = execFileSync('ss', ['-tioHn', 'state', 'established', filter], { encoding: 'utf8' });
  const first = out.split('\n').find((line) => line.includes(`:${socket.localPort ?? 0}`)) ?? '';
  const m = /timer:\(keepalive,([^,]+),(\d+)\)/.exec(first);
  if (m === null) return undefined;
  return { remainingMs: parseSsTime(m[1] ?? ''), probes: Number(m[2]) };
}

describe('setTcpKeepAlive (native, Linux)', { skip: needNative }, () => {
  test('client socket: set while connecting, applied on connect, read back exactly', async () => {
    let result: ReturnType<typeof setTcpKeepAlive> | undefined;
    await withPair(
      ({ client }) => {
        assert.deepEqual(result, {
          mechanism: 'native', enable: true, idleMs: 1000, intervalMs: 1000, count: 3,
          userTimeoutMs: 0, deadAfterMs: 4000, pending: true,
        });
        assert.deepEqual(getTcpKeepAlive(client), { enable: true, idleMs: 1000, intervalMs: 1000, count: 3, userTimeoutMs: 0 });
        if (ssMissing === false) {
          const timer = ssKeepaliveTimer(client);
          assert.ok(timer, 'ss shows a keepalive timer on the client socket');
          assert.ok(timer.remainingMs > 0 && timer.remainingMs <= 1000, `timer ${timer.remainingMs} ms within the 1 s idle`);
          assert.equal(timer.probes, 0);
        }
      },
      (client) => {
        assert.equal(getTcpKeepAlive(client), undefined, 'no fd while connecting');
        result = setTcpKeepAlive(client, { idleMs: 1000, intervalMs: 1000, count: 3 });
      },
    );
  });

  test('accepted socket: rounded up to whole seconds, user timeout keeps the requested bound', async () => {
    await withPair(({ accepted }) => {
      const result = setTcpKeepAlive(accepted, { idleMs: 1500, intervalMs: 2000, count: 4 });
      // 1.5 s idle becomes 2 s, so 1500 + 4 * 2000 = 9500 ms is not whole seconds (10 s):
      // TCP_USER_TIMEOUT = 9500 ends it at the first firing at or after 9.5 s, which is 10 s.
      assert.deepEqual(result, {
        mechanism: 'native', enable: true, idleMs: 2000, intervalMs: 2000, count: 4,
        userTimeoutMs: 9500, deadAfterMs: 10_000, pending: false,
      });
      const raw = native?.get((accepted as unknown as { _handle: { fd: number } })._handle.fd);
      assert.deepEqual(raw, { enable: 1, idleSec: 2, intervalSec: 2, count: 4, userTimeoutMs: 9500 });
      if (ssMissing === false) {
        const timer = ssKeepaliveTimer(accepted);
        assert.ok(timer, 'ss shows a keepalive timer on the accepted socket');
        // More than 1 s left proves the kernel took 2 s, not a truncated 1 s.
        assert.ok(timer.remainingMs > 1000 && timer.remainingMs <= 2000, `timer ${timer.remainingMs} ms`);
      }
    });
  });

  test('rounding rule: effective values and the user timeout, case by case', async () => {
    type Case = [TcpKeepAliveOptions, { idle: number; interval: number; count: number; user: number; dead: number }];
    const cases: Case[] = [
      [{ idleMs: 1000, intervalMs: 1000, count: 3 }, { idle: 1000, interval: 1000, count: 3, user: 0, dead: 4000 }],
      [{ idleMs: 1000, intervalMs: 500, count: 3 }, { idle: 1000, interval: 1000, count: 3, user: 2500, dead: 3000 }],
      [{ idleMs: 1, intervalMs: 1, count: 1 }, { idle: 1000, interval: 1000, count: 1, user: 2, dead: 2000 }],
      [{ idleMs: 2500, intervalMs: 300, count: 10 }, { idle: 3000, interval: 1000, count: 10, user: 5500, dead: 6000 }],
      // The caller's user timeout always wins, even 0 (then the count decides: 1 + 3 * 1 s).
      [{ idleMs: 1000, intervalMs: 500, count: 3, userTimeoutMs: 0 }, { idle: 1000, interval: 1000, count: 3, user: 0, dead: 4000 }],
      [{ idleMs: 1000, intervalMs: 1000, count: 3, userTimeoutMs: 9000 }, { idle: 1000, interval: 1000, count: 3, user: 9000, dead: 9000 }],
      // Exact again after a rounded call: the earlier automatic user timeout must not linger.
      [{ idleMs: 2000, intervalMs: 1000, count: 2 }, { idle: 2000, interval: 1000, count: 2, user: 0, dead: 4000 }],
    ];
    await withPair(({ client }) => {
      for (const [options, want] of cases) {
        const r = setTcpKeepAlive(client, options);
        const label = JSON.stringify(options);
        assert.deepEqual(
          [r.idleMs, r.intervalMs, r.count, r.userTimeoutMs, r.deadAfterMs],
          [want.idle, want.interval, want.count, want.user, want.dead],
          label,
        );
        assert.deepEqual(getTcpKeepAlive(client), { enable: true, idleMs: want.idle, intervalMs: want.interval, count: want.count, userTimeoutMs: want.user }, label);
      }
    });
  });

  test('enable: false turns keepalive off and still sets the user timeout', async () => {
    await withPair(({ client }) => {
      setTcpKeepAlive(client, { idleMs: 1000, intervalMs: 1000, count: 3 });
      const r = setTcpKeepAlive(client, { enable: false, userTimeoutMs: 1500 });
      assert.deepEqual(r, {
        mechanism: 'native', enable: false, idleMs: undefined, intervalMs: undefined, count: undefined,
        userTimeoutMs: 1500, deadAfterMs: undefined, pending: false,
      });
      assert.deepEqual(getTcpKeepAlive(client), { enable: false, idleMs: 1000, intervalMs: 1000, count: 3, userTimeoutMs: 1500 });
      if (ssMissing === false) assert.equal(ssKeepaliveTimer(client), undefined, 'no keepalive timer once off');
    });
  });

  test('a failure applying on connect destroys the socket with ERR_TCP_KEEPALIVE', async () => {
    const failing: NativeTcpBinding = {
      set() {
        throw Object.assign(new Error('setsockopt(TCP_KEEPIDLE=1) failed: Invalid argument'), { code: 'EINVAL' });
      },
      get: (fd) => (native as NativeTcpBinding).get(fd),
    };
    const server = net.createServer((s) => s.destroy());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    try {
      const r = setTcpKeepAliveWith({ native: failing, platform: 'linux' }, client, { idleMs: 1000, intervalMs: 1000, count: 3 });
      assert.equal(r.pending, true);
      const [error] = (await once(client, 'error')) as [Error & { code?: string; cause?: unknown }];
      assert.equal(error.code, 'ERR_TCP_KEEPALIVE');
      assert.match(error.message, /TCP_KEEPIDLE/);
      assert.equal((error.cause as { code?: string }).code, 'EINVAL');
      assert.equal(client.destroyed, true);
    } finally {
      await closeAll(server, [client]);
    }
  });
});

describe('option validation', () => {
  const bad: [string, unknown, RegExp][] = [
    ['tcpKeepAlive.idleTimeMs', { idleTimeMs: 1000, intervalMs: 1000, count: 3 }, /not a known option/],
    ['tcpKeepAlive.idleMs', { idleMs: -1, intervalMs: 1000, count: 3 }, /from 1 to 32767000.*got -1/],
    ['tcpKeepAlive.idleMs', { intervalMs: 1000, count: 3 }, /required/],
    ['tcpKeepAlive.intervalMs', { idleMs: 1000, intervalMs: Number.NaN, count: 3 }, /got NaN/],
    ['tcpKeepAlive.intervalMs', { idleMs: 1000, intervalMs: 32_767_001, count: 3 }, /to 32767000/],
    ['tcpKeepAlive.count', { idleMs: 1000, intervalMs: 1000, count: 1.5 }, /integer from 1 to 127; got 1.5/],
    ['tcpKeepAlive.count', { idleMs: 1000, intervalMs: 1000, count: 128 }, /to 127/],
    ['tcpKeepAlive.userTimeoutMs', { idleMs: 1000, intervalMs: 1000, count: 3, userTimeoutMs: -5 }, /from 0 to 2147483647/],
    ['tcpKeepAlive.enable', { enable: 'yes', idleMs: 1000, intervalMs: 1000, count: 3 }, /true or false/],
    ['tcpKeepAlive.count', { enable: false, count: 0 }, /from 1 to 127/],
  ];
  for (const [option, options, message] of bad) {
    test(`${option}: ${JSON.stringify(options, (_k, v: unknown) => (Number.isNaN(v) ? 'NaN' : v))}`, async () => {
      await withPair(({ client }) => {
        assert.throws(
          () => setTcpKeepAlive(client, options as TcpKeepAliveOptions),
          (error: unknown) => error instanceof InvalidOptionError && error.option === option && message.test(error.message),
        );
      });
    });
  }

  test('a destroyed socket is a ClosedError', async () => {
    const pair = await openPair();
    await closePair(pair);
    assert.throws(() => setTcpKeepAlive(pair.client, { idleMs: 1000, intervalMs: 1000, count: 3 }), ClosedError);
  });
});

describe('fallback to socket.setKeepAlive', () => {
  test('no addon, or not Linux: idle only, one process warning, never a throw', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      if ((w as Error & { code?: string }).code === TCP_KEEPALIVE_FALLBACK_WARNING) warnings.push(w);
    };
    process.on('warning', onWarning);
    try {
      await withPair(async ({ client, accepted }) => {
        const a = setTcpKeepAliveWith({ native: undefined, platform: 'linux' }, client, { idleMs: 1500, intervalMs: 500, count: 3 });
        assert.deepEqual(a, {
          mechanism: 'setKeepAlive-fallback', enable: true, idleMs: 2000, intervalMs: undefined, count: undefined,
          userTimeoutMs: undefined, deadAfterMs: undefined, pending: false,
        });
        const b = setTcpKeepAliveWith({ native, platform: 'darwin' }, accepted, { idleMs: 3000, intervalMs: 1000, count: 3 });
        assert.equal(b.mechanism, 'setKeepAlive-fallback');
        await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on next tick
        assert.equal(warnings.length, 1, 'one warning per process, not per socket');
        assert.match(warnings[0]?.message ?? '', /native addon is not built/);
        if (native !== undefined && onLinux) {
          // The fallback really set SO_KEEPALIVE and the (rounded) idle time.
          assert.deepEqual([getTcpKeepAlive(client)?.enable, getTcpKeepAlive(client)?.idleMs], [true, 2000]);
          assert.deepEqual([getTcpKeepAlive(accepted)?.enable, getTcpKeepAlive(accepted)?.idleMs], [true, 3000]);
        }
      });
    } finally {
      process.off('warning', onWarning);
    }
  });
});

after(() => {
  // Nothing left open: no TCP handles from this file survive its tests.
  const open = process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP'));
  assert.deepEqual(open, []);
});
