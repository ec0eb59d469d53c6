// Interop: KeepAliveAgent is a drop-in for axios (httpAgent), got (agent.http) and node-fetch
// (agent). Each client makes 200 sequential requests to a server that echoes its connection id;
// no request may fail, and at least 99 % of the requests after the first must reuse a connection.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import axios from 'axios';
import got from 'got';
import fetch from 'node-fetch';
import { KeepAliveAgent } from '../src/http/client/index.js';
import { startEchoServer, startRawServer } from './helpers/agent-servers.js';
import type { TestServer } from './helpers/agent-servers.js';

const REQUESTS = 200;
const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** Run `get` REQUESTS times; return the connection ids in order. */
async function collect(agent: KeepAliveAgent, get: (url: string) => Promise<string>): Promise<{ ids: string[] }> {
  const server = await startEchoServer();
  servers.push(server);
  const url = `http://127.0.0.1:${server.port}/`;
  const ids: string[] = [];
  for (let i = 0; i < REQUESTS; i++) ids.push(await get(url));
  const stats = agent.stats()[`http://127.0.0.1:${server.port}`];
  assert.equal(stats?.requests, REQUESTS);
  assert.ok((stats?.reused ?? 0) >= Math.ceil(0.99 * (REQUESTS - 1)), JSON.stringify(stats));
  return { ids };
}

function assertReuse(ids: string[]): number {
  const seen = new Set<string>([ids[0] ?? '']);
  let reused = 0;
  for (const id of ids.slice(1)) {
    if (seen.has(id)) reused++;
    seen.add(id);
  }
  assert.equal(ids.length, REQUESTS);
  assert.ok(reused >= Math.ceil(0.99 * (REQUESTS - 1)), `only ${reused} of ${REQUESTS - 1} requests reused a connection`);
  return reused;
}

describe('interop', () => {
  it('axios (httpAgent)', async (t) => {
    const agent = new KeepAliveAgent();
    const { ids } = await collect(agent, async (url) => {
      const res = await axios.get<string>(url, { httpAgent: agent, responseType: 'text' });
      assert.equal(res.status, 200);
      return String(res.headers['x-connection-id']);
    });
    t.diagnostic(`axios: ${assertReuse(ids)} of ${REQUESTS - 1} reused`);
    agent.destroy();
  });

  it('got (agent.http)', async (t) => {
    const agent = new KeepAliveAgent();
    const { ids } = await collect(agent, async (url) => {
      const res = await got(url, { agent: { http: agent }, retry: { limit: 0 } });
      assert.equal(res.statusCode, 200);
      return String(res.headers['x-connection-id']);
    });
    t.diagnostic(`got: ${assertReuse(ids)} of ${REQUESTS - 1} reused`);
    agent.destroy();
  });

  it('node-fetch (agent)', async (t) => {
    const agent = new KeepAliveAgent();
    const { ids } = await collect(agent, async (url) => {
      const res = await fetch(url, { agent });
      assert.equal(res.status, 200);
      await res.text();
      return res.headers.get('x-connection-id') ?? '';
    });
    t.diagnostic(`node-fetch: ${assertReuse(ids)} of ${REQUESTS - 1} reused`);
    agent.destroy();
  });
});

describe('interop: transparent retry of a GET whose reused socket died', () => {
  // The server reads the second request on every connection and closes without answering; the
  // agent re-sends the GET on a new connection, and each client sees only a normal response.
  const clients: Record<string, (url: string, agent: KeepAliveAgent) => Promise<{ status: number; id: string }>> = {
    axios: async (url, agent) => {
      const res = await axios.get<string>(url, { httpAgent: agent, responseType: 'text' });
      return { status: res.status, id: String(res.headers['x-connection-id']) };
    },
    got: async (url, agent) => {
      const res = await got(url, { agent: { http: agent }, retry: { limit: 0 } });
      return { status: res.statusCode, id: String(res.headers['x-connection-id']) };
    },
    'node-fetch': async (url, agent) => {
      const res = await fetch(url, { agent });
      await res.text();
      return { status: res.status, id: res.headers.get('x-connection-id') ?? '' };
    },
  };
  for (const [name, get] of Object.entries(clients)) {
    it(name, async () => {
      const server = await startRawServer({ handle: (req) => (req.requestOnConnection >= 2 ? { respond: false, how: 'destroy' } : { respond: true }) });
      servers.push(server);
      const agent = new KeepAliveAgent();
      const url = `http://127.0.0.1:${server.port}/`;
      const seen: string[] = [];
      for (let i = 0; i < 10; i++) {
        const r = await get(url, agent);
        assert.equal(r.status, 200);
        seen.push(r.id);
      }
      assert.deepEqual(seen, ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
      const stats = agent.stats()[`http://127.0.0.1:${server.port}`];
      assert.equal(stats?.retries, 9);
      assert.equal(stats?.retrySucceeded, 9);
      assert.equal(stats?.retryFailed, 0);
      agent.destroy();
    });
  }
});
