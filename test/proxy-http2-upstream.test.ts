/**
 * HTTP/2 to the backends (`protocol: http2`), against real `node:http2` backends (h2c and TLS):
 * - Multiplexing: 200 requests from 50 concurrent HTTP/1.1 clients open one connection while
 *   the backend allows 100 streams; with the backend at 5 streams, 20 requests at once open at
 *   most 4 connections; sequential requests open none after the first.
 * - GOAWAY: a backend that answers a stream with GOAWAY(last-stream-id below it) gets the POST
 *   again on a new connection (RFC 9113 6.8: not processed), with its body intact, and the
 *   client sees one 200.
 * - Trailers: an HTTP/2 client gets the backend's trailers as trailers; an HTTP/1.1 client gets
 *   them in the last chunk.
 * - PING before reuse, and a backend that stops answering PINGs (SIGSTOP) found within
 *   pingIntervalMs + pingTimeoutMs.
 * - A failed connect says why in its message (ALPN refused, connection refused), not only in errno.
 * - A backend that accepts TCP and never sends SETTINGS: its connection closes at connectTimeoutMs
 *   (handshake_timeout), and its streams and the callers waiting beyond them are answered then.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as tlsServer } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProxy, request, sleep, waitUntil } from './helpers/proxy-harness.js';
import { makeTestCert } from './helpers/tls-certs.js';
import type { Proxy } from '../src/proxy/proxy.js';
import { UpstreamConnectError } from '../src/proxy/engine/upstream-dial.js';

interface H2Backend {
  port: number;
  sessions: number;
  streams: number;
  maxInFlight: number;
  /** Sessions still open on the backend's side. */
  openSessions(): number;
  close(): Promise<void>;
}

