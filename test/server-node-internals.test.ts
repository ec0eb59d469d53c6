/**
 * The Node internals the server policy relies on (src/http/server/node-internals.ts): a canary for
 * each, which fails if the running Node no longer has it, and each fallback run through the
 * policy (or, where the policy only reads, called directly).
 */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import {
  clientAskedToClose,
  connectionsCheckingInterval,
  findNodeConnectionListener,
  nodeWritesKeepAliveHint,
  parserDuration,
  parserHasClock,
  setNodeKeepAliveHint,
  socketInHttp,
} from '../src/http/server/node-internals.js';
import { stopConnectionsCheck } from '../src/http/server/node-server-settings.js';
import { keepAlive } from '../src/http/server/index.js';
import type { KeepAliveOptions } from '../src/http/server/index.js';

type Listener = (...args: unknown[]) => void;

async function listen(t: TestContext, server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

/** One raw request on a fresh connection; resolves with the response head. */
function rawGet(port: number, request = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end >= 0) {
        socket.destroy();
        resolve(text.slice(0, end));
      }
    });
    socket.on('error', reject);
    socket.write(request);
  });
}

test('canary 1 and 2: the parser stamps a message\'s first byte, and is taken off an upgraded socket', async (t) => {
  const seen: { clock: boolean; inHttp: boolean; duration: number }[] = [];
  let upgraded: boolean | undefined;
  const server = http.createServer((req, res) => {
    seen.push({ clock: parserHasClock(req.socket), inHttp: socketInHttp(req.socket), duration: parserDuration(req.socket) });
    res.end('ok');
  });
  server.on('upgrade', (_req, socket: net.Socket) => {
    upgraded = socketInHttp(socket);
    socket.destroy();
  });
  const port = await listen(t, server);
  await rawGet(port);
  assert.deepEqual(seen.map((s) => [s.clock, s.inHttp]), [[true, true]], "Node's parser has duration(); the socket is in HTTP");
  assert.ok((seen[0]?.duration ?? -1) >= 0, 'duration() answers a number');
  await new Promise<void>((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n'));
    socket.on('close', () => resolve());
  });
  assert.equal(upgraded, false, 'an upgraded socket has no parser');
});

test('canary 3: Node writes Keep-Alive from the response fields the policy sets', async (t) => {
  let fields: boolean | undefined;
  const server = http.createServer((req, res) => {
    fields = nodeWritesKeepAliveHint(res);
    setNodeKeepAliveHint(res, 7, 3);
    res.end('ok');
  });
  server.keepAliveTimeout = 5_000;
  const port = await listen(t, server);
  const head = await rawGet(port);
  assert.equal(fields, true);
  assert.match(head, /\r\nKeep-Alive: timeout=7, max=3/);
});

test('canary 4 and 5: the connection listener is named connectionListener; the checking interval is on a symbol', async (t) => {
  const server = http.createServer();
  const listeners = server.rawListeners('connection') as Listener[];
  assert.ok(listeners.some((l) => l.name === 'connectionListener'), `listener names: ${listeners.map((l) => l.name).join(', ')}`);
  await listen(t, server);
  assert.notEqual(connectionsCheckingInterval(server), undefined, 'http.server.connectionsCheckingInterval is set at listen');
});

