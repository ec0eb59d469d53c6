/**
 * Keep-alive on the HTTP/2 layer of the proxy's client side (client.http2), with Node's HTTP/2
 * client and a raw socket as peers:
 * - a session with no stream for idleTimeoutMs ends with GOAWAY(NO_ERROR);
 * - the proxy PINGs after pingIntervalMs of silence, and a client that completes the preface and
 *   SETTINGS but never answers a PING is closed after pingIntervalMs + pingTimeoutMs;
 * - a client pinging every 10 ms with no stream open gets GOAWAY ENHANCE_YOUR_CALM
 *   "too_many_pings" on its third strike (gRPC's policy), and not when the policy is off;
 * - a drain sends GOAWAY at once (the first of two, with the largest stream id) while the
 *   stream in flight completes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBackend, startH2Proxy } from './helpers/proxy-http2.js';
import type { H2Proxy } from './helpers/proxy-http2.js';

interface GoAway {
  code: number;
  lastStreamId: number;
  data: string;
  atMs: number;
}

/** A Node HTTP/2 client session to the cleartext listener, recording GOAWAY and PINGs. */
function connect(h2: H2Proxy): { session: http2.ClientHttp2Session; goaway: Promise<GoAway>; pings: number[] } {
  const session = http2.connect(`http://127.0.0.1:${h2.clearPort}`);
  session.on('error', () => undefined);
  const pings: number[] = [];
  session.on('ping', () => pings.push(performance.now()));
  const goaway = new Promise<GoAway>((resolve) => {
    session.once('goaway', (code: number, lastStreamId: number, data?: Buffer) => resolve({ code, lastStreamId, data: data?.toString('latin1') ?? '', atMs: performance.now() }));
  });
  return { session, goaway, pings };
}

/** GET `path` on `session`: status and body. */
async function get(session: http2.ClientHttp2Session, path: string): Promise<{ status: number; body: string }> {
  const req = session.request({ ':path': path });
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  const [headers] = (await once(req, 'response')) as [http2.IncomingHttpHeaders];
  await once(req, 'end');
  return { status: Number(headers[':status']), body: Buffer.concat(chunks).toString('utf8') };
}

