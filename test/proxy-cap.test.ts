/**
 * The proxy's client connection cap (`client.maxConnections`), admitted by lifeline/server's
 * Admission: at the cap the least recently used idle connection makes room; with none idle a
 * newcomer gets 503 (`whenFull: reject`) or is held unread until a connection closes (`pause`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { startRawBackend } from './helpers/proxy-backends.js';
import { startProxy, sleep, waitUntil } from './helpers/proxy-harness.js';

function yaml(port: number, client: string): string {
  return `listeners:
  - name: main
    address: 127.0.0.1:0
    routes:
      - cluster: app
client: ${client}
clusters:
  app:
    endpoints:
      - address: 127.0.0.1:${port}
accessLog: { target: off }
`;
}

/** A raw client connection that sends `GET path` and collects what comes back. */
async function client(port: number): Promise<{ socket: net.Socket; text: () => string; closed: () => boolean; send: (path: string, close?: boolean) => void }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setEncoding('latin1');
  socket.on('error', () => undefined);
  let text = '';
  let closed = false;
  socket.on('data', (d: string) => (text += d));
  socket.on('close', () => (closed = true));
  await once(socket, 'connect');
  return {
    socket,
    text: () => text,
    closed: () => closed,
    send: (path, close = false) => socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n${close ? 'Connection: close\r\n' : ''}\r\n`),
  };
}

test('at the cap, the least recently used idle connection makes room for a newcomer', async (t) => {
  const backend = await startRawBackend({ name: 'b' });
  const proxy = await startProxy(yaml(backend.port, '{ maxConnections: 2 }'));
  t.after(async () => {
    await proxy.close();
    await backend.close();
  });
  const a = await client(proxy.port());
  a.send('/a');
  await waitUntil(() => a.text().includes('200 OK'), 2_000);
  const b = await client(proxy.port());
  b.send('/b');
  await waitUntil(() => b.text().includes('200 OK'), 2_000);
  const c = await client(proxy.port());
  c.send('/c');
  assert.ok((await waitUntil(() => c.text().includes('200 OK'), 2_000)) !== undefined, `the newcomer is served: ${c.text().slice(0, 40)}`);
  assert.ok((await waitUntil(() => a.closed(), 2_000)) !== undefined, 'the least recently used idle connection was closed');
  assert.equal(b.closed(), false);
  for (const x of [a, b, c]) x.socket.destroy();
});

test('at the cap with nothing idle: reject answers 503; pause holds the newcomer until a connection closes', async (t) => {
  const backend = await startRawBackend({ name: 'b', responseDelayMs: 300 });
  const rejecting = await startProxy(yaml(backend.port, '{ maxConnections: 1, whenFull: reject }'));
  const pausing = await startProxy(yaml(backend.port, '{ maxConnections: 1, whenFull: pause }'));
  t.after(async () => {
    await rejecting.close();
    await pausing.close();
    await backend.close();
  });
  const busy = await client(rejecting.port());
  busy.send('/slow');
  await waitUntil(() => backend.requests >= 0 && rejecting.listeners[0]?.table.count('exchange') === 1, 2_000);
  const refused = await client(rejecting.port());
  refused.send('/refused');
  assert.ok((await waitUntil(() => refused.closed(), 3_000)) !== undefined, 'the refused newcomer is closed');
  assert.match(refused.text(), /^HTTP\/1\.1 503 [\s\S]*Connection: close/);
  const stats = rejecting.metrics.listener('main').stats();
  assert.equal(stats.rqRejected['ERR_TOO_MANY_CONNECTIONS'], 1);
  await waitUntil(() => busy.text().includes('200 OK'), 2_000);

  const first = await client(pausing.port());
  first.send('/slow', true);
  await waitUntil(() => pausing.listeners[0]?.table.count('exchange') === 1, 2_000);
  const held = await client(pausing.port());
  held.send('/held');
  await sleep(100);
  assert.equal(held.text(), '', 'held unread while the only connection is busy');
  assert.ok((await waitUntil(() => held.text().includes('200 OK'), 3_000)) !== undefined, 'served once the busy connection closed');
  assert.ok(first.text().includes('200 OK'));
  for (const x of [busy, refused, first, held]) x.socket.destroy();
});

test('close reasons on the client side: a FIN between requests is peer_idle_close, during a request head peer_close', async (t) => {
  const backend = await startRawBackend({ name: 'b' });
  const proxy = await startProxy(yaml(backend.port, '{}'));
  t.after(async () => {
    await proxy.close();
    await backend.close();
  });
  const idle = await client(proxy.port());
  idle.send('/a');
  await waitUntil(() => idle.text().includes('200 OK'), 2_000);
  idle.socket.end();
  const partial = await client(proxy.port());
  partial.socket.write('GET /half HTTP/1.1\r\nHo');
  await sleep(50);
  partial.socket.end();
  const stats = proxy.metrics.listener('main').stats();
  await waitUntil(() => proxy.metrics.listener('main').stats().cxClosed.peer_close >= 1, 2_000);
  const after = proxy.metrics.listener('main').stats();
  assert.equal(after.cxClosed.peer_idle_close, 1, JSON.stringify(after.cxClosed));
  assert.equal(after.cxClosed.peer_close, 1);
  assert.ok(stats.cxTotal >= 2);
});

test('close() destroys a newcomer held at the cap at once: nothing stays open', async (t) => {
  const backend = await startRawBackend({ name: 'b', responseDelayMs: 2_000 });
  const proxy = await startProxy(yaml(backend.port, '{ maxConnections: 1, whenFull: pause }'));
  t.after(() => backend.close());
  const busy = await client(proxy.port());
  busy.send('/slow');
  await waitUntil(() => proxy.listeners[0]?.table.count('exchange') === 1, 2_000);
  const held = await client(proxy.port());
  held.send('/held');
  await sleep(50);
  const started = performance.now();
  await proxy.close();
  assert.ok((await waitUntil(() => held.closed() && busy.closed(), 1_000)) !== undefined, 'both sockets closed by close()');
  assert.ok(performance.now() - started < 1_000);
  assert.equal(held.text(), '', 'the held newcomer got no answer: it was never served');
});
