/**
 * WebSocket through the proxy: the upgrade is forwarded (Connection/Upgrade are hop-by-hop, so
 * the proxy re-adds them on purpose), frames flow both ways including ping/pong, and an idle
 * upgraded connection is closed at `websocket.idleTimeoutMs`. With `websocket.pingIntervalMs`, the
 * proxy pings both sides, swallows their pongs, keeps messages intact, and cuts off a side that
 * does not answer (closing the other side too); with 0 it injects nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { parseConfig } from '../src/proxy/config/index.js';
import { Proxy } from '../src/proxy/proxy.js';

async function setup(idleTimeoutMs: number, pings = ''): Promise<{ proxy: Proxy; wss: WebSocketServer; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  wss.on('connection', (ws, req) => {
    ws.send(`hello ${String(req.headers['x-forwarded-for'])}`);
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  const port = (wss.address() as AddressInfo).port;
  const yaml = `listeners: [{ name: main, address: "127.0.0.1:0", routes: [{ cluster: ws }] }]
clusters: { ws: { endpoints: [{ address: "127.0.0.1:${port}" }] } }
websocket: { idleTimeoutMs: ${idleTimeoutMs}${pings} }
accessLog: { target: "off" }
`;
  const proxy = await Proxy.start(parseConfig(yaml, 'ws.yaml', {}));
  return {
    proxy,
    wss,
    close: async () => {
      await proxy.close();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

test('a WebSocket upgrade is tunnelled: messages and pings flow both ways', async () => {
  const { proxy, close } = await setup(5_000);
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port()}/chat`);
    const [greeting] = (await once(ws, 'message')) as [Buffer];
    assert.equal(greeting.toString(), 'hello 127.0.0.1');
    const big = Buffer.alloc(256 * 1024, 7);
    ws.send(big);
    const [echo] = (await once(ws, 'message')) as [Buffer];
    assert.ok(Buffer.compare(echo, big) === 0, 'a 256 KiB binary message comes back intact');
    ws.ping('are you there');
    const [pong] = (await once(ws, 'pong')) as [Buffer];
    assert.equal(pong.toString(), 'are you there');
    ws.close();
    await once(ws, 'close');
  } finally {
    await close();
  }
});

test('an idle upgraded connection is closed at websocket.idleTimeoutMs', async () => {
  const { proxy, close } = await setup(300);
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port()}/`);
    await once(ws, 'message');
    const t0 = performance.now();
    await once(ws, 'close');
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 250 && elapsed < 1_500, `closed after ${elapsed.toFixed(0)} ms of silence`);
  } finally {
    await close();
  }
});

/** A connected client and the backend's side of the same WebSocket, with every event recorded. */
async function connectPair(proxy: Proxy, wss: WebSocketServer, clientOptions: { autoPong?: boolean } = {}) {
  const serverSide = new Promise<WebSocket>((resolve) => wss.once('connection', (ws) => resolve(ws)));
  const client = new WebSocket(`ws://127.0.0.1:${proxy.port()}/`, clientOptions);
  const seen = { clientPings: [] as string[], clientPongs: [] as string[], serverPings: [] as string[], serverPongs: [] as string[] };
  client.on('ping', (data: Buffer) => seen.clientPings.push(data.toString()));
  client.on('pong', (data: Buffer) => seen.clientPongs.push(data.toString()));
  await once(client, 'message'); // the greeting
  const server = await serverSide;
  server.on('ping', (data: Buffer) => seen.serverPings.push(data.toString()));
  server.on('pong', (data: Buffer) => seen.serverPongs.push(data.toString()));
  return { client, server, seen };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('pings both ways: each side gets lifeline pings, its pongs never reach the other side, messages stay intact', async () => {
  const { proxy, wss, close } = await setup(5_000, ', pingIntervalMs: 200, pingTimeoutMs: 500');
  try {
    const { client, server, seen } = await connectPair(proxy, wss);
    await sleep(1_000);
    assert.ok(seen.clientPings.length >= 2, `client pinged ${seen.clientPings.length} times`);
    assert.ok(seen.serverPings.length >= 2, `backend pinged ${seen.serverPings.length} times`);
    for (const p of [...seen.clientPings, ...seen.serverPings]) assert.match(p, /^lifeline:\d+$/);
    assert.deepEqual(seen.clientPongs, [], 'the backend\'s pongs to the proxy are not forwarded to the client');
    assert.deepEqual(seen.serverPongs, [], 'the client\'s pongs to the proxy are not forwarded to the backend');

    // A large binary message, fragmented, with pauses longer than the ping interval between
    // fragments (pings go between fragments), and a 4 MiB single frame.
    const parts = [Buffer.alloc(300_000, 1), Buffer.alloc(200_000, 2), Buffer.alloc(500_000, 3)];
    const echoed = once(client, 'message');
    for (let i = 0; i < parts.length; i++) {
      client.send(parts[i] as Buffer, { binary: true, fin: i === parts.length - 1 });
      if (i < parts.length - 1) await sleep(350);
    }
    const [echo] = (await echoed) as [Buffer];
    assert.ok(echo.equals(Buffer.concat(parts)), 'the fragmented message comes back intact');
    const big = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i, i);
    client.send(big);
    const [bigEcho] = (await once(client, 'message')) as [Buffer];
    assert.ok(bigEcho.equals(big), 'the 4 MiB message comes back intact');
    client.send('text after pings');
    const [text] = (await once(client, 'message')) as [Buffer];
    assert.equal(text.toString(), 'text after pings');

    // The application's own ping and pong still pass.
    client.ping('app ping');
    const [pong] = (await once(client, 'pong')) as [Buffer];
    assert.equal(pong.toString(), 'app ping');
    assert.ok(seen.serverPings.includes('app ping'), 'the backend saw the client\'s own ping');
    assert.deepEqual(seen.clientPongs, ['app ping'], 'only the application\'s pong reached the client');
    assert.deepEqual(seen.serverPongs, []);
    server.ping('server ping');
    await sleep(100);
    assert.deepEqual(seen.serverPongs, ['server ping'], 'only the application\'s pong reached the backend');
    assert.ok(seen.clientPings.length >= 3 && seen.serverPings.length >= 3);

    client.close();
    await once(client, 'close');
  } finally {
    await close();
  }
});