/** Resolve with `p`, or reject after `ms`. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

async function setup(t: { after(fn: () => unknown): void }, http2Yaml: string): Promise<H2Proxy> {
  const backend = await startBackend();
  t.after(() => backend.close());
  const h2 = await startH2Proxy(backend.port, `client:\n  http2: ${http2Yaml}\n`);
  t.after(() => h2.close());
  return h2;
}

test('idle: a session with no open stream for idleTimeoutMs gets GOAWAY(NO_ERROR)', { timeout: 30_000 }, async (t) => {
  const h2 = await setup(t, '{ idleTimeoutMs: 300, pingIntervalMs: 0 }');
  const { session, goaway } = connect(h2);
  t.after(() => session.destroy());
  assert.deepEqual(await get(session, '/small'), { status: 200, body: 'small' });
  const idleFrom = performance.now();
  const g = await within(goaway, 5_000, 'idle GOAWAY');
  assert.equal(g.code, http2.constants.NGHTTP2_NO_ERROR);
  const idleMs = g.atMs - idleFrom;
  assert.ok(idleMs >= 250 && idleMs < 2_000, `GOAWAY after ${idleMs.toFixed(0)} ms of idleness (idleTimeoutMs 300)`);
  await once(session, 'close');
  assert.equal(h2.proxy.metrics.listener('clear').stats().cxClosed.idle_timeout, 1);
});

test('PING after pingIntervalMs of silence; a client that never answers is closed after pingTimeoutMs', { timeout: 30_000 }, async (t) => {
  const h2 = await setup(t, '{ idleTimeoutMs: 60000, pingIntervalMs: 200, pingTimeoutMs: 300 }');
  // A live client (Node answers PINGs): pinged about every 200 ms while silent, never closed.
  const live = connect(h2);
  t.after(() => live.session.destroy());
  await get(live.session, '/small');
  await sleep(1_100);
  assert.ok(live.pings.length >= 3 && live.pings.length <= 7, `${live.pings.length} PINGs in 1.1 s of silence at pingIntervalMs 200`);
  assert.equal(live.session.closed || live.session.destroyed, false, 'a client that answers stays');

  // A dead client: preface and an empty SETTINGS, then nothing (its kernel still ACKs).
  const raw = net.connect(h2.clearPort, '127.0.0.1');
  t.after(() => raw.destroy());
  raw.on('error', () => undefined);
  raw.resume();
  await once(raw, 'connect');
  const from = performance.now();
  raw.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
  await within(once(raw, 'close'), 5_000, 'dead client closed');
  const ms = performance.now() - from;
  assert.ok(ms >= 450 && ms < 3_000, `dead client closed after ${ms.toFixed(0)} ms (interval 200 + timeout 300)`);
  assert.equal(h2.proxy.metrics.listener('clear').stats().cxClosed.heartbeat_timeout, 1);
});

test('gRPC ping policy: PINGs every 10 ms without a stream draw GOAWAY ENHANCE_YOUR_CALM "too_many_pings"; off when minPingIntervalWithoutDataMs is 0', { timeout: 30_000 }, async (t) => {
  const h2 = await setup(t, '{ pingIntervalMs: 0 }');
  const { session, goaway } = connect(h2);
  t.after(() => session.destroy());
  await once(session, 'connect');
  let sent = 0;
  const pinger = setInterval(() => {
    if (session.closed || session.destroyed || sent >= 50) return;
    sent += 1;
    session.ping(() => undefined);
  }, 10);
  t.after(() => clearInterval(pinger));
  const g = await within(goaway, 5_000, 'too_many_pings GOAWAY');
  clearInterval(pinger);
  assert.equal(g.code, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  assert.equal(g.data, 'too_many_pings');
  assert.ok(sent >= 3 && sent <= 6, `refused after ${sent} PINGs (the first is free, then 2 strikes tolerated)`);
  await sleep(100);
  assert.equal(h2.proxy.metrics.listener('clear').stats().cxClosed.flood, 1);

  // The same client against a proxy with the policy off: 30 PINGs, no GOAWAY.
  const off = await setup(t, '{ pingIntervalMs: 0, minPingIntervalWithoutDataMs: 0 }');
  const calm = connect(off);
  t.after(() => calm.session.destroy());
  await once(calm.session, 'connect');
  let acked = 0;
  for (let i = 0; i < 30; i++) {
    await new Promise<void>((resolve) => calm.session.ping((err) => {
      if (err === null) acked += 1;
      resolve();
    }));
    await sleep(10);
  }
  assert.equal(acked, 30, 'every PING answered');
  assert.equal(calm.session.closed, false);
  assert.equal(off.proxy.metrics.listener('clear').stats().cxClosed.flood, 0);
});

test('drain: GOAWAY at once, the stream in flight completes, the drain ends', { timeout: 30_000 }, async (t) => {
  const h2 = await setup(t, '{ pingIntervalMs: 0 }');
  const { session, goaway } = connect(h2);
  t.after(() => session.destroy());
  await get(session, '/small');
  const inFlight = get(session, '/slow'); // answered after 600 ms
  await sleep(100);
  const drainFrom = performance.now();
  const drained = h2.proxy.drain({ timeoutMs: 5_000 });
  const g = await within(goaway, 2_000, 'drain GOAWAY');
  assert.equal(g.code, http2.constants.NGHTTP2_NO_ERROR);
  assert.ok(g.atMs - drainFrom < 300, `GOAWAY ${(g.atMs - drainFrom).toFixed(0)} ms after the drain began`);
  assert.equal(g.lastStreamId, 2 ** 31 - 1, 'the first of two GOAWAYs: a stream the client is opening now is still served');
  assert.deepEqual(await within(inFlight, 5_000, 'in-flight stream'), { status: 200, body: 'slow' }, 'the stream in flight completed');
  await within(drained, 1_000, 'drain (5 s allowed) once the last stream is done');
  const closed = h2.proxy.metrics.listener('clear').stats().cxClosed;
  assert.equal(closed.drain, 1, JSON.stringify(closed));
});
