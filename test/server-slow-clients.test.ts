import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sleep } from './helpers/counting-clock.js';
import { startServer } from './helpers/server-harness.js';
import { RawClient } from './helpers/server-raw-client.js';
import type { SlowClientsReport } from './helpers/server-slow-clients.js';

const SLOW = fileURLToPath(new URL('./helpers/server-slow-clients.js', import.meta.url));
const HEADERS_TIMEOUT_MS = 3_000;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] as number;
}

/** Latencies (ms) of sequential keep-alive requests for `forMs`. */
async function latencies(client: RawClient, forMs: number): Promise<number[]> {
  const out: number[] = [];
  const end = performance.now() + forMs;
  while (performance.now() < end) {
    const t0 = performance.now();
    const r = await client.get();
    out.push(performance.now() - t0);
    assert.equal(r.status, 200);
    await sleep(1);
  }
  return out;
}

test('1,000 slow-header clients: a normal client median latency at most 2x; each slow one gets 408 at headersTimeoutMs', async (t) => {
  const h = await startServer({ headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: 10_000, maxRequestsPerConnection: 0 });
  const normal = new RawClient(h.port);
  await latencies(normal, 300); // warm up
  const base = median(await latencies(normal, 1_000));

  // Server-side, exact: from accept to the close that follows the 408.
  const serverMs: number[] = [];
  h.policy.events.on('close', (conn, reason) => {
    if (reason === 'headers_timeout') serverMs.push(performance.now() - conn.openedAt);
  });
  const child = spawn(process.execPath, [SLOW, String(h.port), '1000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  const connected = new Promise<void>((resolve) =>
    child.stdout.on('data', (d: string) => {
      out += d;
      if (out.includes('connected\n')) resolve();
    }),
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    child.kill();
    normal.destroy();
    await h.close();
  });
  await connected;
  for (let i = 0; i < 100 && h.policy.stats().open < 1001; i++) await sleep(10); // accept queue
  await sleep(500); // a new connection counts as idle until its first bytesRead sample (checkMs 375)
  const opened = h.policy.stats();
  assert.ok(opened.open >= 1000, `slow connections open at the server: ${opened.open}`);
  assert.equal(opened.idle, 1, 'the slow ones are reading headers (active), not idle; only the normal client is idle');
  const loaded = median(await latencies(normal, 1_500));
  await exited;
  const report = JSON.parse(out.slice(out.indexOf('connected\n') + 10).trim()) as SlowClientsReport;

  const ratio = loaded / base;
  console.log(`# normal client median: ${base.toFixed(3)} ms alone, ${loaded.toFixed(3)} ms with 1,000 slow clients (${ratio.toFixed(2)}x)`);
  assert.ok(loaded <= 2 * base, `median latency ${loaded.toFixed(3)} ms vs ${base.toFixed(3)} ms alone`);
  assert.equal(report.connected, 1000);
  assert.equal(report.errors, 0);
  assert.equal(report.answered408, 1000, 'every slow client was answered 408');
  // The child times from its 'connect' event, which a busy child may see tens of ms late, so its
  // figures only bound the lateness; the server's own accept-to-close times bound both sides.
  console.log(`# client side: 408 after ${Math.min(...report.answerMs).toFixed(0)}..${Math.max(...report.answerMs).toFixed(0)} ms; server side: accept to close ${Math.min(...serverMs).toFixed(0)}..${Math.max(...serverMs).toFixed(0)} ms (headersTimeoutMs ${HEADERS_TIMEOUT_MS})`);
  assert.equal(serverMs.length, 1000);
  assert.equal(serverMs.filter((ms) => ms < HEADERS_TIMEOUT_MS - 15).length, 0, 'none answered before headersTimeoutMs (one 10 ms wheel tick of slack)');
  assert.equal(report.answerMs.filter((ms) => ms > HEADERS_TIMEOUT_MS + 500).length, 0, 'none answered later than headersTimeoutMs + 500 ms');
  await sleep(50);
  const s = h.policy.stats();
  assert.equal(s.closes.headers_timeout, 1000);
  assert.equal(s.open, 1, 'only the normal client is left');
  assert.equal((await normal.get()).status, 200);
});
