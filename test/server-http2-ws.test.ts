import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { heartbeat, keepAlive } from '../src/http/server/index.js';
import type { Http2KeepAliveOptions } from '../src/http/server/index.js';
import { CountingClock, sleep } from './helpers/counting-clock.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head.writeUInt8(type, 3);
  head.writeUInt8(flags, 4);
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/** A raw h2c client that never acknowledges anything: it records the frames it receives. */
function rawH2(port: number): { socket: net.Socket; frames: { type: number; flags: number; payload: Buffer }[]; closed: Promise<number> } {
  const socket = net.connect(port, '127.0.0.1');
  const frames: { type: number; flags: number; payload: Buffer }[] = [];
  let buf = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3);
      if (buf.length < 9 + len) break;
      frames.push({ type: buf.readUInt8(3), flags: buf.readUInt8(4), payload: buf.subarray(9, 9 + len) });
      buf = buf.subarray(9 + len);
    }
  });
  socket.on('error', () => undefined);
  socket.write(Buffer.concat([PREFACE, frame(4, 0, 0, Buffer.alloc(0))]));
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
  return { socket, frames, closed };
}

async function h2Server(options: Http2KeepAliveOptions) {
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  const policy = keepAlive(server, options);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { server, policy, port };
}

test('HTTP/2: a client that stops answering PINGs is closed after pingIntervalMs + pingTimeoutMs; one that answers stays', async () => {
  const { server, policy, port } = await h2Server({ pingIntervalMs: 300, pingTimeoutMs: 200 });
  const good = http2.connect(`http://127.0.0.1:${port}`);
  await new Promise<void>((resolve) => good.once('connect', () => resolve()));
  const t0 = performance.now();
  const silent = rawH2(port);
  const closedAt = await silent.closed;
  const after = closedAt - t0;
  assert.ok(silent.frames.some((f) => f.type === 6 && (f.flags & 1) === 0), 'the server sent a PING');
  assert.ok(after >= 480 && after < 900, `closed ${after.toFixed(0)} ms after connecting (300 + 200)`);
  await sleep(700);
  assert.equal(good.closed, false, 'a client that answers PINGs is kept');
  const s = policy.stats();
  assert.equal(s.closes.heartbeat_timeout, 1);
  assert.ok(s.pingsSent >= 3, `pings sent: ${s.pingsSent}`);
  good.close();
  policy.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('HTTP/2: a PING flood is answered with GOAWAY ENHANCE_YOUR_CALM (too_many_pings)', async () => {
  const { server, policy, port } = await h2Server({ maxPingsPerMinute: 10, pingIntervalMs: 0 });
  const flood = rawH2(port);
  await sleep(50);
  for (let i = 0; i < 50; i++) flood.socket.write(frame(6, 0, 0, Buffer.alloc(8, i)));
  await flood.closed;
  const goaway = flood.frames.find((f) => f.type === 7);
  assert.ok(goaway !== undefined, 'GOAWAY received');
  assert.equal(goaway.payload.readUInt32BE(4), http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  assert.equal(goaway.payload.subarray(8).toString(), 'too_many_pings');
  const acks = flood.frames.filter((f) => f.type === 6 && (f.flags & 1) === 1).length;
  assert.ok(acks <= 11, `at most the allowed pings were answered before GOAWAY: ${acks}`);
  assert.equal(policy.stats().closes.flood, 1);
  policy.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('HTTP/2: an idle session is closed with GOAWAY (NO_ERROR) after idleTimeoutMs, never with a stream open', async () => {
  const { server, policy, port } = await h2Server({ idleTimeoutMs: 400, pingIntervalMs: 0 });
  const client = http2.connect(`http://127.0.0.1:${port}`);
  const goaway = new Promise<number>((resolve) => client.once('goaway', (code: number) => resolve(code)));
  const closed = new Promise<number>((resolve) => client.once('close', () => resolve(performance.now())));
  const get = (): Promise<void> =>
    new Promise((resolve) => {
      const req = client.request({ ':path': '/' });
      req.resume();
      req.on('end', () => resolve());
    });
  await get();
  await sleep(250);
  await get(); // within the idle timeout: the same session serves it
  const done = performance.now();
  assert.equal(await goaway, http2.constants.NGHTTP2_NO_ERROR);
  const idle = (await closed) - done;
  assert.ok(idle >= 380 && idle < 800, `closed ${idle.toFixed(0)} ms after the last stream`);
  const s = policy.stats();
  assert.equal(s.closes.idle_timeout, 1);
  assert.equal(s.streams, 2);
  policy.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('HTTP/2: a session past maxConnectionAgeMs (jittered down to 90%) gets GOAWAY (NO_ERROR); its open stream finishes', async () => {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const answer = (): void => {
      stream.respond({ ':status': 200 });
      stream.end('ok');
    };
    if (headers[':path'] === '/slow') setTimeout(answer, 1_300);
    else answer();
  });
  // random() = 0: the lowest draw, 90% of 1,000 ms.
  const policy = keepAlive(server, { maxConnectionAgeMs: 1_000, random: () => 0, idleTimeoutMs: 0, pingIntervalMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = http2.connect(url);
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  const t0 = performance.now();
  const goaway = new Promise<{ code: number; at: number }>((resolve) => client.once('goaway', (code: number) => resolve({ code, at: performance.now() })));
  const closed = new Promise<number>((resolve) => client.once('close', () => resolve(performance.now())));
  const slow = new Promise<{ status: number | undefined; body: string; at: number }>((resolve, reject) => {
    const req = client.request({ ':path': '/slow' });
    let status: number | undefined;
    let body = '';
    req.on('response', (h) => (status = h[':status']));
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => resolve({ status, body, at: performance.now() }));
    req.on('error', reject);
  });
  const g = await Promise.race([goaway, sleep(3_000).then(() => assert.fail('no GOAWAY within 3 s of connecting (maxConnectionAgeMs 1000)'))]);
  const goawayAfter = g.at - t0;
  assert.equal(g.code, http2.constants.NGHTTP2_NO_ERROR);
  assert.ok(goawayAfter >= 880 && goawayAfter < 980, `GOAWAY ${goawayAfter.toFixed(0)} ms after connecting (90% of 1000)`);
  const r = await slow;
  assert.equal(r.status, 200, 'the stream open at the GOAWAY finished');
  assert.equal(r.body, 'ok');
  assert.ok(r.at - t0 >= 1_280, 'it was answered when the handler answered, not cut');
  await closed;
  await sleep(20);
  assert.equal(policy.stats().closes.max_age, 1);
  assert.equal(policy.stats().open, 0);
  // A new connection serves the next request.
  const again = http2.connect(url);
  const status = await new Promise<number | undefined>((resolve) => {
    const req = again.request({ ':path': '/' });
    req.on('response', (h) => resolve(h[':status']));
    req.resume();
  });
  assert.equal(status, 200);
  again.close();
  assert.throws(() => keepAlive(http2.createServer(), { maxConnectionAgeMs: -1 }), { name: 'InvalidOptionError', option: 'keepAlive.maxConnectionAgeMs' });
  assert.throws(() => keepAlive(http2.createServer(), { maxConnectionAgeMs: 2 ** 30 }), { name: 'InvalidOptionError', option: 'keepAlive.maxConnectionAgeMs' });
  assert.throws(() => keepAlive(http2.createServer(), { random: 0.5 as unknown as () => number }), { name: 'InvalidOptionError', option: 'keepAlive.random' });
  policy.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('WebSocket: a peer that stops answering pings is terminated within intervalMs + timeoutMs; the HTTP policy lets the upgrade go', async () => {
  const clock = new CountingClock();
  const server = http.createServer((_req, res) => res.end('ok'));
  const policy = keepAlive(server, { headersTimeoutMs: 300, requestTimeoutMs: 300 });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(m)));
  const hb = heartbeat(wss, { intervalMs: 300, timeoutMs: 200, clock });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const good = new WebSocket(url);
  const mute = new WebSocket(url, { autoPong: false });
  await Promise.all([good, mute].map((ws) => new Promise((resolve) => ws.once('open', resolve))));
  const t0 = performance.now();
  const muteClosed = await new Promise<number>((resolve) => mute.once('close', () => resolve(performance.now())));
  const after = muteClosed - t0;
  assert.ok(after < 300 + 200 + 150, `terminated ${after.toFixed(0)} ms after its last traffic (bound 500)`);
  await sleep(600);
  assert.equal(good.readyState, WebSocket.OPEN, 'a peer that answers stays open (past the HTTP headers timeout, too)');
  const echoed = new Promise<string>((resolve) => good.once('message', (m: Buffer) => resolve(m.toString())));
  good.send('hi');
  assert.equal(await echoed, 'hi');
  assert.deepEqual({ ...hb.stats(), pingsSent: 0 }, { open: 1, pingsSent: 0, terminated: 1 });
  assert.equal(policy.stats().closes.upgrade, 2, 'both upgraded sockets left the HTTP policy');
  assert.equal(policy.stats().closes.headers_timeout, 0);
  good.close();
  await new Promise((resolve) => good.once('close', resolve));
  hb.close();
  assert.equal(clock.outstanding, 0, 'heartbeat close() leaves no timer');
  policy.close();
  wss.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
