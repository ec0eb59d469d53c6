/**
 * drain({ spreadMs }): idle client connections are closed spread over the window, not all at
 * once (HAProxy's close-spread-time), and a request that arrives on one meanwhile is served, with
 * Connection: close.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { parseConfig } from '../src/proxy/config/index.js';
import { Proxy } from '../src/proxy/proxy.js';

test('idle connections close spread over spreadMs; a request meanwhile is served with Connection: close', async (t) => {
  const backend = http.createServer((_req, res) => res.end('ok'));
  backend.listen(0, '127.0.0.1');
  await once(backend, 'listening');
  t.after(() => {
    backend.closeAllConnections();
    backend.close();
  });
  const port = (backend.address() as net.AddressInfo).port;
  const proxy = await Proxy.start(parseConfig(`listeners: [{ name: m, address: "127.0.0.1:0", routes: [{ cluster: c }] }]\nclusters: { c: { endpoints: [{ address: "127.0.0.1:${port}" }] } }\naccessLog: { target: "off" }\n`, 's.yaml', {}));
  t.after(() => proxy.close());

  // 20 kept-alive client connections, each after one request, now idle.
  const sockets: net.Socket[] = [];
  for (let i = 0; i < 20; i++) {
    const socket = net.connect(proxy.port(), '127.0.0.1');
    socket.setEncoding('latin1');
    await once(socket, 'connect');
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(socket, 'data');
    sockets.push(socket);
  }
  const started = performance.now();
  const closedAt: number[] = [];
  for (const s of sockets) s.on('close', () => closedAt.push(performance.now() - started));
  const drained = proxy.drain({ timeoutMs: 5_000, spreadMs: 1_000 });
  // A request on one idle connection during the spread: served, and told to close.
  const last = sockets[19] as net.Socket;
  let reply = '';
  last.on('data', (d: string) => (reply += d));
  last.write('GET /late HTTP/1.1\r\nHost: x\r\n\r\n');
  const result = await drained;
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(closedAt.length, 20, 'every connection closed');
  const spread = Math.max(...closedAt) - Math.min(...closedAt);
  t.diagnostic(`closes from ${Math.min(...closedAt).toFixed(0)} to ${Math.max(...closedAt).toFixed(0)} ms; ${JSON.stringify(result)}`);
  assert.ok(spread >= 300, `closes spread over ${spread.toFixed(0)} ms, not at once`);
  assert.ok(Math.max(...closedAt) <= 1_000 + 300, 'all closed within spreadMs (+ a tick)');
  assert.equal(result.forced, 0);
  assert.match(reply, /^HTTP\/1\.1 200 OK[\s\S]*Connection: close/i, reply.slice(0, 120));
});
