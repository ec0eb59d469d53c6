// Requests waiting for a socket (maxSockets reached): one aborted or destroyed before it got a
// socket leaves the queue at once and no connection is dialled for it (Go's wantConn.cancel).
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { ClientRequest, ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeepAliveAgent } from '../src/http/client/index.js';
import { send } from './helpers/agent-client.js';

interface Waiting {
  req: ClientRequest;
  errors: (Error & { code?: string; name: string })[];
  closed: boolean;
}

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await sleep(5);
}

describe('wait queue', () => {
  it('20 queued requests aborted or destroyed: no socket is dialled for them', async () => {
    let connections = 0;
    const held: ServerResponse[] = [];
    const server = createServer((req, res) => {
      if (req.url === '/hold') held.push(res);
      else res.end('ok');
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    assert.ok(address !== null && typeof address === 'object');
    const port = address.port;
    const agent = new KeepAliveAgent({ maxSockets: 1 });
    try {
      const first = send(agent, port, { path: '/hold' });
      await until(() => held.length === 1, 5000);
      assert.equal(held.length, 1);

      const waiting: Waiting[] = [];
      const controllers: AbortController[] = [];
      for (let i = 0; i < 20; i++) {
        const controller = new AbortController();
        controllers.push(controller);
        const req = request({ host: '127.0.0.1', port, path: `/w${i}`, agent, signal: controller.signal });
        const w: Waiting = { req, errors: [], closed: false };
        req.on('error', (error: Error & { code?: string }) => w.errors.push(error));
        req.on('close', () => (w.closed = true));
        req.on('response', () => assert.fail(`waiter ${i} got a response`));
        req.end();
        waiting.push(w);
      }
      assert.equal(agent.requests[`127.0.0.1:${port}:`]?.length, 20, 'all 20 wait');
      // Three ways a caller gives up: destroy(), abort(), an AbortSignal.
      waiting.forEach((w, i) => {
        if (i % 3 === 0) w.req.destroy();
        else if (i % 3 === 1) w.req.abort();
        else controllers[i]?.abort();
      });
      assert.deepEqual(Object.keys(agent.requests), [], 'the queue is empty at once');
      await until(() => waiting.every((w) => w.closed), 5000);
      waiting.forEach((w, i) => {
        assert.ok(w.closed, `waiter ${i} closed`);
        if (i % 3 === 0) assert.deepEqual(w.errors.map((e) => e.code), ['ECONNRESET'], `destroy() ${i}`);
        else if (i % 3 === 1) assert.deepEqual(w.errors, [], `abort() ${i}`);
        else assert.deepEqual(w.errors.map((e) => e.name), ['AbortError'], `signal ${i}`);
      });

      // The held response closes its connection: a waiter left in the queue would be dialled now.
      held[0]?.setHeader('connection', 'close');
      held[0]?.end('done');
      const r = await first;
      assert.equal(r.body, 'done');
      await until(() => agent.totalSocketCount === 0, 5000);
      await sleep(50);
      assert.equal(connections, 1, 'no connection was dialled for a cancelled waiter');
      assert.equal(agent.totalSocketCount, 0);

      // The pool still serves: a new request opens the second connection.
      const next = await send(agent, port);
      assert.equal(next.status, 200);
      assert.equal(connections, 2);
    } finally {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('a waiter still in the queue gets the freed socket (hand-off), the cancelled one is skipped', async () => {
    let connections = 0;
    const held: ServerResponse[] = [];
    const server = createServer((req, res) => {
      if (req.url === '/hold') held.push(res);
      else res.end(req.url);
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    assert.ok(address !== null && typeof address === 'object');
    const agent = new KeepAliveAgent({ maxSockets: 1 });
    try {
      const first = send(agent, address.port, { path: '/hold' });
      await until(() => held.length === 1, 5000);
      const cancelled = request({ host: '127.0.0.1', port: address.port, path: '/cancelled', agent });
      cancelled.on('error', () => undefined);
      cancelled.end();
      const kept = send(agent, address.port, { path: '/kept' });
      cancelled.destroy();
      held[0]?.end('done');
      const [a, b] = await Promise.all([first, kept]);
      assert.equal(a.body, 'done');
      assert.equal(b.body, '/kept');
      assert.equal(b.reused, true);
      assert.equal(connections, 1);
    } finally {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
