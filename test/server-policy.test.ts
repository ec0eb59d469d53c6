import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { keepAlive } from '../src/http/server/index.js';
import { InvalidOptionError } from '../src/core/errors.js';
import { getTcpKeepAlive } from '../src/transport/tcp-keepalive.js';
import { CountingClock, sleep } from './helpers/counting-clock.js';
import { openHandles, startServer } from './helpers/server-harness.js';
import { RawClient } from './helpers/server-raw-client.js';
import type { RawResponse } from './helpers/server-raw-client.js';
import { makeTestCert } from './helpers/tls-certs.js';

const run = promisify(execFile);

test('reuse within the idle timeout, a new connection after it; the hint is shorter than the close', async () => {
  const h = await startServer({ idleTimeoutMs: 1_500, hintMarginMs: 500, maxRequestsPerConnection: 100 });
  const c = new RawClient(h.port);
  const r1 = await c.get();
  const r2 = await c.get();
  const idleFrom = performance.now();
  assert.equal(r1.headers['x-connection-id'], r2.headers['x-connection-id'], 'second request reuses the connection');
  assert.equal(r1.headers['keep-alive'], 'timeout=1, max=99');
  assert.equal(r2.headers['keep-alive'], 'timeout=1, max=98');
  assert.equal(r1.headers['connection'], 'keep-alive');
  await sleep(1_000); // past the hint, before the close: still open (the client was told to leave)
  assert.equal(c.isClosed, false);
  const { at } = await c.closed;
  const idleFor = at - idleFrom;
  assert.ok(idleFor >= 1_480 && idleFor < 1_800, `closed after ${idleFor.toFixed(0)} ms idle (idleTimeoutMs 1500)`);
  const c2 = new RawClient(h.port);
  const r3 = await c2.get();
  assert.notEqual(r3.headers['x-connection-id'], r1.headers['x-connection-id'], 'a new connection after the idle close');
  assert.equal(h.policy.stats().closes.idle_timeout, 1);
  c2.destroy();
  await h.close();
});

test('the idle close happens at idleTimeoutMs after the response, not earlier, and never mid-request', async () => {
  const h = await startServer({ idleTimeoutMs: 600, headersTimeoutMs: 5_000, requestTimeoutMs: 10_000 });
  const c = new RawClient(h.port);
  const slow = await c.get('/?delay=1000'); // the handler takes longer than the idle timeout
  assert.equal(slow.status, 200);
  const done = performance.now();
  const again = await c.get('/?delay=900'); // request in flight across another idle period
  assert.equal(again.headers['x-connection-id'], slow.headers['x-connection-id'], 'not closed while a request was in flight');
  const afterSecond = performance.now();
  const { at, error } = await c.closed;
  assert.equal(error, undefined);
  const idleFor = at - afterSecond;
  assert.ok(idleFor >= 580 && idleFor < 900, `closed ${idleFor.toFixed(0)} ms after the response (idle 600)`);
  assert.ok(afterSecond - done >= 900);
  await sleep(20);
  const s = h.policy.stats();
  assert.equal(s.closes.idle_timeout, 1);
  assert.deepEqual(s.requestsPerConnection.total, 1);
  await h.close();
});

test('maxRequestsPerConnection: the last response says Connection: close, then a new connection', async () => {
  const h = await startServer({ maxRequestsPerConnection: 3 });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const ids: string[] = [];
  const conn: string[] = [];
  for (let i = 0; i < 7; i++) {
    const res = await fetchVia(agent, `${h.url}/`);
    ids.push(res.headers['x-connection-id'] as string);
    conn.push(res.headers.connection ?? '');
  }
  assert.deepEqual(conn, ['keep-alive', 'keep-alive', 'close', 'keep-alive', 'keep-alive', 'close', 'keep-alive']);
  assert.equal(new Set(ids.slice(0, 3)).size, 1);
  assert.equal(new Set(ids.slice(3, 6)).size, 1);
  assert.notEqual(ids[2], ids[3]);
  assert.notEqual(ids[5], ids[6]);
  agent.destroy();
  await sleep(50);
  assert.equal(h.policy.stats().closes.max_requests, 2);
  await h.close();
});

