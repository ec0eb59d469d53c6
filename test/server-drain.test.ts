import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pool } from 'undici';
import { sleep } from './helpers/counting-clock.js';
import { openHandles, startServer } from './helpers/server-harness.js';
import { RawClient } from './helpers/server-raw-client.js';

test('drain: 200 requests in flight over 50 keep-alive connections all complete, 0 resets; idle ones close at once', async () => {
  const before = openHandles().filter((r) => r !== 'Timeout').length;
  // Responses are held until drain() has begun, so all 200 are in flight when it starts; then
  // each takes 0-500 ms more.
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let held = 0;
  const h = await startServer({ idleTimeoutMs: 60_000 }, (req, res, id) => {
    req.resume();
    const answer = (): void => {
      res.setHeader('x-connection-id', String(id));
      res.end('ok');
    };
    if (held++ < 10) answer(); // the 10 idle connections' first requests
    else void gate.then(() => setTimeout(answer, Math.floor(Math.random() * 500)));
  });
  // 10 idle keep-alive connections: each served one request, then left idle.
  const idle = Array.from({ length: 10 }, () => new RawClient(h.port));
  await Promise.all(idle.map((c) => c.get()));
  // 50 connections with 4 requests pipelined on each: 200 in flight at the server (undici
  // pipelines only requests marked non-blocking).
  const pool = new Pool(h.url, { connections: 50, pipelining: 4 });
  const results = Array.from({ length: 200 }, () =>
    pool.request({ path: '/', method: 'GET', blocking: false }).then(
      async (r) => ({ status: r.statusCode, connection: r.headers.connection, body: await r.body.text(), error: undefined as unknown }),
      (error: unknown) => ({ status: 0, connection: undefined, body: '', error }),
    ),
  );
  while (h.received() < 210) await sleep(5);
  const pre = h.policy.stats();
  assert.equal(pre.active, 50, JSON.stringify({ ...pre, requestsPerConnection: undefined }));

  const t0 = performance.now();
  const drained = h.policy.drain({ timeoutMs: 5_000 });
  open();
  const idleClosed = await Promise.all(idle.map((c) => c.closed));
  const idleMs = Math.max(...idleClosed.map((c) => c.at - t0));
  assert.ok(idleMs < 200, `idle connections closed ${idleMs.toFixed(0)} ms after drain()`);

  const all = await Promise.all(results);
  const errors = all.filter((r) => r.error !== undefined);
  assert.equal(errors.length, 0, `errors: ${errors.map((e) => String(e.error)).join('; ')}`);
  assert.equal(all.filter((r) => r.status === 200 && r.body === 'ok').length, 200);
  assert.equal(all.filter((r) => r.connection === 'close').length, 50, 'the last response of each connection said close');

  const result = await drained;
  const elapsed = performance.now() - t0;
  assert.ok(elapsed < 5_000, `drain took ${elapsed.toFixed(0)} ms`);
  assert.equal(result.connections, 60);
  assert.equal(result.closedIdle, 10);
  assert.equal(result.closedAfterResponse, 50);
  assert.equal(result.forced, 0);
  assert.equal(h.server.listening, false, 'stopped accepting');
  const s = h.policy.stats();
  assert.equal(s.open, 0);
  assert.equal(s.closes.drain, 60);
  assert.equal(s.requestsPerConnection.sum, 210);
  await pool.close();
  await h.close();
  await sleep(50);
  assert.ok(openHandles().filter((r) => r !== 'Timeout').length <= before, `left open: ${openHandles().join(', ')}`);
});

test('drain: spreadMs spreads the closes; timeoutMs force-closes a request that never ends', async () => {
  const h = await startServer({ idleTimeoutMs: 60_000 }, (req, res) => {
    req.resume();
    if (req.url === '/hang') return; // never answered
    res.end('ok');
  });
  const idle = Array.from({ length: 20 }, () => new RawClient(h.port));
  await Promise.all(idle.map((c) => c.get()));
  const hung = new RawClient(h.port);
  hung.write(RawClient.request('/hang'));
  while (h.received() < 21) await sleep(5);
  const t0 = performance.now();
  const result = await h.policy.drain({ timeoutMs: 1_200, spreadMs: 600 });
  const elapsed = performance.now() - t0;
  const closedAt = (await Promise.all(idle.map((c) => c.closed))).map((c) => c.at - t0).sort((a, b) => a - b);
  assert.ok((closedAt[0] as number) < 300, 'the first closes come early');
  assert.ok((closedAt[19] as number) > 300 && (closedAt[19] as number) < 700, `the last idle close at ${closedAt[19]?.toFixed(0)} ms, within spreadMs`);
  assert.equal(result.closedIdle, 20);
  assert.equal(result.forced, 1);
  assert.ok(elapsed >= 1_150 && elapsed < 1_500, `resolved at ${elapsed.toFixed(0)} ms (timeoutMs 1200)`);
  await hung.closed;
  await sleep(20);
  assert.equal(h.policy.stats().closes.drain_forced, 1);
  await h.close();
});
