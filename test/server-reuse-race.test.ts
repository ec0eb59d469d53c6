import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Client } from 'undici';
import { KeepAliveAgent } from '../src/http/client/index.js';
import { sleep } from './helpers/counting-clock.js';
import { startServer } from './helpers/server-harness.js';

/** Server: idle close at 2.5 s, hint `timeout=2`. Gaps between requests straddle the clients'
 * own expiry (hint - margin) and the server's close. */
const IDLE_MS = 2_500;
const GAPS = [0, 200, 700, 950, 1_050, 1_400, 1_600, 1_900, 2_100, 2_400, 2_600];
const LANES = 500;
const PER_LANE = 10; // 5,000 requests per client kind

interface Tally {
  requests: number;
  errors: string[];
  reused: number;
}

type Send = () => Promise<string>; // resolves with the x-connection-id

async function lane(send: Send, offset: number, tally: Tally): Promise<void> {
  let last: string | undefined;
  for (let i = 0; i < PER_LANE; i++) {
    await sleep(GAPS[(offset + i) % GAPS.length] as number);
    try {
      const id = await send();
      if (id === last) tally.reused += 1;
      last = id;
    } catch (error) {
      tally.errors.push(String(error));
    }
    tally.requests += 1;
  }
}

function viaAgent(url: string, agent: http.Agent): Send {
  return () =>
    new Promise((resolve, reject) => {
      http
        .get(url, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(String(res.headers['x-connection-id'])));
        })
        .on('error', reject);
    });
}

test('5,000 requests per client spaced around the idle timeout: 0 errors for clients that honour the hint', async () => {
  const h = await startServer({ idleTimeoutMs: IDLE_MS, hintMarginMs: 500, maxRequestsPerConnection: 0 });
  const kinds: Record<string, { send: Send; close: () => Promise<void> | void }[]> = {
    // lifeline's own agent (src/http/client): honours the hint minus keepAliveHintMarginMs.
    'lifeline KeepAliveAgent': Array.from({ length: LANES }, () => {
      const agent = new KeepAliveAgent({ maxSockets: 1 });
      return { send: viaAgent(`${h.url}/`, agent), close: () => agent.destroy() };
    }),
    // Node's agent honours the hint only when it has its own timeout (then hint - 1 s).
    'node http.Agent (timeout set)': Array.from({ length: LANES }, () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1, timeout: 60_000 });
      return { send: viaAgent(`${h.url}/`, agent), close: () => agent.destroy() };
    }),
    // undici 7 subtracts keepAliveTimeoutThreshold from the hint.
    'undici 7 Client': Array.from({ length: LANES }, () => {
      const client = new Client(h.url, { keepAliveTimeoutThreshold: 500 });
      return {
        send: async () => {
          const r = await client.request({ path: '/', method: 'GET' });
          await r.body.text();
          return String(r.headers['x-connection-id']);
        },
        close: () => client.close(),
      };
    }),
  };
  const tallies: Record<string, Tally> = {};
  await Promise.all(
    Object.entries(kinds).map(([kind, lanes]) => {
      const tally: Tally = { requests: 0, errors: [], reused: 0 };
      tallies[kind] = tally;
      return Promise.all(lanes.map((l, i) => lane(l.send, i, tally)));
    }),
  );
  for (const lanes of Object.values(kinds)) await Promise.all(lanes.map(async (l) => l.close()));
  for (const [kind, t] of Object.entries(tallies)) {
    console.log(`# ${kind}: ${t.requests} requests, ${t.errors.length} errors, ${t.reused} reused a connection`);
    assert.equal(t.requests, LANES * PER_LANE);
    assert.deepEqual(t.errors.slice(0, 3), [], `${kind}: ${t.errors.length} errors`);
    assert.ok(t.reused > t.requests / 10, `${kind} did reuse connections (${t.reused})`);
  }
  const s = h.policy.stats();
  console.log(`# server: ${s.accepted} connections, closes ${JSON.stringify(s.closes)}`);
  await h.close();
});