test('by default there is no request limit: 1,200 requests on one connection, a hint without max=', async () => {
  const h = await startServer();
  const c = new RawClient(h.port);
  const ids = new Set<string | undefined>();
  let last: RawResponse | undefined;
  for (let i = 0; i < 1_200; i++) {
    last = await c.get();
    ids.add(last.headers['x-connection-id']);
  }
  assert.equal(ids.size, 1, 'every request on the first connection (nginx would have closed it at 1,000)');
  assert.equal(last?.headers.connection, 'keep-alive');
  assert.equal(last?.headers['keep-alive'], 'timeout=70');
  assert.equal(c.isClosed, false);
  assert.equal(h.policy.stats().closes.max_requests, 0);
  c.destroy();
  await h.close();
});

test("the hint gives way to the application's own Keep-Alive header; a closing response carries none", async () => {
  const h = await startServer({ idleTimeoutMs: 10_000, hintMarginMs: 2_000, maxRequestsPerConnection: 2 }, (req, res, id) => {
    if (req.url === '/own') res.setHeader('Keep-Alive', 'timeout=3');
    res.setHeader('x-connection-id', String(id));
    res.end('ok');
  });
  const c = new RawClient(h.port);
  const own = await c.get('/own');
  assert.equal(own.headers['keep-alive'], 'timeout=3', "the application's header, not the policy's");
  assert.equal(own.headers.connection, 'keep-alive');
  const last = await c.get('/');
  assert.equal(last.headers.connection, 'close', 'the second of maxRequestsPerConnection 2');
  assert.equal(last.headers['keep-alive'], undefined);
  const c2 = new RawClient(h.port);
  const hinted = await c2.get('/');
  assert.equal(hinted.headers['keep-alive'], 'timeout=8, max=1', 'floor((10000 - 2000) / 1000) s, one request left');
  const c3 = new RawClient(h.port);
  const asked = await c3.get('/', 'Connection: close\r\n');
  assert.equal(asked.headers.connection, 'close');
  assert.equal(asked.headers['keep-alive'], undefined);
  for (const x of [c, c2, c3]) x.destroy();
  await h.close();
});

test('a response sent before its body has arrived: the connection waits for the body, then serves the next request', async (t) => {
  const h = await startServer({ idleTimeoutMs: 10_000 }, (req, res, id) => {
    res.setHeader('x-connection-id', String(id));
    res.end('early'); // answered without reading the body; Node dumps what still comes
  });
  const c = new RawClient(h.port);
  t.after(async () => {
    c.destroy();
    await h.close();
  });
  c.write('POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nhello');
  const first = await c.read();
  assert.equal(first.body, 'early');
  await sleep(100);
  assert.equal(h.policy.stats().active, 1, 'not idle while its body is still arriving');
  assert.equal(h.policy.stats().idle, 0);
  c.write('world');
  await sleep(100);
  assert.equal(h.policy.stats().idle, 1, 'idle once the body is in');
  const second = await c.get('/');
  assert.equal(second.headers['x-connection-id'], first.headers['x-connection-id'], 'the same connection');
  await sleep(50);
  const s = h.policy.stats();
  assert.equal(s.idle, 1);
  assert.equal(s.active, 0);
  assert.equal(s.requests, 2);
});

test('maxConnectionAgeMs: the first request after the age gets Connection: close; in flight is not cut', async () => {
  const h = await startServer({ maxConnectionAgeMs: 400 });
  const c = new RawClient(h.port);
  const a = await c.get();
  assert.equal(a.headers.connection, 'keep-alive');
  const b = await c.get('/?delay=600'); // arrives before the age, finishes after it: not cut
  assert.equal(b.status, 200);
  assert.equal(b.headers.connection, 'keep-alive');
  const last = await c.get();
  assert.equal(last.headers.connection, 'close');
  assert.equal(last.headers['x-connection-id'], a.headers['x-connection-id']);
  const { error } = await c.closed;
  assert.equal(error, undefined);
  assert.equal(h.policy.stats().closes.max_age, 1);
  await h.close();
});