test('a client that never answers pings is cut off at interval + timeout, and the backend side is closed too', async () => {
  const intervalMs = 200;
  const timeoutMs = 300;
  const { proxy, wss, close } = await setup(5_000, `, pingIntervalMs: ${intervalMs}, pingTimeoutMs: ${timeoutMs}`);
  try {
    const { client, server, seen } = await connectPair(proxy, wss, { autoPong: false });
    const t0 = performance.now();
    const serverClosed = once(server, 'close');
    await once(client, 'close');
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= intervalMs + timeoutMs - 50, `cut off after ${elapsed.toFixed(0)} ms`);
    assert.ok(elapsed < intervalMs + timeoutMs + 400, `cut off after ${elapsed.toFixed(0)} ms (bound ${intervalMs + timeoutMs} + slack)`);
    assert.ok(seen.clientPings.length >= 1, 'it was pinged');
    await serverClosed;
    const serverElapsed = performance.now() - t0;
    assert.ok(serverElapsed < intervalMs + timeoutMs + 500, `backend side closed after ${serverElapsed.toFixed(0)} ms`);
    assert.ok(seen.serverPings.length >= 1, 'the answering backend was pinged too, and it answered');
  } finally {
    await close();
  }
});

test('with pingIntervalMs 0 nothing is injected', async () => {
  const { proxy, wss, close } = await setup(5_000, ', pingIntervalMs: 0');
  try {
    const { client, seen } = await connectPair(proxy, wss);
    await sleep(600);
    client.send('still here');
    const [echo] = (await once(client, 'message')) as [Buffer];
    assert.equal(echo.toString(), 'still here');
    assert.deepEqual(seen, { clientPings: [], clientPongs: [], serverPings: [], serverPongs: [] });
    client.close();
    await once(client, 'close');
  } finally {
    await close();
  }
});
