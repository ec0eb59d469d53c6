// The agent's close reasons are lifeline's one vocabulary (src/core/close-reason.ts): every name
// the agent counts is a core reason, and the close channel carries `closeReason` and its side.
// A socket error maps through reasonFromError (an RST on an idle socket is `reset`).
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLOSE_REASONS } from '../src/core/close-reason.js';
import { AGENT_CHANNELS, AGENT_CLOSE_REASONS, KeepAliveAgent } from '../src/http/client/index.js';
import { send } from './helpers/agent-client.js';
import { startRawServer } from './helpers/agent-servers.js';
import type { TestServer } from './helpers/agent-servers.js';

interface CloseMessage {
  origin: string;
  closeReason: string;
  side: string;
  layer: string;
  requests: number;
}

const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** Collect close messages of one origin until `count` arrived or `timeoutMs` passed. */
async function closes(origin: string, count: number, timeoutMs: number, act: () => Promise<void>): Promise<CloseMessage[]> {
  const seen: CloseMessage[] = [];
  const onClose = (message: unknown): void => {
    const m = message as CloseMessage;
    if (m.origin === origin) seen.push(m);
  };
  subscribe(AGENT_CHANNELS.close, onClose);
  try {
    await act();
    const deadline = Date.now() + timeoutMs;
    while (seen.length < count && Date.now() < deadline) await sleep(5);
  } finally {
    unsubscribe(AGENT_CHANNELS.close, onClose);
  }
  return seen;
}

describe('agent close reasons', () => {
  it('the agent counts exactly its subset of the core reasons, each on the side docs/agent.md gives', async () => {
    const documented: Record<string, 'local' | 'remote'> = {
      peer_close: 'remote', peer_idle_close: 'remote', idle_timeout: 'local', hint_expiry: 'local', max_requests: 'local', max_age: 'local', stale: 'remote',
      evicted: 'local', shutdown: 'local', aborted: 'local', reset: 'remote', tcp_timeout: 'remote', tls_error: 'remote', error: 'remote',
    };
    assert.deepEqual([...AGENT_CLOSE_REASONS].sort(), Object.keys(documented).sort());
    for (const reason of AGENT_CLOSE_REASONS) assert.equal(CLOSE_REASONS[reason].side, documented[reason], reason);
    const server = await startRawServer();
    servers.push(server);
    const agent = new KeepAliveAgent();
    assert.equal((await send(agent, server.port)).status, 200);
    assert.deepEqual(Object.keys(agent.stats()[`http://127.0.0.1:${server.port}`]?.closes ?? {}), [...AGENT_CLOSE_REASONS]);
    agent.destroy();
  });

  it('publishes closeReason and side: idle_timeout is local, peer_close remote', async () => {
    const server = await startRawServer({ handle: (req) => ({ respond: true, close: req.path === '/close' }) });
    servers.push(server);
    const origin = `http://127.0.0.1:${server.port}`;
    const agent = new KeepAliveAgent({ freeSocketTimeoutMs: 30 });
    const idle = await closes(origin, 1, 2000, async () => {
      assert.equal((await send(agent, server.port)).status, 200);
    });
    assert.deepEqual(idle.map((m) => [m.closeReason, m.side, m.requests]), [['idle_timeout', 'local', 1]]);
    const peer = await closes(origin, 1, 2000, async () => {
      assert.equal((await send(agent, server.port, { path: '/close' })).status, 200);
    });
    assert.deepEqual(peer.map((m) => [m.closeReason, m.side]), [['peer_close', 'remote']]);
    const stats = agent.stats()[origin];
    assert.equal(stats?.closes.idle_timeout, 1);
    assert.equal(stats?.closes.peer_close, 1);
    agent.destroy();
  });

  it('a FIN on an idle pooled socket is peer_idle_close, remote, noticed by the pool; a FIN after Connection: close is peer_close (http1)', async () => {
    const server = await startRawServer({ idleCloseMs: 40, handle: (req) => ({ respond: true, close: req.path === '/close' }) });
    servers.push(server);
    const origin = `http://127.0.0.1:${server.port}`;
    const agent = new KeepAliveAgent({ freeSocketTimeoutMs: 10_000 });
    try {
      const idle = await closes(origin, 1, 2000, async () => {
        assert.equal((await send(agent, server.port)).status, 200);
      });
      assert.deepEqual(idle.map((m) => [m.closeReason, m.side, m.layer]), [['peer_idle_close', 'remote', 'pool']]);
      const asked = await closes(origin, 1, 2000, async () => {
        assert.equal((await send(agent, server.port, { path: '/close' })).status, 200);
      });
      assert.deepEqual(asked.map((m) => [m.closeReason, m.side, m.layer]), [['peer_close', 'remote', 'http1']]);
      assert.equal(agent.stats()[origin]?.closes.peer_idle_close, 1);
      assert.equal(agent.stats()[origin]?.closes.peer_close, 1);
    } finally {
      agent.destroy();
    }
  });

  it('an RST on an idle socket is counted as reset (reasonFromError), remote', async () => {
    // Answers one request with keep-alive, then resets the connection while it is idle.
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok');
        setTimeout(() => socket.resetAndDestroy(), 30);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    assert.ok(address !== null && typeof address === 'object');
    const origin = `http://127.0.0.1:${address.port}`;
    const agent = new KeepAliveAgent({ freeSocketTimeoutMs: 10_000 });
    try {
      const seen = await closes(origin, 1, 2000, async () => {
        assert.equal((await send(agent, address.port)).status, 200);
      });
      assert.deepEqual(seen.map((m) => [m.closeReason, m.side]), [['reset', 'remote']]);
      assert.equal(agent.stats()[origin]?.closes.reset, 1);
    } finally {
      agent.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('agent.destroy() closes idle sockets as shutdown', async () => {
    const server = await startRawServer();
    servers.push(server);
    const origin = `http://127.0.0.1:${server.port}`;
    const agent = new KeepAliveAgent();
    const seen = await closes(origin, 1, 2000, async () => {
      assert.equal((await send(agent, server.port)).status, 200);
      agent.destroy();
    });
    assert.deepEqual(seen.map((m) => [m.closeReason, m.side]), [['shutdown', 'local']]);
  });
});