test('maxConnections: a newcomer evicts the least recently used idle connection, never a busy one', async () => {
  const h = await startServer({ maxConnections: 3 });
  const [a, b, c] = [new RawClient(h.port), new RawClient(h.port), new RawClient(h.port)];
  await a.get();
  await sleep(20);
  await b.get();
  await sleep(20);
  await c.get(); // idle order now: a (LRU), b, c
  const busy = a.get('/?delay=500'); // a becomes busy: b is now the least recently used idle one
  await sleep(50);
  const d = new RawClient(h.port);
  const rd = await d.get();
  assert.equal(rd.status, 200, 'the newcomer is served');
  await b.closed;
  assert.equal(b.isClosed, true, 'b (LRU idle) was evicted');
  assert.equal(c.isClosed, false);
  assert.equal((await busy).status, 200, 'the busy connection was not evicted');
  assert.equal(h.policy.stats().closes.evicted, 1);

  // Nothing idle: a, c, d busy -> the newcomer gets 503 + Connection: close.
  const inflight = [a.get('/?delay=400'), c.get('/?delay=400'), d.get('/?delay=400')];
  await sleep(50);
  const e = new RawClient(h.port);
  const re = await e.get();
  assert.equal(re.status, 503);
  assert.equal(re.headers.connection, 'close');
  assert.equal((await e.closed).error, undefined, 'the 503 is followed by a clean close, not a reset');
  for (const r of await Promise.all(inflight)) assert.equal(r.status, 200);
  const s = h.policy.stats();
  assert.equal(s.closes.rejected, 1);
  assert.equal(s.open, 3);
  for (const x of [a, c, d]) x.destroy();
  await h.close();
});

test("maxConnections with whenFull 'pause': the newcomer waits, then takes the first connection to free", async () => {
  const h = await startServer({ maxConnections: 2, whenFull: 'pause' });
  const [a, b] = [new RawClient(h.port), new RawClient(h.port)];
  const inflight = [a.get('/?delay=300'), b.get('/?delay=600')];
  await sleep(50);
  const t0 = performance.now();
  const n = new RawClient(h.port);
  const rn = await n.get();
  const waited = performance.now() - t0;
  assert.equal(rn.status, 200);
  assert.ok(waited >= 200 && waited < 550, `held ${waited.toFixed(0)} ms, until a's response ended`);
  await a.closed; // a went idle and was evicted for the newcomer
  for (const r of await Promise.all(inflight)) assert.equal(r.status, 200);
  assert.equal(h.policy.stats().closes.evicted, 1);
  for (const x of [b, n]) x.destroy();
  await h.close();
});

test('requestTimeoutMs: a body that never completes gets 408; headersTimeoutMs on a reused connection', async () => {
  const h = await startServer({ headersTimeoutMs: 400, requestTimeoutMs: 800 });
  const slowBody = new RawClient(h.port);
  const t0 = performance.now();
  slowBody.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc');
  const r = await slowBody.read();
  const took = performance.now() - t0;
  assert.equal(r.status, 408);
  assert.ok(took >= 780 && took < 1_100, `408 after ${took.toFixed(0)} ms (requestTimeoutMs 800)`);
  assert.equal((await slowBody.closed).error, undefined);

  const reused = new RawClient(h.port);
  assert.equal((await reused.get()).status, 200);
  await sleep(200);
  const t1 = performance.now();
  reused.write('GET / HTTP/1.1\r\nHost: x\r\n'); // headers never finished
  const r2 = await reused.read();
  const took2 = performance.now() - t1;
  assert.equal(r2.status, 408);
  // checkMs is 400/8 = 50: the request gets between 350 and 400 ms (plus a tick).
  assert.ok(took2 >= 330 && took2 < 600, `408 after ${took2.toFixed(0)} ms on a reused connection (headersTimeoutMs 400)`);
  await sleep(20);
  const s = h.policy.stats();
  assert.equal(s.closes.request_timeout, 1);
  assert.equal(s.closes.headers_timeout, 1);
  await h.close();
});