/** An h2c (or TLS) backend: `/echo` returns the body, `/trailers` ends with trailers, `/wait?ms=N` waits. */
async function h2Backend(options: { maxConcurrentStreams?: number; tls?: { key: Buffer; cert: Buffer } } = {}): Promise<H2Backend> {
  const settings = { maxConcurrentStreams: options.maxConcurrentStreams ?? 100 };
  const server = options.tls === undefined ? http2.createServer({ settings }) : http2.createSecureServer({ settings, key: options.tls.key, cert: options.tls.cert });
  const state = { port: 0, sessions: 0, streams: 0, maxInFlight: 0 };
  let inFlight = 0;
  const open = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    state.sessions += 1;
    open.add(session);
    session.on('close', () => open.delete(session));
  });
  server.on('stream', (stream, headers) => {
    state.streams += 1;
    inFlight += 1;
    state.maxInFlight = Math.max(state.maxInFlight, inFlight);
    stream.on('close', () => (inFlight -= 1));
    const chunks: Buffer[] = [];
    let requestTrailer = '';
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('trailers', (t: http2.IncomingHttpHeaders) => (requestTrailer = String(t['x-sum'] ?? '')));
    stream.on('end', () => {
      if (stream.destroyed || stream.closed) return;
      const path = String(headers[':path']);
      const body = Buffer.concat(chunks);
      if (path === '/trailers') {
        stream.respond({ ':status': 200, 'content-type': 'text/plain' }, { waitForTrailers: true });
        stream.once('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'abc123', 'grpc-status': '0' }));
        stream.end('with trailers');
        return;
      }
      const wait = /^\/wait\?ms=(\d+)$/.exec(path);
      const answer = (): void => {
        if (stream.destroyed || stream.closed) return;
        stream.respond({ ':status': 200, 'x-request-trailer': requestTrailer, 'x-method': String(headers[':method']), 'x-te': String(headers.te ?? ''), 'x-forwarded-for': String(headers['x-forwarded-for'] ?? '') });
        stream.end(path === '/echo' ? body : 'ok');
      };
      if (wait !== null) setTimeout(answer, Number(wait[1])).unref();
      else answer();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.port = (server.address() as AddressInfo).port;
  return Object.assign(state, {
    openSessions: () => open.size,
    close: async () => {
      for (const s of open) s.destroy();
      server.close();
      await once(server, 'close');
    },
  });
}

function config(port: number, extra = '', tls = ''): string {
  return `listeners:
  - name: main
    address: 127.0.0.1:0
    routes:
      - cluster: app
clusters:
  app:
    protocol: http2
    endpoints:
      - address: 127.0.0.1:${port}
${tls}${extra}accessLog: { target: off }
`;
}

interface EndpointView {
  cxOpened: number;
  cxConnectFail: number;
  cxClosed: Record<string, number>;
  rqTotal: number;
  rqReused: number;
  h2PingsSent: number;
  h2PingTimeouts: number;
  h2GoawayReceived: number;
  h2StreamsRefused: number;
}

function endpointStats(proxy: Proxy, port: number): EndpointView {
  const json = proxy.metrics.json() as unknown as { upstream: Record<string, { endpoints: Record<string, EndpointView> }> };
  const e = json.upstream['app']?.endpoints[`127.0.0.1:${port}`];
  assert.ok(e !== undefined, 'endpoint stats');
  return e;
}

test('one multiplexed connection carries 200 requests from 50 concurrent clients; sequential requests reuse it', { timeout: 30_000 }, async (t) => {
  const backend = await h2Backend();
  t.after(() => backend.close());
  const proxy = await startProxy(config(backend.port));
  t.after(() => proxy.close());
  const port = proxy.port();
  const first = await request(port, { path: '/echo', method: 'POST', body: 'hello' });
  assert.equal(first.status, 200);
  assert.equal(first.body, 'hello');
  assert.equal(first.headers['x-method'], 'POST');
  assert.match(String(first.headers['x-forwarded-for']), /127\.0\.0\.1/);
  let next = 0;
  const statuses: number[] = [];
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < 200) {
        next += 1;
        statuses.push((await request(port, { path: '/wait?ms=5' })).status);
      }
    }),
  );
  assert.equal(statuses.length, 200);
  assert.ok(statuses.every((s) => s === 200), String(statuses.filter((s) => s !== 200)));
  assert.ok(backend.maxInFlight > 1, `streams were multiplexed (max in flight ${backend.maxInFlight})`);
  assert.equal(backend.sessions, 1, 'one connection for everything');
  const stats = endpointStats(proxy, backend.port);
  assert.equal(stats.cxOpened, 1);
  assert.equal(stats.rqTotal, 201);
  assert.equal(stats.rqReused, 200);
  // close() leaves nothing open: the backend sees its connection go.
  await proxy.close();
  await waitUntil(() => backend.openSessions() === 0, 2_000);
  assert.equal(backend.openSessions(), 0, 'the upstream HTTP/2 connection was closed by proxy.close()');
});

test("at the backend's SETTINGS_MAX_CONCURRENT_STREAMS another connection opens: 20 at once with 5 streams each, at most 4 connections", { timeout: 30_000 }, async (t) => {
  const backend = await h2Backend({ maxConcurrentStreams: 5 });
  t.after(() => backend.close());
  const proxy = await startProxy(config(backend.port));
  t.after(() => proxy.close());
  const port = proxy.port();
  // The first request learns the backend's limit (its SETTINGS).
  assert.equal((await request(port, { path: '/' })).status, 200);
  const replies = await Promise.all(Array.from({ length: 20 }, () => request(port, { path: '/wait?ms=300' })));
  assert.ok(replies.every((r) => r.status === 200));
  assert.ok(backend.maxInFlight <= 20);
  assert.ok(backend.sessions >= 4 && backend.sessions <= 4, `connections opened: ${backend.sessions} (20 streams / 5 per connection)`);
  const stats = endpointStats(proxy, backend.port);
  assert.equal(stats.h2StreamsRefused, 0, 'no stream went over the limit');
});