test('canary 6: res.shouldKeepAlive says whether the client asked to close; fallback: the request headers', async (t) => {
  const seen: [unknown, boolean][] = [];
  const server = http.createServer((req, res) => {
    seen.push([(res as { shouldKeepAlive?: unknown }).shouldKeepAlive, clientAskedToClose(req, res)]);
    // The fallback, on the same request: a response without the field.
    const bare = {} as http.ServerResponse;
    seen.push([undefined, clientAskedToClose(req, bare)]);
    res.end('ok');
  });
  const port = await listen(t, server);
  await rawGet(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await rawGet(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await rawGet(port, 'GET / HTTP/1.0\r\n\r\n');
  await rawGet(port, 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  assert.deepEqual(seen, [
    [true, false], [undefined, false],
    [false, true], [undefined, true],
    [false, true], [undefined, true],
    [true, false], [undefined, false],
  ]);
});

/** A server whose Node connection listener is wrapped by `wrap` before the policy attaches. */
function wrappedServer(wrap: (node: Listener) => Listener, options: KeepAliveOptions): { server: http.Server; close: () => void } {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  const node = server.rawListeners('connection')[0] as Listener;
  server.removeAllListeners('connection');
  server.on('connection', wrap(node));
  const policy = keepAlive(server, options);
  return { server, close: () => policy.close() };
}

test('fallback 1: without the parser\'s clock, bytesRead sampling still times out slow headers (408)', async (t) => {
  const { server, close } = wrappedServer(
    (node) =>
      function connectionListener(this: http.Server, socket: unknown) {
        node.call(this, socket);
        // Shadow Node's duration(): the parser as a runtime without it would have.
        const parser = (socket as { parser?: Record<string, unknown> }).parser;
        if (parser !== undefined) parser.duration = undefined;
      },
    { headersTimeoutMs: 300, requestTimeoutMs: 300, idleTimeoutMs: 1_000, hintMarginMs: 0 },
  );
  t.after(close);
  const port = await listen(t, server);
  assert.match(await rawGet(port), /^HTTP\/1\.1 200/);
  const started = performance.now();
  const head = await rawGet(port, 'GET / HTTP/1.1\r\nHost: x\r\n'); // the head never ends
  const ms = performance.now() - started;
  assert.match(head, /^HTTP\/1\.1 408/);
  assert.ok(ms >= 290 && ms < 300 + 300 / 8 + 500, `408 after ${Math.round(ms)} ms (headersTimeoutMs 300, sampled every ${300 / 8} ms)`);
});

test('fallback 3: without Node\'s hint fields, the hint is a Keep-Alive header set by the policy', async (t) => {
  // A response class whose _keepAliveTimeout Node cannot set: as on a runtime without the field.
  class NoHintFields extends http.ServerResponse {}
  Object.defineProperty(NoHintFields.prototype, '_keepAliveTimeout', { get: () => undefined, set: () => undefined });
  const server = http.createServer({ ServerResponse: NoHintFields as unknown as typeof http.ServerResponse }, (req, res) => res.end('ok'));
  const policy = keepAlive(server, { idleTimeoutMs: 10_000, hintMarginMs: 3_000, maxRequestsPerConnection: 5 });
  t.after(() => policy.close());
  const port = await listen(t, server);
  const head = await rawGet(port);
  assert.match(head, /\r\nKeep-Alive: timeout=7, max=4/i);
});

test('fallback 4: a connection listener without Node\'s name: the first listener is taken as Node\'s', async (t) => {
  const { server, close } = wrappedServer((node) => (socket: unknown) => node.call(server, socket), { maxRequestsPerConnection: 2 });
  t.after(close);
  const port = await listen(t, server);
  const head = await rawGet(port);
  assert.match(head, /^HTTP\/1\.1 200/);
  assert.match(head, /\r\nKeep-Alive: timeout=70, max=1/i, 'the policy saw the request');
  const anonymous: Listener = () => undefined;
  assert.equal(findNodeConnectionListener([anonymous]), anonymous);
  assert.equal(findNodeConnectionListener([]), undefined);
});

test('fallback 1, 2, 3 and 5 on objects without the internals: neutral answers, nothing throws', () => {
  const plain = new net.Socket();
  assert.equal(parserHasClock(plain), false);
  assert.equal(parserDuration(plain), 0);
  assert.equal(socketInHttp(plain), false, 'no parser: not (or no longer) HTTP');
  const res = { _keepAliveTimeout: undefined } as unknown as http.ServerResponse;
  assert.equal(nodeWritesKeepAliveHint(res), false);
  const server = http.createServer();
  assert.equal(connectionsCheckingInterval(server), undefined, 'before listen there is none');
  stopConnectionsCheck(server);
  plain.destroy();
});