test('https.Server: the same policy (reuse, hint, slow headers 408, idle close)', async () => {
  const { key, cert } = makeTestCert({ keyType: 'ec' });
  const server = https.createServer({ key, cert });
  const policy = keepAlive(server, { idleTimeoutMs: 2_500, hintMarginMs: 500, headersTimeoutMs: 400, requestTimeoutMs: 1_000 });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.setHeader('x-connection-id', String(policy.connectionId(req)));
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: cert });
  const get = (): Promise<http.IncomingMessage> =>
    new Promise((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port, path: '/', agent, servername: 'localhost' }, (res) => {
          res.resume();
          res.on('end', () => resolve(res));
        })
        .on('error', reject);
    });
  const a = await get();
  const b = await get();
  assert.equal(a.headers['x-connection-id'], b.headers['x-connection-id']);
  assert.equal(a.headers['keep-alive'], 'timeout=2'); // Node's agent refuses reuse on timeout=1; no max= without a request limit
  const slow = tls.connect({ host: '127.0.0.1', port, ca: cert, servername: 'localhost' });
  await new Promise((resolve) => slow.once('secureConnect', resolve));
  slow.write('GET / HTTP/1.1\r\n');
  const answer = await new Promise<string>((resolve) => slow.once('data', (d: Buffer) => resolve(d.toString('latin1'))));
  assert.match(answer, /^HTTP\/1\.1 408/);
  slow.destroy();
  await sleep(2_800);
  const s = policy.stats();
  assert.equal(s.closes.headers_timeout, 1);
  assert.equal(s.closes.idle_timeout, 1, 'the agent socket was closed idle (Node\'s agent without its own timeout keeps it past the hint)');
  agent.destroy();
  policy.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('curl -v url url reuses the connection', async () => {
  const h = await startServer();
  const { stderr, stdout } = await run('curl', ['-sv', '-D', '-', `${h.url}/a`, `${h.url}/b`]);
  assert.match(stderr, /Re-using existing connection/i);
  const ids = [...stdout.matchAll(/x-connection-id: (\d+)/gi)].map((m) => m[1]);
  assert.equal(ids.length, 2);
  assert.equal(ids[0], ids[1]);
  assert.match(stdout, /keep-alive: timeout=70\r?\n/i, 'the default hint: 75 s idle minus the 5 s margin, no max= (no request limit by default)');
  await h.close();
});

test('bad input: malformed request 400, oversized headers 431, both closed; others still served', async () => {
  const h = await startServer();
  const good = new RawClient(h.port);
  await good.get();
  const bad = new RawClient(h.port);
  bad.write('GARBAGE\r\n\r\n');
  const r400 = await bad.read();
  assert.equal(r400.status, 400);
  await bad.closed;
  const big = new RawClient(h.port);
  big.write(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  const r431 = await big.read();
  assert.equal(r431.status, 431);
  await big.closed;
  const after = await good.get();
  assert.equal(after.status, 200);
  const fresh = new RawClient(h.port);
  assert.equal((await fresh.get()).status, 200);
  assert.equal(h.policy.stats().closes.error, 2);
  good.destroy();
  fresh.destroy();
  await h.close();
});

test('invalid options throw a TypeError naming the option', () => {
  const server = http.createServer();
  const cases: [Record<string, unknown>, string][] = [
    [{ idleTimeoutMs: -1 }, 'keepAlive.idleTimeoutMs'],
    [{ idleTimeoutMs: 1.5 }, 'keepAlive.idleTimeoutMs'],
    [{ idleTimout: 5 }, 'keepAlive.idleTimout'],
    [{ idleTimeoutMs: 2_000, hintMarginMs: 2_000 }, 'keepAlive.hintMarginMs'],
    [{ headersTimeoutMs: 10_000, requestTimeoutMs: 5_000 }, 'keepAlive.headersTimeoutMs'],
    [{ maxConnections: '10' }, 'keepAlive.maxConnections'],
    [{ whenFull: 'queue' }, 'keepAlive.whenFull'],
    [{ maxRequestsPerConnection: -2 }, 'keepAlive.maxRequestsPerConnection'],
  ];
  for (const [options, name] of cases) {
    assert.throws(
      () => keepAlive(server, options),
      (err: unknown) => err instanceof TypeError && err instanceof InvalidOptionError && err.option === name && err.message.includes(name),
      JSON.stringify(options),
    );
  }
  assert.throws(() => keepAlive({} as http.Server), (err: unknown) => err instanceof TypeError && (err as InvalidOptionError).option === 'server');
  const policy = keepAlive(server);
  assert.throws(() => void policy.drain({ timeoutMs: 100, spreadMs: 200 }), (err: unknown) => err instanceof TypeError && (err as InvalidOptionError).option === 'drain.spreadMs');
  policy.close();
  assert.equal(server.keepAliveTimeout, 5_000, 'close() restores Node settings');
});

test("Node's own timers are switched off while attached and restored by close()", () => {
  const server = http.createServer();
  const policy = keepAlive(server);
  assert.deepEqual([server.keepAliveTimeout, server.headersTimeout, server.requestTimeout, server.maxRequestsPerSocket], [0, 0, 0, 0]);
  policy.close();
  assert.deepEqual([server.keepAliveTimeout, server.headersTimeout, server.requestTimeout], [5_000, 60_000, 300_000]);
});

test('nothing is left open after close: no socket, server or timer', async () => {
  await sleep(300); // let earlier tests' sockets finish closing
  const before = openHandles().length;
  const clock = new CountingClock();
  const h = await startServer({ clock, idleTimeoutMs: 5_000 });
  const c = new RawClient(h.port);
  await c.get();
  assert.ok(clock.outstanding > 0, 'the wheel ticks while connections exist');
  c.destroy();
  await c.closed;
  await h.close();
  await sleep(30);
  assert.equal(clock.outstanding, 0, 'no timer left');
  assert.ok(openHandles().length <= before, `handles before ${before}, after: ${openHandles().join(', ')}`);
});

function fetchVia(agent: http.Agent, url: string): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res));
      })
      .on('error', reject);
  });
}

