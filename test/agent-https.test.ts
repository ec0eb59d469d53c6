// HTTPS: HttpsKeepAliveAgent reuses connections, and when it must open a new one it resumes the
// TLS session (tlsSocket.isSessionReused()), for TLS 1.2 and 1.3; resumptions are in stats().
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { TLSSocket, SecureVersion } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AGENT_CHANNELS, HttpsKeepAliveAgent } from '../src/http/client/index.js';
import { getTcpKeepAlive } from '../src/transport/tcp-keepalive.js';
import { send } from './helpers/agent-client.js';
import { makeAgentTestCert } from './helpers/agent-tls.js';

let cert: { key: Buffer; cert: Buffer };
const servers: Server[] = [];

before(() => {
  cert = makeAgentTestCert();
});
after(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => {
    s.closeAllConnections();
    s.close(() => resolve());
  })));
});

/** An HTTPS server that counts resumed handshakes; `close` answers with Connection: close. */
async function start(version: SecureVersion, close: boolean): Promise<{ port: number; resumed: () => number; connections: () => number }> {
  let resumed = 0;
  let connections = 0;
  const server = createServer({ ...cert, minVersion: version, maxVersion: version }, (req, res) => {
    req.resume();
    if (close) res.setHeader('connection', 'close');
    res.end('ok');
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    connections++;
    if (socket.isSessionReused()) resumed++;
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return { port: address.port, resumed: () => resumed, connections: () => connections };
}

describe('HttpsKeepAliveAgent', () => {
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`resumes TLS sessions on new connections (${version})`, async () => {
      const server = await start(version, true);
      const agent = new HttpsKeepAliveAgent({ ca: cert.cert });
      const n = 10;
      for (let i = 0; i < n; i++) {
        const r = await send(agent, server.port, { ca: cert.cert });
        assert.equal(r.error, undefined, String(r.error));
        assert.equal(r.status, 200);
      }
      const key = `https://127.0.0.1:${server.port}`;
      // The last connection closes just after its response ended.
      while ((agent.stats()[key]?.socketsActive ?? 0) > 0) await sleep(2);
      const stats = agent.stats()[key];
      assert.equal(server.connections(), n);
      assert.equal(server.resumed(), n - 1);
      assert.equal(stats?.newConnections, n);
      assert.equal(stats?.tlsFullHandshakes, 1);
      assert.equal(stats?.tlsResumed, n - 1);
      assert.equal(stats?.closes['peer_close'], n);
      agent.destroy();
    });
  }

  it('reuses a kept-alive TLS connection, with TCP keepalive on', async () => {
    const server = await start('TLSv1.3', false);
    const agent = new HttpsKeepAliveAgent({ ca: cert.cert, maxCachedSessions: 10 });
    const onConnect = (message: unknown): void => {
      const socket = (message as { socket: TLSSocket }).socket;
      socket.once('secureConnect', () => {
        // Undefined without the native addon: then there is nothing to read back.
        keepAliveOn.push(getTcpKeepAlive(socket)?.enable ?? true);
      });
    };
    const keepAliveOn: boolean[] = [];
    subscribe(AGENT_CHANNELS.connect, onConnect);
    for (let i = 0; i < 20; i++) assert.equal((await send(agent, server.port, { ca: cert.cert })).status, 200);
    const stats = agent.stats()[`https://127.0.0.1:${server.port}`];
    assert.equal(stats?.newConnections, 1);
    assert.equal(stats?.reused, 19);
    assert.equal(server.connections(), 1);
    unsubscribe(AGENT_CHANNELS.connect, onConnect);
    assert.deepEqual(keepAliveOn, [true]);
    agent.destroy();
  });

  it('re-sends a GET whose reused TLS connection died before the response', async () => {
    const perSocket = new WeakMap<object, number>();
    const server = createServer({ ...cert }, (req, res) => {
      const n = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, n);
      if (n >= 2) {
        req.socket.destroy();
        return;
      }
      res.end('ok');
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const address = server.address();
    assert.ok(address !== null && typeof address === 'object');
    const agent = new HttpsKeepAliveAgent({ ca: cert.cert });
    for (let i = 0; i < 5; i++) {
      const r = await send(agent, address.port, { ca: cert.cert });
      assert.equal(r.error, undefined, String(r.error));
      assert.equal(r.status, 200);
    }
    const stats = agent.stats()[`https://127.0.0.1:${address.port}`];
    assert.equal(stats?.retries, 4);
    assert.equal(stats?.retrySucceeded, 4);
    assert.ok((stats?.tlsResumed ?? 0) >= 4);
    agent.destroy();
  });

  it('maxCachedSessions: 0 turns resumption off', async () => {
    const server = await start('TLSv1.3', true);
    const agent = new HttpsKeepAliveAgent({ ca: cert.cert, maxCachedSessions: 0 });
    for (let i = 0; i < 4; i++) assert.equal((await send(agent, server.port, { ca: cert.cert })).status, 200);
    const stats = agent.stats()[`https://127.0.0.1:${server.port}`];
    assert.equal(stats?.tlsResumed, 0);
    assert.equal(stats?.tlsFullHandshakes, 4);
    agent.destroy();
  });
});
