/**
 * WebSocket through the proxy: the upgrade is forwarded (Connection/Upgrade are hop-by-hop, so
 * the proxy re-adds them on purpose), frames flow both ways including ping/pong, and an idle
 * upgraded connection is closed at `websocket.idleTimeoutMs`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { parseConfig } from '../src/proxy/config/index.js';
import { Proxy } from '../src/proxy/proxy.js';

async function setup(idleTimeoutMs: number): Promise<{ proxy: Proxy; wss: WebSocketServer; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  wss.on('connection', (ws, req) => {
    ws.send(`hello ${String(req.headers['x-forwarded-for'])}`);
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  const port = (wss.address() as AddressInfo).port;
  const yaml = `listeners: [{ name: main, address: "127.0.0.1:0", routes: [{ cluster: ws }] }]
clusters: { ws: { endpoints: [{ address: "127.0.0.1:${port}" }] } }
websocket: { idleTimeoutMs: ${idleTimeoutMs} }
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