test("a cold start's burst: 120 requests at once against a backend allowing 50 streams open ceil(120 / 50) = 3 connections", { timeout: 30_000 }, async (t) => {
  const backend = await h2Backend({ maxConcurrentStreams: 50 });
  t.after(() => backend.close());
  const proxy = await startProxy(config(backend.port));
  t.after(() => proxy.close());
  const port = proxy.port();
  const replies = await Promise.all(Array.from({ length: 120 }, () => request(port, { path: '/wait?ms=300' })));
  assert.ok(replies.every((r) => r.status === 200));
  assert.equal(backend.sessions, 3, 'one connection per 50 streams in flight, none for a guessed limit');
});

/**
 * A front for `backend`: its first connection is answered by hand with SETTINGS and, once the
 * proxy's first HEADERS arrive, GOAWAY(NO_ERROR, last-stream-id 0): that stream was not
 * processed. (Node's own goaway() cannot send 0: it means "the last stream processed".) Later
 * connections are piped to the backend.
 */
async function goawayFront(backendPort: number): Promise<{ port: number; connections: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const state = { port: 0, connections: 0 };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    state.connections += 1;
    if (state.connections > 1) {
      const upstream = net.connect(backendPort, '127.0.0.1');
      upstream.on('error', () => socket.destroy());
      sockets.add(upstream);
      socket.pipe(upstream).pipe(socket);
      return;
    }
    let seen = Buffer.alloc(0);
    socket.on('data', (c: Buffer) => {
      seen = Buffer.concat([seen, c]);
      for (let at = 24; at + 9 <= seen.length; ) {
        const length = seen.readUIntBE(at, 3);
        if (seen[at + 3] === 1 /* HEADERS */) {
          const goaway = Buffer.alloc(8); // last-stream-id 0, NO_ERROR
          socket.write(Buffer.concat([frame(4, 0, 0), frame(4, 1, 0), frame(7, 0, 0, goaway)]));
          socket.removeAllListeners('data');
          socket.resume();
          return;
        }
        at += 9 + length;
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  state.port = (server.address() as AddressInfo).port;
  return Object.assign(state, {
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  });
}

function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

test('GOAWAY with last-stream-id below the stream: the POST is sent again on a new connection, body intact, one 200', { timeout: 30_000 }, async (t) => {
  const backend = await h2Backend();
  t.after(() => backend.close());
  const front = await goawayFront(backend.port);
  t.after(() => front.close());
  const proxy = await startProxy(config(front.port));
  t.after(() => proxy.close());
  const body = 'x'.repeat(10_000);
  const reply = await request(proxy.port(), { path: '/echo', method: 'POST', body });
  assert.equal(reply.status, 200);
  assert.equal(reply.body, body);
  assert.equal(reply.headers['x-method'], 'POST');
  assert.equal(front.connections, 2, 'the POST went again on a new connection');
  assert.equal(backend.streams, 1, 'the backend processed it once');
  const stats = endpointStats(proxy, front.port);
  assert.equal(stats.h2GoawayReceived, 1);
  assert.equal(stats.h2StreamsRefused, 1);
});

test('trailers: an HTTP/2 client gets them as trailers (and its request trailers reach the backend), an HTTP/1.1 client in the last chunk', { timeout: 30_000 }, async (t) => {
  const backend = await h2Backend();
  t.after(() => backend.close());
  const proxy = await startProxy(config(backend.port));
  t.after(() => proxy.close());
  const port = proxy.port();
  // HTTP/2 (prior knowledge) client.
  const client = http2.connect(`http://127.0.0.1:${port}`);
  t.after(() => client.close());
  const stream = client.request({ ':path': '/trailers', te: 'trailers' });
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const gotTrailers = once(stream, 'trailers') as Promise<[http2.IncomingHttpHeaders]>;
  const ended = once(stream, 'end');
  const [trailers] = await gotTrailers;
  await ended;
  assert.equal(Buffer.concat(chunks).toString(), 'with trailers');
  assert.equal(trailers['x-checksum'], 'abc123');
  assert.equal(trailers['grpc-status'], '0');
  // Request trailers, announced with Trailer, reach the HTTP/2 backend.
  const up = client.request({ ':method': 'POST', ':path': '/echo', trailer: 'x-sum' }, { waitForTrailers: true });
  up.once('wantTrailers', () => up.sendTrailers({ 'x-sum': '42' }));
  const upHeaders = once(up, 'response') as Promise<[http2.IncomingHttpHeaders]>;
  const echoed: Buffer[] = [];
  up.on('data', (c: Buffer) => echoed.push(c));
  const upEnded = once(up, 'end');
  up.end('payload');
  const [h] = await upHeaders;
  await upEnded;
  assert.equal(h['x-request-trailer'], '42');
  assert.equal(Buffer.concat(echoed).toString(), 'payload');
  // HTTP/1.1 client on a raw socket: chunked, trailers in the last chunk.
  const socket = net.connect(port, '127.0.0.1');
  t.after(() => socket.destroy());
  socket.write('GET /trailers HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n');
  let text = '';
  const deadline = Date.now() + 5_000;
  socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
  while (!text.endsWith('\r\n\r\n') || !text.includes('0\r\n')) {
    assert.ok(Date.now() < deadline, `no complete chunked response: ${JSON.stringify(text)}`);
    await sleep(20);
  }
  assert.match(text, /^HTTP\/1\.1 200 /);
  assert.match(text, /transfer-encoding: chunked/i);
  assert.match(text, /\r\nd\r\nwith trailers\r\n0\r\nx-checksum: abc123\r\ngrpc-status: 0\r\n\r\n$/);
});

test('HTTP/2 over TLS by ALPN; a PING before reusing a connection idle longer than pingBeforeReuseMs', { timeout: 30_000 }, async (t) => {
  const cert = makeTestCert({ keyType: 'ec' });
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-h2up-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, cert.cert);
  const backend = await h2Backend({ tls: { key: cert.key, cert: cert.cert } });
  t.after(() => backend.close());
  const tls = `    tls: { enabled: true, caFile: ${caFile}, servername: localhost }\n`;
  const proxy = await startProxy(config(backend.port, '    http2: { pingBeforeReuseMs: 200 }\n', tls));
  t.after(() => proxy.close());
  const port = proxy.port();
  assert.equal((await request(port, { path: '/' })).status, 200);
  assert.equal((await request(port, { path: '/' })).status, 200);
  assert.equal(endpointStats(proxy, backend.port).h2PingsSent, 0, 'no PING for a connection just used');
  await sleep(400);
  assert.equal((await request(port, { path: '/' })).status, 200);
  const stats = endpointStats(proxy, backend.port);
  assert.equal(stats.h2PingsSent, 1, 'one PING before reusing the silent connection');
  assert.equal(stats.cxOpened, 1, 'the answered PING kept the connection');
  assert.equal(backend.sessions, 1);
});

test('a backend that stops answering (SIGSTOP) is found by PING within pingIntervalMs + pingTimeoutMs; its stream fails over', { timeout: 30_000 }, async (t) => {
  // The backend in a child process, so it can be stopped while its kernel still ACKs.
  const child = spawn(process.execPath, ['-e', `
    const http2 = require('node:http2');
    const server = http2.createServer();
    server.on('stream', (stream, headers) => {
      if (headers[':path'] === '/hang') return; // never answered
      stream.respond({ ':status': 200 }); stream.end('ok');
    });
    server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  const backendPort = Number(line.toString().trim());
  const proxy = await startProxy(config(backendPort, '    http2: { pingIntervalMs: 400, pingTimeoutMs: 400 }\n    timeouts: { responseHeadersTimeoutMs: 20000 }\n'));
  t.after(() => proxy.close());
  const port = proxy.port();
  assert.equal((await request(port, { path: '/' })).status, 200);
  const started = Date.now();
  const hung = request(port, { path: '/hang', timeoutMs: 15_000 });
  await sleep(50);
  child.kill('SIGSTOP');
  const reply = await hung;
  const tookMs = Date.now() - started;
  // Found dead: the stream fails (a GET is tried again, on a new connection to the same stopped
  // backend, which also hangs until its own PING fails), so the client's answer is a 502.
  assert.equal(reply.status, 502);
  assert.ok(tookMs < 2 * (400 + 400) + 1_500, `found within the PING bounds (took ${tookMs} ms)`);
  await waitUntil(() => endpointStats(proxy, backendPort).h2PingTimeouts >= 1, 2_000);
});

test('a TLS backend that does not speak ALPN (so not h2): 502 with ERR_UPSTREAM_CONNECT, the log says ERR_UPSTREAM_ALPN', { timeout: 30_000 }, async (t) => {
  const cert = makeTestCert({ keyType: 'ec' });
  const dir = mkdtempSync(join(tmpdir(), 'lifeline-h2alpn-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, cert.cert);
  const logFile = join(dir, 'access.log');
  const server = tlsServer({ key: cert.key, cert: cert.cert }, (socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nh1'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const backendPort = (server.address() as AddressInfo).port;
  const yamlText = config(backendPort, '    retries: { maxAttempts: 1 }\n', `    tls: { enabled: true, caFile: ${caFile}, servername: localhost }\n`).replace('accessLog: { target: off }', `accessLog: { target: ${logFile} }`);
  const proxy = await startProxy(yamlText);
  t.after(() => proxy.close());
  const reply = await request(proxy.port(), { path: '/' });
  assert.equal(reply.status, 502);
  assert.equal(reply.headers['x-lifeline-error'], 'ERR_UPSTREAM_CONNECT');
  await waitUntil(() => readFileSync(logFile, 'utf8').includes('ERR_UPSTREAM_ALPN'), 2_000);
  const line = JSON.parse(readFileSync(logFile, 'utf8').trim().split('\n').pop() ?? '{}') as { errno?: string; errorDetail?: string };
  assert.equal(line.errno, 'ERR_UPSTREAM_ALPN');
  assert.match(line.errorDetail ?? '', /could not connect to 127.0.0.1:\d+ \(ERR_UPSTREAM_ALPN\)/);
  // The sentence, not only the errno: what failed (ALPN) and what the backend chose.
  assert.match(line.errorDetail ?? '', /could not connect to 127\.0\.0\.1:\d+ \(ERR_UPSTREAM_ALPN\): the backend did not agree to HTTP\/2 by ALPN \(it chose none\)$/);
});

test('UpstreamConnectError says why: the system\'s sentence for a refused connect, the cause\'s own message otherwise; code and errno kept', async () => {
  const refused = await new Promise<Error>((resolve) => {
    const probe = net.createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => net.connect(port, '127.0.0.1').on('error', resolve));
    });
  });
  const e = new UpstreamConnectError('127.0.0.1:9', refused, false);
  assert.equal(e.code, 'ERR_UPSTREAM_CONNECT');
  assert.equal(e.errno, 'ECONNREFUSED');
  assert.equal(e.message, 'could not connect to 127.0.0.1:9 (ECONNREFUSED): connection refused');
  assert.equal(e.cause, refused);
  const tlsFailure = Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  assert.equal(new UpstreamConnectError('b:443', tlsFailure, false).message, 'could not connect to b:443 (UNABLE_TO_VERIFY_LEAF_SIGNATURE): unable to verify the first certificate');
  const timedOut = new UpstreamConnectError('b:443', undefined, true);
  assert.equal(timedOut.code, 'ERR_UPSTREAM_CONNECT_TIMEOUT');
  assert.equal(timedOut.errno, 'ETIMEDOUT');
  assert.equal(timedOut.message, 'timed out connecting to b:443');
});

test('maxConnectionAgeMs: an upstream connection past its age takes no new stream; its open stream finishes, then it closes as max_age', { timeout: 30_000 }, async (t) => {
  const backend = await h2Backend();
  t.after(() => backend.close());
  const proxy = await startProxy(config(backend.port, '    http2: { maxConnectionAgeMs: 300 }\n'));
  t.after(() => proxy.close());
  const port = proxy.port();
  const long = request(port, { path: '/wait?ms=600' }); // open across the age limit
  await sleep(400);
  const next = await request(port, { path: '/' });
  assert.equal(next.status, 200);
  assert.equal(backend.sessions, 2, 'the new stream went on a new connection');
  assert.equal((await long).status, 200, 'the stream open on the old connection finished');
  await waitUntil(() => endpointStats(proxy, backend.port).cxClosed['max_age'] === 1, 2_000);
  assert.equal(endpointStats(proxy, backend.port).cxClosed['max_age'], 1);
});

test('close() while an upstream HTTP/2 connection is still being dialled (a TLS handshake that never answers) closes its socket', { timeout: 30_000 }, async (t) => {
  // Accepts TCP, reads and never speaks: the proxy's TLS handshake hangs in `connecting`.
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => {
    sockets.add(socket);
    socket.resume(); // reading, so the proxy's close is seen
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  t.after(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const port = (silent.address() as AddressInfo).port;
  const proxy = await startProxy(config(port, '    timeouts: { connectTimeoutMs: 20000 }\n', '    tls: { enabled: true, servername: localhost }\n'));
  const pending = request(proxy.port(), { path: '/', timeoutMs: 15_000 }).catch((error: Error) => error);
  await waitUntil(() => sockets.size === 1, 5_000);
  assert.equal(sockets.size, 1, 'the proxy is dialling');
  await proxy.close();
  await waitUntil(() => sockets.size === 0, 2_000);
  assert.equal(sockets.size, 0, 'the dialling connection was closed by proxy.close()');
  await pending;
});

test('a dial that times out, or that proxy.close() abandons, is never counted as a closed connection: cxClosed stays within cxOpened', { timeout: 30_000 }, async (t) => {
  // Accepts TCP, reads and never speaks: every TLS handshake hangs.
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => {
    sockets.add(socket);
    socket.resume();
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  t.after(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const port = (silent.address() as AddressInfo).port;
  const proxy = await startProxy(config(port, '    retries: { maxAttempts: 1 }\n    timeouts: { connectTimeoutMs: 1000 }\n', '    tls: { enabled: true, servername: localhost }\n'));
  t.after(() => proxy.close());
  const closedTotal = (v: EndpointView): number => Object.values(v.cxClosed).reduce((a, b) => a + b, 0);
  // 1. The handshake outlives connectTimeoutMs: one connect failure, no connection opened or closed.
  const reply = await request(proxy.port(), { path: '/', timeoutMs: 10_000 });
  assert.ok(reply.status >= 502 && reply.status <= 504, `status ${reply.status}`);
  await waitUntil(() => sockets.size === 0, 2_000);
  assert.equal(sockets.size, 0, 'the timed-out dial was closed');
  let stats = endpointStats(proxy, port);
  assert.equal(stats.cxConnectFail, 1);
  assert.equal(stats.cxOpened, 0);
  assert.equal(closedTotal(stats), 0, `closed without being opened: ${JSON.stringify(stats.cxClosed)}`);
  // 2. A dial under way when the proxy closes: ended, and still nothing counted as opened or closed.
  const pending = request(proxy.port(), { path: '/', timeoutMs: 10_000 }).catch((error: Error) => error);
  await waitUntil(() => sockets.size === 1, 5_000);
  assert.equal(sockets.size, 1, 'the proxy is dialling');
  await proxy.close();
  await waitUntil(() => sockets.size === 0, 2_000);
  assert.equal(sockets.size, 0, 'the dialling connection was closed by proxy.close()');
  await pending;
  stats = endpointStats(proxy, port);
  assert.equal(stats.cxOpened, 0);
  assert.equal(closedTotal(stats), 0, `closed without being opened: ${JSON.stringify(stats.cxClosed)}`);
  assert.equal(stats.cxConnectFail, 1, 'an abandoned dial is not a connect failure of the backend');
});

test('a backend that accepts TCP and never sends SETTINGS: at connectTimeoutMs its connection closes (handshake_timeout) and all 120 callers are answered', { timeout: 30_000 }, async (t) => {
  const received = new Map<net.Socket, Buffer[]>();
  const silent = net.createServer((socket) => {
    received.set(socket, []);
    socket.on('data', (chunk: Buffer) => received.get(socket)?.push(chunk));
    socket.on('error', () => {});
  });
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  t.after(() => {
    for (const s of received.keys()) s.destroy();
    silent.close();
  });
  const port = (silent.address() as AddressInfo).port;
  const CONNECT_TIMEOUT_MS = 500;
  // The response timeout stays at its 60 s default: only the SETTINGS deadline can answer in time.
  const proxy = await startProxy(config(port, `    retries: { maxAttempts: 1 }\n    timeouts: { connectTimeoutMs: ${CONNECT_TIMEOUT_MS} }\n`));
  t.after(() => proxy.close());
  const started = performance.now();
  const replies = await Promise.all(Array.from({ length: 120 }, () => request(proxy.port(), { path: '/', timeoutMs: 15_000 })));
  const elapsed = performance.now() - started;
  const byStatus = new Map<string, number>();
  for (const r of replies) {
    const key = `${r.status} ${String(r.headers['x-lifeline-error'])}`;
    byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
  }
  t.diagnostic(`120 callers answered in ${elapsed.toFixed(0)} ms over ${received.size} connection(s): ${JSON.stringify([...byStatus])}`);
  // Streams on the connection fail with it; callers waiting beyond its 100 assumed streams get the
  // connect timeout. Nobody waits for the 60 s response timeout.
  for (const key of byStatus.keys()) assert.ok(key === '502 ERR_UPSTREAM_CLOSED' || key === '504 ERR_UPSTREAM_CONNECT_TIMEOUT', key);
  assert.ok((byStatus.get('504 ERR_UPSTREAM_CONNECT_TIMEOUT') ?? 0) >= 1, 'the callers waiting beyond the assumed streams were failed by the SETTINGS deadline');
  // One deadline, or two if some callers came after the first connection closed (a loaded machine).
  assert.ok(elapsed < 3 * CONNECT_TIMEOUT_MS + 1_000, `answered after ${elapsed.toFixed(0)} ms`);
  // No round trip is spent waiting for SETTINGS: streams went on the connection as soon as it was up.
  const first = Buffer.concat([...received.values()][0] ?? []);
  assert.equal(first.subarray(0, 24).toString('latin1'), 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  let headers = 0;
  for (let at = 24; at + 9 <= first.length; at += 9 + first.readUIntBE(at, 3)) if (first[at + 3] === 0x1) headers += 1;
  t.diagnostic(`HEADERS frames on the first connection: ${headers}`);
  assert.ok(headers >= 1, 'streams went on the connection before any SETTINGS came');
  // Each connection was opened (TCP up) and closed at the deadline as handshake_timeout.
  await waitUntil(() => endpointStats(proxy, port).cxClosed['handshake_timeout'] === received.size, 2_000);
  const stats = endpointStats(proxy, port);
  assert.equal(stats.cxOpened, received.size);
  assert.equal(stats.cxClosed['handshake_timeout'], received.size);
  assert.equal(stats.cxConnectFail, 0);
});
