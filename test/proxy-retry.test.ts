/**
 * Retries that avoid a dying backend, with real backend processes:
 * - One of two backends SIGKILLed with GET, HEAD, PUT (no body) and POST (body written) in flight
 *   to it, 20 times: no idempotent request fails (each is tried again on the other backend, on a
 *   new connection), and no POST is delivered twice.
 * - A hung backend (SIGSTOP): an idempotent request is tried on the other backend at the response
 *   timeout (nginx's `proxy_next_upstream timeout`); a POST is not, and gets 504. The access log
 *   never shows more attempts than `retries.maxAttempts`.
 * - `retries.timeBudgetMs` stops a retry that would start after the budget.
 * - A client that goes away while waiting for a pool slot gets no connection dialled for it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startChildBackend } from './helpers/child-backend.js';
import type { ChildBackend } from './helpers/child-backend.js';
import { attempt, scratchDir, sleep, startProxy, waitUntil } from './helpers/proxy-harness.js';
import type { Outcome } from './helpers/proxy-harness.js';

function yaml(ports: readonly number[], extra: string, accessLog = 'off'): string {
  return `listeners:
  - name: main
    address: 127.0.0.1:0
    routes:
      - cluster: app
clusters:
  app:
    balancer: round-robin
    endpoints:
${ports.map((p) => `      - address: 127.0.0.1:${p}\n`).join('')}${extra}accessLog: { target: ${accessLog} }
`;
}

interface Sent {
  method: string;
  id: string;
  outcome: Outcome;
}

test('one of two backends SIGKILLed with requests in flight, 20 times: 0 idempotent failures, no POST delivered twice', { timeout: 90_000 }, async (t) => {
  const survivor = await startChildBackend('b', 20);
  t.after(() => survivor.close());
  let idempotentFailures: string[] = [];
  let postsFailed = 0;
  let postsOk = 0;
  for (let round = 0; round < 20; round += 1) {
    const victim: ChildBackend = await startChildBackend('a', 300);
    const proxy = await startProxy(yaml([victim.port, survivor.port], '    outlierDetection: { consecutive5xx: 0, consecutiveConnectFailures: 0 }\n'));
    try {
      const port = proxy.port();
      // Pooled connections to both backends first, so some requests go out on reused ones.
      await Promise.all([0, 1, 2, 3].map((i) => attempt(port, { path: `/warm${i}`, headers: { 'x-request-id': `w${round}-${i}` } })));
      const plan = ['GET', 'GET', 'GET', 'GET', 'HEAD', 'HEAD', 'PUT', 'PUT', 'POST', 'POST', 'POST', 'POST'];
      const sent: Promise<Sent>[] = plan.map(async (method, i) => {
        const id = `r${round}-${i}`;
        const body = method === 'POST' ? `id=${id}` : undefined;
        const outcome = await attempt(port, { method, path: `/${id}`, headers: { 'x-request-id': id }, ...(body === undefined ? {} : { body }), timeoutMs: 10_000 });
        return { method, id, outcome };
      });
      // Kill the victim once the batch has reached it (its requests are then in flight).
      const reached = await waitUntil(() => victim.received.filter((r) => r.id?.startsWith(`r${round}-`) === true).length >= 3, 5_000);
      assert.ok(reached !== undefined, 'requests reached the victim');
      await victim.kill();
      for (const s of await Promise.all(sent)) {
        const ok = s.outcome.ok && s.outcome.reply.status === 200;
        if (s.method === 'POST') {
          if (ok) postsOk += 1;
          else postsFailed += 1;
        } else if (!ok) idempotentFailures.push(`${s.method} ${s.id}: ${s.outcome.ok ? s.outcome.reply.status : s.outcome.error}`);
      }
      const deliveries = new Map<string, number>();
      for (const r of [...victim.received, ...survivor.received]) if (r.method === 'POST' && r.id !== null) deliveries.set(r.id, (deliveries.get(r.id) ?? 0) + 1);
      const twice = [...deliveries].filter(([, n]) => n > 1).map(([id]) => id);
      assert.deepEqual(twice, [], `round ${round}: POSTs delivered twice`);
    } finally {
      await proxy.close();
      await victim.close();
    }
    if (idempotentFailures.length > 0) break;
  }
  t.diagnostic(`POSTs: ${postsOk} answered, ${postsFailed} failed (written to the killed backend: not replayable)`);
  assert.deepEqual(idempotentFailures, [], 'idempotent requests that failed');
  idempotentFailures = [];
});

test('a hung backend (SIGSTOP): an idempotent request is tried on the other at the response timeout, a POST is not; attempts never exceed maxAttempts', { timeout: 30_000 }, async (t) => {
  const hung = await startChildBackend('a', 0);
  const fine = await startChildBackend('b', 0);
  const scratch = scratchDir('lifeline-retry-');
  const logFile = join(scratch.dir, 'access.log');
  const proxy = await startProxy(yaml([hung.port, fine.port], '    timeouts: { responseHeadersTimeoutMs: 400 }\n    retries: { maxAttempts: 2 }\n    outlierDetection: { consecutive5xx: 0, consecutiveConnectFailures: 0 }\n', logFile));
  t.after(async () => {
    hung.child.kill('SIGCONT');
    await proxy.close();
    await hung.close();
    await fine.close();
    scratch.remove();
  });
  const port = proxy.port();
  hung.child.kill('SIGSTOP');
  const started = performance.now();
  // Round robin: of two requests at once, one goes to the hung backend first.
  const gets = await Promise.all([attempt(port, { path: '/g1' }), attempt(port, { path: '/g2' })]);
  const tookMs = performance.now() - started;
  for (const g of gets) assert.equal(g.ok && g.reply.status, 200, JSON.stringify(g.ok ? g.reply.status : g.error));
  assert.ok(gets.some((g) => g.ok && g.reply.headers['x-backend'] === 'b'), 'answered by the other backend');
  assert.ok(tookMs >= 350 && tookMs < 2_000, `both answered after about one response timeout: ${tookMs.toFixed(0)} ms`);
  const posts = await Promise.all([attempt(port, { method: 'POST', path: '/p1', body: 'x' }), attempt(port, { method: 'POST', path: '/p2', body: 'y' })]);
  const statuses = posts.map((p) => (p.ok ? p.reply.status : 0)).sort();
  assert.deepEqual(statuses, [200, 504], 'the POST sent to the hung backend is not sent again');
  await sleep(50); // the access log is written on the next turn
  const causes = proxy.metrics.cluster('app').stats().rqRetryByCause;
  assert.ok((causes['response-timeout'] ?? 0) >= 1, `retries by cause: ${JSON.stringify(causes)}`);
  await proxy.close();
  const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { attempts: number; status: number; method: string; error?: string; errno?: string });
  assert.ok(lines.length >= 4, `${lines.length} access-log lines`);
  for (const l of lines) assert.ok(l.attempts <= 2, `attempts ${l.attempts} with maxAttempts 2`);
  assert.ok(lines.some((l) => l.method === 'GET' && l.attempts === 2 && l.status === 200), 'a GET took a second attempt');
  const timedOut = lines.find((l) => l.status === 504);
  assert.equal(timedOut?.error, 'ERR_UPSTREAM_RESPONSE_TIMEOUT');
  assert.equal(timedOut?.errno, 'ETIMEDOUT');
});

test('retries.timeBudgetMs: no retry starts after the budget', { timeout: 30_000 }, async (t) => {
  const hung = await startChildBackend('a', 0);
  const fine = await startChildBackend('b', 0);
  const proxy = await startProxy(yaml([hung.port, fine.port], '    timeouts: { responseHeadersTimeoutMs: 400 }\n    retries: { maxAttempts: 3, timeBudgetMs: 300 }\n    outlierDetection: { consecutive5xx: 0, consecutiveConnectFailures: 0 }\n'));
  t.after(async () => {
    hung.child.kill('SIGCONT');
    await proxy.close();
    await hung.close();
    await fine.close();
  });
  hung.child.kill('SIGSTOP');
  const results = await Promise.all([attempt(proxy.port(), { path: '/1' }), attempt(proxy.port(), { path: '/2' })]);
  const statuses = results.map((r) => (r.ok ? r.reply.status : 0)).sort();
  assert.deepEqual(statuses, [200, 504], 'the request that met the hung backend timed out past the budget and was not retried');
});

test('a client that goes away while waiting for a pool slot: no connection is dialled for it', { timeout: 30_000 }, async (t) => {
  // Each response says Connection: close, so the pool's one slot frees by a close: the moment a
  // pool dials for whoever waits next.
  let accepted = 0;
  let requests = 0;
  const backend = net.createServer((socket) => {
    accepted += 1;
    socket.on('error', () => undefined);
    socket.once('data', () => {
      requests += 1;
      setTimeout(() => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'), 300);
    });
  });
  backend.listen(0, '127.0.0.1');
  await new Promise((r) => backend.once('listening', r));
  const backendPort = (backend.address() as net.AddressInfo).port;
  const proxy = await startProxy(yaml([backendPort], '    pool: { maxConnectionsPerEndpoint: 1 }\n'));
  t.after(async () => {
    await proxy.close();
    backend.close();
  });
  const port = proxy.port();
  const first = attempt(port, { path: '/holds-the-slot' });
  await waitUntil(() => accepted >= 1, 2_000);
  // Ten clients ask, then hang up (RST: gone, not a half-close) while the only connection is busy.
  const quitters = Array.from({ length: 10 }, async (_, i) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise((r) => socket.once('connect', r));
    socket.write(`GET /quitter${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await sleep(50);
    socket.resetAndDestroy();
  });
  await Promise.all(quitters);
  const reply = await first;
  assert.equal(reply.ok && reply.reply.status, 200);
  await sleep(200);
  assert.equal(accepted, 1, 'no connection dialled for the clients that left');
  const after = await attempt(port, { path: '/after' });
  assert.equal(after.ok && after.reply.status, 200);
  assert.equal(accepted, 2, 'the next live request dials');
  assert.equal(requests, 2, 'only the two requests whose clients stayed reached the backend');
});