test('tcpKeepAlive: every accepted socket gets the options (read back with getsockopt), http, https and http2; close() stops it', async () => {
  const tcpKeepAlive = { idleMs: 2_000, intervalMs: 1_000, count: 4, userTimeoutMs: 9_000 };
  const want = { enable: true, idleMs: 2_000, intervalMs: 1_000, count: 4, userTimeoutMs: 9_000 };
  const h = await startServer({ tcpKeepAlive });
  const accepted: Socket[] = [];
  h.server.on('connection', (s: Socket) => accepted.push(s));
  const c = new RawClient(h.port);
  await c.get();
  assert.equal(accepted.length, 1);
  assert.deepEqual(getTcpKeepAlive(accepted[0] as Socket), want);
  h.policy.close(); // detached: the next connection keeps the kernel's default (off)
  const c2 = new RawClient(h.port);
  await c2.get();
  assert.equal(accepted.length, 2);
  assert.equal(getTcpKeepAlive(accepted[1] as Socket)?.enable, false);
  c.destroy();
  c2.destroy();
  await h.close();

  // https: set on the TCP socket before the handshake.
  const { key, cert } = makeTestCert();
  const tlsServer = https.createServer({ key, cert }, (_req, res) => res.end('ok'));
  const tlsPolicy = keepAlive(tlsServer, { tcpKeepAlive });
  const tlsAccepted: Socket[] = [];
  tlsServer.on('connection', (s: Socket) => tlsAccepted.push(s));
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  const tlsAgent = new https.Agent({ keepAlive: true, ca: cert });
  await new Promise<void>((resolve, reject) =>
    https.get({ host: '127.0.0.1', port: (tlsServer.address() as AddressInfo).port, agent: tlsAgent, servername: 'localhost' }, (res) => res.resume().on('end', resolve)).on('error', reject),
  );
  assert.deepEqual(getTcpKeepAlive(tlsAccepted[0] as Socket), want);
  tlsAgent.destroy();
  tlsPolicy.close();
  tlsServer.closeAllConnections();
  await new Promise<void>((resolve) => tlsServer.close(() => resolve()));

  // http2
  const h2 = http2.createServer();
  h2.on('stream', (stream) => {
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  const h2Policy = keepAlive(h2, { tcpKeepAlive, pingIntervalMs: 0 });
  const h2Accepted: Socket[] = [];
  h2.on('connection', (s: Socket) => h2Accepted.push(s));
  await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
  const client = http2.connect(`http://127.0.0.1:${(h2.address() as AddressInfo).port}`);
  await new Promise<void>((resolve) => client.request({ ':path': '/' }).resume().on('end', resolve));
  assert.deepEqual(getTcpKeepAlive(h2Accepted[0] as Socket), want);
  client.close();
  h2Policy.close();
  await new Promise<void>((resolve) => h2.close(() => resolve()));

  assert.throws(() => keepAlive(http.createServer(), { tcpKeepAlive: { idleMs: 0, intervalMs: 1_000, count: 3 } }), {
    name: 'InvalidOptionError',
    option: 'keepAlive.tcpKeepAlive.idleMs',
  });
  assert.throws(() => keepAlive(http2.createServer(), { tcpKeepAlive: { idleMs: 1_000, intervalMs: 1_000 } as never }), {
    name: 'InvalidOptionError',
    option: 'keepAlive.tcpKeepAlive.count',
  });
});
