// POST safety on reused sockets: a request that may have reached the server is never sent twice
// unless its method is idempotent; a request of which not one byte was written is moved to a new
// connection whatever its method. The raw server counts every body it receives, tagged per request.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { request } from 'node:http';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AGENT_CHANNELS, KeepAliveAgent, StaleSocketError } from '../src/http/client/index.js';
import { send } from './helpers/agent-client.js';
import type { Outcome } from './helpers/agent-client.js';
import { startRawServer } from './helpers/agent-servers.js';
import type { RawAction, TestServer } from './helpers/agent-servers.js';

const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** A raw server that counts bodies; `decide` picks the action for each body-carrying request. */
async function countingServer(decide: (method: string, requestOnConnection: number) => RawAction, idleCloseMs = 0): Promise<{ port: number; bodies: Map<string, number> }> {
  const bodies = new Map<string, number>();
  const server = await startRawServer({
    idleCloseMs,
    handle: (req) => {
      if (req.body.length > 0) {
        const tag = req.body.toString();
        bodies.set(tag, (bodies.get(tag) ?? 0) + 1);
      }
      return decide(req.method, req.requestOnConnection);
    },
  });
  servers.push(server);
  return { port: server.port, bodies };
}

function origin(port: number): string {
  return `http://127.0.0.1:${port}`;
}

describe('POST safety', () => {
  it('a POST whose reused socket dies after its body was written fails with ERR_STALE_SOCKET and is never re-sent', async () => {
    // The server reads the second request on each connection, then closes without answering.
    const { port, bodies } = await countingServer((_method, n) => (n >= 2 ? { respond: false, how: 'destroy' } : { respond: true }));
    const agent = new KeepAliveAgent();
    const published: { phase: string; action: string; method: string }[] = [];
    const onStale = (message: unknown): void => {
      published.push(message as { phase: string; action: string; method: string });
    };
    subscribe(AGENT_CHANNELS.stale, onStale);
    for (let i = 0; i < 20; i++) {
      assert.equal((await send(agent, port)).error, undefined);
      const post = await send(agent, port, { method: 'POST', body: `post-${i}` });
      assert.ok(post.error instanceof StaleSocketError, `got ${String(post.error)}`);
      assert.equal(post.error.code, 'ERR_STALE_SOCKET');
      assert.equal(post.error.reusedSocket, true);
      assert.equal(post.reused, true);
    }
    for (let i = 0; i < 20; i++) assert.equal(bodies.get(`post-${i}`), 1, `post-${i} received ${bodies.get(`post-${i}`)} times`);
    unsubscribe(AGENT_CHANNELS.stale, onStale);
    assert.equal(published.filter((m) => m.phase === 'before-response' && m.action === 'failed' && m.method === 'POST').length, 20);
    const stats = agent.stats()[origin(port)];
    assert.equal(stats?.staleErrors, 20);
    assert.equal(stats?.retries, 0);
    agent.destroy();
  });

  it('an idempotent PUT in the same situation is re-sent once on a new connection and succeeds', async () => {
    const { port, bodies } = await countingServer((_method, n) => (n >= 2 ? { respond: false, how: 'destroy' } : { respond: true }));
    const agent = new KeepAliveAgent();
    assert.equal((await send(agent, port)).error, undefined);
    const put = await send(agent, port, { method: 'PUT', body: 'put-1' });
    assert.equal(put.error, undefined);
    assert.equal(put.status, 200);
    assert.equal(put.reused, false, 'the response came on the new connection');
    assert.equal(bodies.get('put-1'), 2, 'PUT is idempotent: a second delivery is allowed');
    const stats = agent.stats()[origin(port)];
    assert.equal(stats?.retries, 1);
    assert.equal(stats?.retrySucceeded, 1);
    agent.destroy();
  });

  it('a POST whose reused socket is found dead before writing goes to a new connection and succeeds', async () => {
    // Each response claims keep-alive, then the server closes at once: the FIN is in flight when
    // the socket is handed to the waiting POST (maxSockets 1 makes the POST wait for it).
    const { port, bodies } = await countingServer(() => ({ respond: true, endAfter: true }));
    const agent = new KeepAliveAgent({ maxSockets: 1 });
    for (let i = 0; i < 20; i++) {
      const [get, post] = await Promise.all([send(agent, port), send(agent, port, { method: 'POST', body: `early-${i}` })]);
      assert.equal(get.error, undefined);
      assert.equal(post.error, undefined, `POST ${i}: ${String(post.error)}`);
      assert.equal(post.status, 200);
      assert.equal(bodies.get(`early-${i}`), 1);
    }
    const stats = agent.stats()[origin(port)];
    assert.ok((stats?.staleDiscarded ?? 0) >= 20, JSON.stringify(stats));
    assert.equal(stats?.retries, 0);
    assert.equal(stats?.staleErrors, 0);
    agent.destroy();
  });

  it('a timeout set with req.setTimeout() carries over to the retry', async () => {
    // Connection 1 answers once, then dies under the second request; connection 2 never answers.
    const server = await startRawServer({
      handle: (req) => (req.connectionId >= 2 ? { respond: false, how: 'hang' } : req.requestOnConnection >= 2 ? { respond: false, how: 'destroy' } : { respond: true }),
    });
    servers.push(server);
    const agent = new KeepAliveAgent();
    assert.equal((await send(agent, server.port)).status, 200);
    const started = Date.now();
    const timedOut = await new Promise<boolean>((resolve) => {
      const req = request({ host: '127.0.0.1', port: server.port, agent }, () => resolve(false));
      req.setTimeout(150, () => {
        resolve(true);
        req.destroy();
      });
      req.on('error', () => undefined);
      req.end();
    });
    assert.ok(timedOut);
    assert.ok(Date.now() - started >= 140);
    assert.equal(agent.stats()[origin(server.port)]?.retries, 1);
    agent.destroy();
  });

  it('a POST of which no byte was written yet is moved to a new connection when its socket dies', async () => {
    // The server closes idle connections after 30 ms; the POST gets the reused socket at once but
    // writes its body only after the server has closed it (and the agent has moved it).
    const { port, bodies } = await countingServer(() => ({ respond: true }), 30);
    const agent = new KeepAliveAgent();
    assert.equal((await send(agent, port)).error, undefined);
    const outcome = await new Promise<Outcome>((resolve) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, connectionId: undefined, reused: req.reusedSocket, body: '', error: undefined }));
      });
      req.on('error', (error) => resolve({ status: undefined, connectionId: undefined, reused: req.reusedSocket, body: '', error }));
      const waitForRetry = async (): Promise<void> => {
        while (agent.stats()[origin(port)]?.retries !== 1) await sleep(2);
        req.end('late-body');
      };
      void waitForRetry();
    });
    assert.equal(outcome.error, undefined, String(outcome.error));
    assert.equal(outcome.status, 200);
    assert.equal(bodies.get('late-body'), 1);
    const stats = agent.stats()[origin(port)];
    assert.equal(stats?.retries, 1, JSON.stringify(stats));
    assert.equal(stats?.retrySucceeded, 1);
    agent.destroy();
  });
});
